"""The paho-mqtt adapter of ingest: an MQTT 5 persistent-session subscriber with manual acks.

paho types never leave this module. One network thread runs paho's loop, puts
each received message on a queue as a `Delivery`, and sends the acks the
service hands back. Acks are sent from that same thread and only for messages
received on the current connection: after a reconnect the broker redelivers
every unacked message under its old packet id, and an ack for a previous
connection's packet id could otherwise acknowledge a different, uncommitted
message. Unacked messages are never lost: the broker redelivers them (to this
client id: the session outlives the connection by `session_expiry_s`).
Must not decode or write anything.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from hubsense.ingest.mqtt_packets import PUBACK, puback_batches, split_publish

from hubsense.logs import get_logger
from hubsense.mqtt_url import MqttUrl

log = get_logger(__name__)

# Idle select timeout of the network loop: bounds how long a queued ack waits to be sent.
_LOOP_TIMEOUT_S = 0.005
# Retry fast at first: Mosquitto 2.0.11 does not persist shared subscriptions, so after a
# broker restart nothing reaches the group until a worker has subscribed again.
_RECONNECT_MIN_S = 0.1
_RECONNECT_MAX_S = 5.0
# Packets read per burst before acks are sent again and the service gets the messages.
_BURST_PACKETS = 500


@dataclass(frozen=True, slots=True)
class Delivery:
    """One received message; `ack` is an opaque token to hand back after commit."""

    topic: str
    payload: bytes
    ack: tuple[int, int, int]  # (connection generation, packet id, qos)


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    client_id: str
    subscriptions: tuple[str, ...]
    receive_maximum: int
    session_expiry_s: int
    keepalive_s: int = 30
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    # Retiring a worker id: unsubscribe (no new share), drain the session, end it on close.
    retire: bool = False


class MqttConsumer:
    """Connect, subscribe at QoS 1, hand out deliveries, ack them on request."""

    def __init__(self, url: MqttUrl, options: ConsumerOptions) -> None:
        self.url = url
        self.options = options
        # Lists of deliveries: one hand-off per network read burst, not per message.
        self.deliveries: queue.SimpleQueue[list[Delivery]] = queue.SimpleQueue()
        self._inbox: list[Delivery] = []
        self._acks: queue.SimpleQueue[list[tuple[int, int, int]]] = queue.SimpleQueue()
        self._generation = 0
        self._connected = threading.Event()
        self._closing = threading.Event()
        # Set once the broker granted the subscriptions (SUBACK) on some connection.
        self.subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = self._make_client()
        self.stale_acks = 0
        # Messages received and not yet handed back by the service (ours to bound).
        self.held = 0

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Start the network thread; it connects and reconnects on its own."""
        self._thread = threading.Thread(target=self._run, name="ingest-mqtt", daemon=True)
        self._thread.start()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def get(self, timeout_s: float) -> list[Delivery]:
        """The next burst of received messages, or [] after `timeout_s` without any."""
        try:
            if timeout_s > 0:
                return self.deliveries.get(timeout=timeout_s)
            return self.deliveries.get_nowait()
        except queue.Empty:
            return []

    def ack(self, tokens: list[Any]) -> None:
        """Acknowledge committed messages (sent by the network thread, in order)."""
        if tokens:
            self._acks.put(tokens)

    def wake(self) -> None:
        """Make a waiting `get` return now (with no messages)."""
        self.deliveries.put([])

    def close(self, timeout_s: float = 10.0) -> None:
        """Send the queued acks, disconnect cleanly and stop the network thread."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- network thread ------------------------------------------------------------

    def _make_client(self) -> Any:
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

        client = _client_class()(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.options.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        username = self.url.username or self.options.username
        password = self.url.password or self.options.password
        if username:
            client.username_pw_set(username, password)
        if self.url.tls:
            client.tls_set(ca_certs=self.options.ca_file)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.fast_publish = self._on_publish_fast
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        return client

    def _connect_properties(self) -> Any:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.options.session_expiry_s
        # Bounds the broker's in-flight window to us, so a reconnect cannot flood ingest.
        properties.ReceiveMaximum = self.options.receive_maximum
        return properties

    def _disconnect_properties(self) -> Any:
        if not self.options.retire:
            return None
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        properties = Properties(PacketTypes.DISCONNECT)  # type: ignore[no-untyped-call]
        # MQTT 5: a session may shorten its expiry on DISCONNECT; 0 ends it now.
        properties.SessionExpiryInterval = 0
        return properties

    def _run(self) -> None:
        delay_s = _RECONNECT_MIN_S
        first = True
        while not self._closing.is_set():
            if not self._connected.is_set() and self._client.socket() is None:
                try:
                    if first:
                        self._client.connect(
                            self.url.host,
                            self.url.port,
                            self.options.keepalive_s,
                            clean_start=False,
                            properties=self._connect_properties(),
                        )
                        first = False
                    else:
                        self._client.reconnect()
                except OSError as error:
                    log.warning(
                        "mqtt_connect_failed",
                        broker=self.url.redacted(),
                        error=str(error),
                        retry_in_s=round(delay_s, 2),
                    )
                    self._closing.wait(delay_s)
                    delay_s = min(delay_s * 1.5, _RECONNECT_MAX_S)
                    continue
            if self.held < self.options.receive_maximum:
                rc = self._client.loop(timeout=_LOOP_TIMEOUT_S)
                if rc == 0:
                    rc = self._read_burst()
            else:
                rc = self._loop_paused()
            if self._inbox:
                self.deliveries.put(self._inbox)
                self._inbox = []
            self._send_acks()
            if rc != 0:
                self._closing.wait(delay_s)
                delay_s = min(delay_s * 1.5, _RECONNECT_MAX_S)
            elif self._connected.is_set():
                delay_s = _RECONNECT_MIN_S
        self._shutdown()

    def _read_burst(self) -> int:
        """Read what is already buffered: paho's loop() reads one packet per select()."""
        for _ in range(min(_BURST_PACKETS, self.options.receive_maximum - self.held)):
            before = len(self._inbox)
            rc = self._client.loop_read()
            if rc != 0 or len(self._inbox) == before:
                return int(rc)
        return 0

    def _shutdown(self) -> None:
        self._send_acks()
        if self._client.socket() is not None:
            self._client.disconnect(properties=self._disconnect_properties())
            deadline = time.monotonic() + 5.0
            # Let paho write the acks and the DISCONNECT before the socket closes.
            while self._client.socket() is not None and time.monotonic() < deadline:
                if self._client.loop(timeout=0.05) != 0:
                    break
        self._connected.clear()
        # paho closes its wake-up socket pair only when the client is garbage-collected;
        # close it now so a stopped consumer holds no sockets.
        release = getattr(self._client, "_reset_sockets", None)
        if release is not None:
            release()

    def _loop_paused(self) -> int:
        """Our window is full: write (acks, pings) and keep time, but read nothing.

        The receive maximum should stop the broker at the window, but Mosquitto 2.0.11
        keeps to it only until the first acks (tested here: after 10 acks with a window of
        10 it sent the other 90 queued messages at once), so ingest enforces its window
        itself: unread bytes stay in the TCP buffers and TCP holds the broker back.
        """
        if self._client.socket() is None:
            return 4  # MQTT_ERR_NO_CONN
        rc = int(self._client.loop_write()) if self._client.want_write() else 0
        if rc == 0:
            rc = int(self._client.loop_misc())
        try:
            tokens = self._acks.get(timeout=_LOOP_TIMEOUT_S)
        except queue.Empty:
            return rc
        self._release(tokens)
        return rc

    def _send_acks(self) -> None:
        while True:
            try:
                tokens = self._acks.get_nowait()
            except queue.Empty:
                return
            self._release(tokens)

    def _release(self, tokens: list[tuple[int, int, int]]) -> None:
        """Ack what the service committed; every token returned frees a place in the window."""
        self.held -= len(tokens)
        current = self._generation if self._connected.is_set() else -1
        mids = [mid for generation, mid, qos in tokens if generation == current and qos == 1]
        # From an earlier connection: the broker redelivers them, dedupe absorbs them.
        self.stale_acks += sum(1 for generation, _, _ in tokens if generation != current)
        self._puback(mids)

    def _puback(self, mids: list[int]) -> None:
        """Acknowledge QoS 1 messages; many PUBACKs go out as one write when paho allows."""
        queue_packet = getattr(self._client, "_packet_queue", None)
        if queue_packet is None:  # a paho without it: one ack at a time
            for mid in mids:
                self._client.ack(mid, 1)
            return
        # The bytes are exactly paho's own PUBACKs (0x40, length 2, packet id) back to back;
        # paho writes one packet per send(), so per-message acks cost a syscall each.
        for packet in puback_batches(mids):
            queue_packet(PUBACK, packet, 0, 1)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("mqtt_connect_refused", broker=self.url.redacted(), reason=str(reason))
            return
        self._generation += 1
        self._connected.set()
        # MQTT 5 (4.8.2) sends no retained messages to a shared subscription; Mosquitto
        # 2.0.11 does, so every (re)subscribe would replay every node's retained status.
        # Persistent sessions already queue what we missed, so ask for none.
        from paho.mqtt.subscribeoptions import SubscribeOptions

        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
        topics = [(topic, options) for topic in self.options.subscriptions]
        if self.options.retire:
            client.unsubscribe(list(self.options.subscriptions))
        else:
            client.subscribe(topics)
        log.info(
            "mqtt_connected",
            broker=self.url.redacted(),
            client_id=self.options.client_id,
            session_present=bool(flags.session_present),
            generation=self._generation,
        )

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        failed = [str(reason) for reason in reasons if reason.is_failure]
        if failed:
            log.error("mqtt_subscribe_refused", reasons=failed)
            return
        log.info("mqtt_subscribed", topics=list(self.options.subscriptions))
        self.subscribed.set()

    def _on_unsubscribe(
        self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any
    ) -> None:
        log.info("mqtt_unsubscribed", topics=list(self.options.subscriptions), retiring=True)
        self.subscribed.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected and not self._closing.is_set():
            log.warning("mqtt_connection_lost", broker=self.url.redacted(), reason=str(reason))

    def _on_publish_fast(self, topic: bytes, payload: bytes, mid: int) -> None:
        try:
            text = topic.decode("utf-8")
        except UnicodeDecodeError:
            text = "<topic with invalid UTF-8>"
        self._inbox.append(Delivery(text, payload, (self._generation, mid, 1)))
        self.held += 1

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = "<topic with invalid UTF-8>"
        self._inbox.append(
            Delivery(topic, message.payload, (self._generation, message.mid, message.qos))
        )
        self.held += 1


