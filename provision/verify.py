"""`provision verify`: connect to the real broker as a node and prove what it may and may not do.

Each probe uses its own connection, because Mosquitto 2.0.11 answers a denied
QoS 1 publish with PUBACK 0x87 (Not authorized) and then drops the client.
A denial counts only when the probe is also *not delivered* to a client that
would see it (ingest's user for events, the node itself for config): the
reason code alone is not proof. Probes carry a random nonce and are
`{"verify": …}` JSON; ingest dead-letters the one allowed events probe as
`invalid_schema`, and the edge agent ignores the config probe as invalid.
paho types stay in this module; every client runs its network loop on the
calling thread (paho is not safe with writes from two threads on one TLS socket).
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubsense.broker_identity import doctor_username
from hubsense.checks import Check, Status
from hubsense.mqtt_url import MqttUrl
from hubsense.wire import TOPIC_ROOT, TopicKind, node_topic

WAIT_S = 3.0
# How long to watch for a probe that must not arrive; delivery here takes milliseconds.
SILENCE_S = 1.0
NOT_AUTHORIZED = 0x87
PROBE_NODE = "verify-probe"


@dataclass(frozen=True, slots=True)
class Login:
    username: str
    password: str


@dataclass
class _Outcome:
    connack: str | None = None
    connack_ok: bool = False
    disconnected: str | None = None
    pubacks: dict[int, tuple[int, str]] = field(default_factory=dict)
    subacks: dict[int, list[str]] = field(default_factory=dict)
    messages: list[tuple[str, bytes]] = field(default_factory=list)


class ProbeClient:
    """One MQTT 5 connection whose loop runs on the caller's thread, step by step."""

    def __init__(self, url: MqttUrl, login: Login, ca_file: Path | None, tag: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.url = url
        self._ca_file = ca_file
        self.out = _Outcome()
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"hubsense-verify-{tag}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if login.username:  # an empty username connects anonymously
            client.username_pw_set(login.username, login.password)
        if url.tls:
            client.tls_set(ca_certs=str(ca_file) if ca_file else None, cert_reqs=ssl.CERT_REQUIRED)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self.out.connack, self.out.connack_ok = str(reason), not reason.is_failure

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.out.disconnected = str(reason)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self.out.pubacks[mid] = (int(reason.value), str(reason))

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        self.out.subacks[mid] = [str(reason) for reason in reasons]

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self.out.messages.append((message.topic, bytes(message.payload)))

    def pump(self, until: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
        deadline = time.monotonic() + timeout_s
        while not until():
            if self.out.disconnected is not None or time.monotonic() > deadline:
                return until()
            self._client.loop(0.05)
        return True

    def connect(self) -> None:
        """Open the socket and TLS (ssl.SSLError, OSError propagate), then wait for CONNACK."""
        if self.url.tls:
            check_tls(self.url, self._ca_file)
        self._client.connect(self.url.host, self.url.port, keepalive=30)
        self.pump(lambda: self.out.connack is not None)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> tuple[int, str] | None:
        """QoS 1 publish; the PUBACK (code, text), or None when the broker dropped us first."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        self.pump(lambda: info.mid in self.out.pubacks)
        return self.out.pubacks.get(info.mid)

    def subscribe(self, topic: str) -> list[str]:
        _, mid = self._client.subscribe(topic, qos=1)
        if mid is None:  # not connected
            return []
        self.pump(lambda: mid in self.out.subacks)
        return self.out.subacks.get(mid, [])

    def listen(self, seconds: float) -> None:
        self.pump(lambda: False, seconds)

    def close(self) -> None:
        if self.out.disconnected is None:
            self._client.disconnect()
            self._client.loop(0.05)


def check_tls(url: MqttUrl, ca_file: Path | None, timeout_s: float = WAIT_S) -> None:
    """Handshake once with our own socket, hostname checked, and close it.

    paho leaves the socket of a failed handshake open; this way a wrong CA is
    reported as an ssl.SSLError and nothing leaks.
    """
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    with (
        socket.create_connection((url.host, url.port), timeout=timeout_s) as raw,
        context.wrap_socket(raw, server_hostname=url.host),
    ):
        pass


def probe_payload(nonce: str) -> bytes:
    return json.dumps({"verify": "hubsense provision verify", "nonce": nonce}).encode()


@dataclass(frozen=True, slots=True)
class VerifyTarget:
    """Who to test (the node's own login and CA) and who watches (ingest's and the API's)."""

    site: str
    node: str
    url: MqttUrl
    node_login: Login
    node_ca: Path | None
    ingest_login: Login
    api_login: Login
    server_ca: Path | None


class Verifier:
    def __init__(self, target: VerifyTarget) -> None:
        self.t = target
        self.checks: list[Check] = []

    def _client(self, login: Login, ca: Path | None, tag: str) -> ProbeClient:
        client = ProbeClient(self.t.url, login, ca, tag)
        client.connect()
        if not client.out.connack_ok:
            raise ConnectionRefusedError(f"{login.username}: {client.out.connack or 'no CONNACK'}")
        return client

    def _add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, Status.PASS if ok else Status.FAIL, detail))
        return ok

    def run(self) -> list[Check]:
        if self._connect():
            self._publish_own_events()
            self._config_reads()
            self._denied_publish(
                "publish as another node", node_topic(self.t.site, PROBE_NODE, TopicKind.EVENTS)
            )
            self._denied_publish(
                "write its own config", node_topic(self.t.site, self.t.node, TopicKind.CONFIG)
            )
        return self.checks

    def _connect(self) -> bool:
        who = self.t.node_login.username
        client = ProbeClient(self.t.url, self.t.node_login, self.t.node_ca, "node")
        try:
            client.connect()
        except ssl.SSLError as error:
            self._add("TLS: broker certificate trusted", False, f"{error.reason or error}")
            return self._skip_rest(credentials=True)
        except OSError as error:
            self._add("broker reachable", False, f"{self.t.url.redacted()}: {error}")
            return self._skip_rest(credentials=True)
        if self.t.url.tls:
            self._add(
                "TLS: broker certificate trusted", True, f"{self.t.url.host}, CA of the bundle"
            )
        ok = client.out.connack_ok
        self._add(
            "credentials accepted",
            ok,
            f"as {who}" if ok else f"{client.out.connack or 'no CONNACK'}",
        )
        client.close()
        return ok or self._skip_rest()

    def _skip_rest(self, credentials: bool = False) -> bool:
        if credentials:
            self.checks.append(Check("credentials accepted", Status.SKIP, "not connected"))
        for name in (
            "publish own events: delivered",
            "read own config: delivered",
            "read another node's config: refused",
            "publish as another node: refused",
            "write its own config: refused",
        ):
            self.checks.append(Check(name, Status.SKIP, "not connected"))
        return False

    def _publish_own_events(self) -> None:
        nonce = secrets.token_hex(8)
        topic = node_topic(self.t.site, self.t.node, TopicKind.EVENTS)
        watcher = self._client(self.t.ingest_login, self.t.server_ca, "ingest")
        watcher.subscribe(topic)
        node = self._client(self.t.node_login, self.t.node_ca, "node")
        ack = node.publish(topic, probe_payload(nonce))
        got = watcher.pump(lambda: any(nonce.encode() in p for _, p in watcher.out.messages))
        node.close()
        watcher.close()
        self._add(
            "publish own events: delivered",
            ack is not None and ack[0] < 0x80 and got,
            f"PUBACK {ack[1] if ack else 'none'}; ingest user {'got' if got else 'did not get'} it",
        )

    def _config_reads(self) -> None:
        own = node_topic(self.t.site, self.t.node, TopicKind.CONFIG)
        other = node_topic(self.t.site, PROBE_NODE, TopicKind.CONFIG)
        nonce_own, nonce_other = secrets.token_hex(8), secrets.token_hex(8)
        node = self._client(self.t.node_login, self.t.node_ca, "node-sub")
        node.subscribe(f"{TOPIC_ROOT}/#")
        api = self._client(self.t.api_login, self.t.server_ca, "api")
        api.publish(other, probe_payload(nonce_other))
        api.publish(own, probe_payload(nonce_own))
        api.close()
        got_own = node.pump(lambda: any(nonce_own.encode() in p for _, p in node.out.messages))
        node.listen(SILENCE_S)
        node.close()
        foreign = sorted({topic for topic, _ in node.out.messages if topic != own})
        self._add("read own config: delivered", got_own, own)
        self._add(
            "read another node's config: refused",
            not foreign,
            "subscribed to hubsense/v1/#: only its own config arrived"
            if not foreign
            else f"also received {', '.join(foreign)}",
        )

    def _denied_publish(self, name: str, topic: str) -> None:
        nonce = secrets.token_hex(8)
        node_watch = topic.endswith("/config")
        # The node's doctor login watches its config: on the nodes' listener a client id is
        # the username, so a second connection as the node would end the first.
        doctor = Login(doctor_username(self.t.node_login.username), self.t.node_login.password)
        watcher = (
            self._client(doctor, self.t.node_ca, "node-watch")
            if node_watch
            else self._client(self.t.ingest_login, self.t.server_ca, "watch")
        )
        watcher.subscribe(topic)
        node = self._client(self.t.node_login, self.t.node_ca, "node")
        ack = node.publish(topic, probe_payload(nonce))
        dropped = node.out.disconnected is not None
        node.close()
        watcher.listen(SILENCE_S)
        watcher.close()
        delivered = any(nonce.encode() in p for _, p in watcher.out.messages)
        refused = (ack is not None and ack[0] == NOT_AUTHORIZED) or (ack is None and dropped)
        answer = f"PUBACK {ack[1]}" if ack else "connection dropped by the broker"
        self._add(
            f"{name}: refused",
            refused and not delivered,
            f"{topic}: {answer}; {'DELIVERED' if delivered else 'not delivered'}",
        )


def verify(target: VerifyTarget) -> list[Check]:
    return Verifier(target).run()
