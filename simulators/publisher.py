"""The paho adapter: one MQTT 5 client per virtual node (client id `sim-{node}`).

The only simulator module that imports paho; its types never leave it.
Events go out at QoS 1 with a bounded window of unacknowledged publishes:
paho gives every queued QoS 1 message a packet id and reuses them after
65,535, so an unbounded backfill would lose messages. The last will sets the
retained status offline when the connection dies without a DISCONNECT.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import deque

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hubsense.errors import ServiceError
from hubsense.logs import get_logger
from hubsense.mqtt_url import MqttUrl
from hubsense.wire import TopicKind, node_topic

log = get_logger(__name__)

# Unacked QoS 1 publishes per client: enough to keep a local broker busy, far below 65,535.
WINDOW = 500
ACK_TIMEOUT_S = 60.0


class NodeLink:
    """A connected node: publish events and status; close cleanly or be killed."""

    def __init__(self, url: MqttUrl, site: str, node: str, offline: bytes, window: int = WINDOW):
        self.url = url
        self.node = node
        self.events_topic = node_topic(site, node, TopicKind.EVENTS)
        self.status_topic = node_topic(site, node, TopicKind.STATUS)
        self.window = window
        self.messages = 0
        self._offline = offline
        self._inflight: deque[mqtt.MQTTMessageInfo] = deque()
        self._connected = threading.Event()
        self._refused: str | None = None
        self._client: mqtt.Client | None = None

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"sim-{self.node}",
            protocol=mqtt.MQTTv5,
        )
        if self.url.username:
            client.username_pw_set(self.url.username, self.url.password)
        if self.url.tls:
            client.tls_set()
        client.will_set(self.status_topic, self._offline, qos=1, retain=True)
        client.max_inflight_messages_set(self.window)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            self._refused = str(reason_code)
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        self._connected.clear()
        log.debug("sim_node_disconnected", node=self.node, reason=str(reason_code))

    def connect(self, timeout_s: float = 10.0) -> None:
        """Connect and wait for the CONNACK; a ServiceError says why it failed."""
        self._connected.clear()
        self._refused = None
        # A fresh client each time: paho cannot reuse one whose socket kill() closed.
        self._client = self._make_client()
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 3600  # QoS 1 in flight survives a broker restart
        try:
            self._client.connect(
                self.url.host, self.url.port, keepalive=30, clean_start=False, properties=properties
            )
        except OSError as error:
            self._client = None
            why = error.strerror or str(error)
            raise ServiceError(
                f"MQTT broker {self.url.redacted()}: cannot connect: {why}"
            ) from error
        self._client.loop_start()
        if not self._connected.wait(timeout_s) or self._refused:
            self._client.loop_stop()
            self._client = None
            why = self._refused or f"no CONNACK within {timeout_s:g} s"
            raise ServiceError(f"MQTT broker {self.url.redacted()}: {why}")

    @property
    def is_open(self) -> bool:
        """Connected (or reconnecting after a broker hiccup) and not closed or killed by us."""
        return self._client is not None

    @property
    def client(self) -> mqtt.Client:
        if self._client is None:
            raise ServiceError(f"MQTT: node {self.node} is not connected")
        return self._client

    def publish_events(self, payload: bytes) -> None:
        """Publish one events message at QoS 1, waiting when the window is full."""
        while len(self._inflight) >= self.window:
            self._wait(self._inflight.popleft())
        self._inflight.append(self.client.publish(self.events_topic, payload, qos=1))
        self.messages += 1

    def publish_status(self, payload: bytes) -> None:
        self._inflight.append(self.client.publish(self.status_topic, payload, qos=1, retain=True))

    def flush(self) -> None:
        """Wait until the broker acknowledged everything published so far."""
        while self._inflight:
            self._wait(self._inflight.popleft())

    def close(self) -> None:
        """Clean shutdown: offline status, wait for acks, DISCONNECT (no will)."""
        self.publish_status(self._offline)
        self.flush()
        self.client.disconnect()
        self.client.loop_stop()
        self._client = None

    def kill(self) -> None:
        """Drop the TCP connection without DISCONNECT (a power cut): the broker sends the will."""
        self.client.loop_stop()
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):  # already gone; the broker notices either way
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._inflight.clear()
        self._client = None

    def _wait(self, info: mqtt.MQTTMessageInfo) -> None:
        deadline = time.monotonic() + ACK_TIMEOUT_S
        while not _acked(info):
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"MQTT broker {self.url.redacted()}: no PUBACK for {ACK_TIMEOUT_S:g} s "
                    f"(node {self.node})"
                )
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                info.wait_for_publish(timeout=1.0)
            else:
                time.sleep(0.05)


def _acked(info: mqtt.MQTTMessageInfo) -> bool:
    """True once the broker acknowledged the message.

    A QoS 1 message published while disconnected keeps rc NO_CONN even after paho
    resends it on reconnect and the broker acks it (paho 2.2), and `is_published()`
    raises for it; only the private flag tells, so read it for that case.
    """
    if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
        raise ServiceError("MQTT client queue full: message not queued")
    return bool(info._published)
