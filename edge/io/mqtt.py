"""MQTT adapter: paho-mqtt 2 with MQTT 5, TLS and per-node credentials.

Publishes event batches (QoS 1) and the retained status; the last will marks
the node offline. Subscribes to the node's retained `config` topic. Every
paho callback runs on paho's network thread and is turned into a small
`LinkEvent` handed to `on_event`; the agent applies them on its own thread.
paho types never leave this module; it must not decide what to send.
"""

from __future__ import annotations

import contextlib
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hubsense.logs import get_logger
from hubsense.mqtt_url import parse_mqtt_url
from hubsense.node_config import NodeConfig
from hubsense.wire import StatusMessage, TopicKind, encode, node_topic

log = get_logger(__name__)

# PUBACK reason code "No matching subscribers" (MQTT 5, 3.4.2.1).
NO_MATCHING_SUBSCRIBERS = 0x10


@dataclass(frozen=True, slots=True)
class Connected:
    pass


@dataclass(frozen=True, slots=True)
class ConnectRefused:
    reason: str


@dataclass(frozen=True, slots=True)
class Disconnected:
    reason: str


@dataclass(frozen=True, slots=True)
class Acked:
    mid: int
    ok: bool
    reason: str


@dataclass(frozen=True, slots=True)
class ConfigReceived:
    payload: bytes


LinkEvent = Connected | ConnectRefused | Disconnected | Acked | ConfigReceived


def offline_status(node: str) -> bytes:
    return encode(StatusMessage(node=node, online=False))


def _describe_connect_error(error: BaseException | None) -> str:
    if error is None:
        return "connection failed"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS handshake failed: {error.verify_message or error.reason}"
    if isinstance(error, ssl.SSLError):
        return f"TLS handshake failed: {error.reason or error}"
    return f"{type(error).__name__}: {error}"


class MqttLink:
    """One paho client for the node's whole life; paho reconnects by itself."""

    def __init__(
        self,
        config: NodeConfig,
        on_event: Callable[[LinkEvent], None],
        max_in_flight: int,
        *,
        role: str = "edge",
    ) -> None:
        """`role` names the client id `hubsense-{role}-{node}`: the doctor uses its own so
        it never takes the running agent's session (and sets no last will)."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self._mqtt = mqtt
        self._config = config
        self._on_event = on_event
        self.events_topic = node_topic(config.site, config.node, TopicKind.EVENTS)
        self.status_topic = node_topic(config.site, config.node, TopicKind.STATUS)
        self.config_topic = node_topic(config.site, config.node, TopicKind.CONFIG)
        self.connected = False
        # Why the last connection attempt failed (a TLS handshake, a refused socket).
        self.last_error: str | None = None
        url = parse_mqtt_url(config.broker.url)
        self._url = url
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"hubsense-{role}-{config.node}",
            protocol=mqtt.MQTTv5,
        )
        username = config.broker.username or url.username
        if username:
            client.username_pw_set(username, config.broker.resolved_password())
        if url.tls:
            client.tls_set(
                ca_certs=str(config.broker.ca_file) if config.broker.ca_file else None,
                certfile=str(config.broker.client_cert_file)
                if config.broker.client_cert_file
                else None,
                keyfile=str(config.broker.client_key_file)
                if config.broker.client_key_file
                else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        if role == "edge":  # only the agent's disappearance means the node is offline
            client.will_set(self.status_topic, offline_status(config.node), qos=1, retain=True)
        # Our own window is the real bound; paho's must not be the smaller one.
        client.max_inflight_messages_set(max_in_flight + 2)
        client.reconnect_delay_set(min_delay=1, max_delay=config.broker.reconnect_max_s)
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_connect_fail = self._connect_failed
        client.on_publish = self._published
        client.on_message = self._message
        self._client = client

    def start(self) -> None:
        """Connect in the background; paho keeps retrying until `stop`."""
        self._client.connect_async(self._url.host, self._url.port, self._config.broker.keepalive_s)
        self._client.loop_start()
        log.info("mqtt_connecting", broker=self._url.redacted())

    def _connected(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.last_error = None
        if reason.is_failure:
            log.error("mqtt_connect_refused", reason=str(reason))
            self._on_event(ConnectRefused(str(reason)))
            return
        self.connected = True
        client.subscribe(self.config_topic, qos=1)
        log.info("mqtt_connected", broker=self._url.redacted())
        self._on_event(Connected())

    def _connect_failed(self, client: Any, userdata: Any) -> None:
        # paho calls this inside its `except OSError` around connect, without the error:
        # the exception being handled is the reason (ssl.SSLError for a bad handshake).
        error = sys.exc_info()[1]
        reason = _describe_connect_error(error)
        if reason != self.last_error:  # once per distinct reason, not on every retry
            log.error(
                "mqtt_connect_failed",
                broker=self._url.redacted(),
                tls=isinstance(error, ssl.SSLError),
                reason=reason,
                hint="wrong CA, wrong host name or a man in the middle"
                if isinstance(error, ssl.SSLError)
                else "check the broker address and that it is up",
            )
        self.last_error = reason

    def _disconnected(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        was = self.connected
        self.connected = False
        if was:
            log.warning("mqtt_disconnected", reason=str(reason))
        self._on_event(Disconnected(str(reason)))

    def _published(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        # 0x10 is a success code in MQTT 5, but it means the broker dropped the message: no
        # subscription matched. Mosquitto 2.0.11 does not restore shared subscriptions after
        # a restart, so until ingest resubscribes our events would be lost: keep them.
        delivered = not reason.is_failure and reason.value != NO_MATCHING_SUBSCRIBERS
        self._on_event(Acked(mid=mid, ok=delivered, reason=str(reason)))

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        if message.topic == self.config_topic:
            self._on_event(ConfigReceived(bytes(message.payload)))

    def publish_events(self, payload: bytes) -> int | None:
        """Publish one batch (QoS 1); its message id, or None when not connected."""
        if not self.connected:
            return None
        info = self._client.publish(self.events_topic, payload, qos=1)
        if info.rc != self._mqtt.MQTT_ERR_SUCCESS:
            # paho queued it anyway; it will send it on reconnect and we get the ack.
            log.info("mqtt_publish_queued", rc=info.rc, mid=info.mid)
        return int(info.mid)

    def publish_status(self, payload: bytes) -> None:
        if self.connected:
            self._client.publish(self.status_topic, payload, qos=1, retain=True)

    def stop(self, timeout_s: float = 2.0) -> None:
        """Mark the node offline (a clean stop is not a lost node) and disconnect."""
        if self.connected:
            info = self._client.publish(
                self.status_topic, offline_status(self._config.node), qos=1, retain=True
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout_s)
        self._client.disconnect()
        self._client.loop_stop()