@functools.cache
def _client_class() -> type:
    """paho's Client with a fast path for the one packet ingest receives by the thousand.

    Measured here: paho spends ~40 µs of CPU per received QoS 1 message in MQTT 5, half
    of it building a Properties object (two dict literals, 27 hasattr calls) and an
    MQTTMessage, then matching topic callbacks. For a QoS 1 PUBLISH with manual acks,
    this reads topic, packet id and payload straight from paho's packet buffer, skips the
    property block (ingest uses no publish properties) and hands them to `fast_publish`.
    Anything else, or a paho whose internals differ, takes paho's own path.
    """
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion

    class FastPublishClient(mqtt.Client):
        fast_publish: Any = None

        def _handle_publish(self) -> Any:
            in_packet = getattr(self, "_in_packet", None)
            if self.fast_publish is None or not isinstance(in_packet, dict):
                return super()._handle_publish()
            header = in_packet.get("command", 0)
            if (header & 0x06) != 0x02 or not getattr(self, "_manual_ack", False):
                return super()._handle_publish()
            if getattr(self, "_protocol", None) != MQTTProtocolVersion.MQTTv5:
                return super()._handle_publish()
            decoded = split_publish(in_packet["packet"])
            if decoded is None:
                return super()._handle_publish()
            self.fast_publish(*decoded)
            return MQTTErrorCode.MQTT_ERR_SUCCESS

    return FastPublishClient
