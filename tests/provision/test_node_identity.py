"""Node identity on the provisioned broker: one node's credentials cannot take another's session.

MQTT lets a client that connects with a client id already in use take that session over:
the broker drops the first connection. With per-node passwords alone, node B (its own
valid secret) connecting as `hubsense-edge-pi-a` would throw pi-a off the broker, and
the two would keep throwing each other off as each reconnects. These tests use real
paho clients, each with its network loop in its own thread, against the Mosquitto that
`provision broker` configures.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hubsense.edge.doctor_broker import check_broker
from hubsense.provision.acl import INGEST_USER
from hubsense.provision.verify import Login
from paho.mqtt.enums import CallbackAPIVersion
from provision_helpers import SecuredBroker

from hubsense.broker_identity import doctor_username
from hubsense.checks import Status
from hubsense.mqtt_url import MqttUrl
from hubsense.node_config import NodeConfig
from hubsense.wire import TopicKind, node_topic

pytestmark = pytest.mark.service

PI_A_EVENTS = node_topic("hq", "pi-a", TopicKind.EVENTS)


class LiveClient:
    """A paho client with its loop in a thread that records connects, drops and messages."""

    def __init__(self, url: MqttUrl, login: Login, client_id: str, ca_file: Path) -> None:
        self.connects: list[str] = []
        self.disconnects: list[str] = []
        self.messages: list[tuple[str, bytes]] = []
        self.acks: dict[int, int] = {}
        self._changed = threading.Condition()
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        client.username_pw_set(login.username, login.password)
        if url.tls:
            client.tls_set(ca_certs=str(ca_file))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        self.client = client
        client.connect(url.host, url.port, keepalive=30)
        client.loop_start()
        self.wait(lambda: bool(self.connects), "CONNACK")

    def _note(self, what: list[Any], item: Any) -> None:
        with self._changed:
            what.append(item)
            self._changed.notify_all()

    def _on_connect(self, c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        self._note(self.connects, str(reason))

    def _on_disconnect(self, c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        self._note(self.disconnects, str(reason))

    def _on_message(self, c: Any, u: Any, message: Any) -> None:
        self._note(self.messages, (message.topic, bytes(message.payload)))

    def _on_publish(self, c: Any, u: Any, mid: int, reason: Any, props: Any) -> None:
        with self._changed:
            self.acks[mid] = int(reason.value)
            self._changed.notify_all()

    def wait(self, until: Any, what: str, timeout_s: float = 10.0) -> None:
        with self._changed:
            if not self._changed.wait_for(until, timeout_s):
                raise AssertionError(f"timed out waiting for {what}")

    @property
    def connected(self) -> bool:
        return self.client.is_connected()

    def publish(self, topic: str, payload: bytes) -> int:
        info = self.client.publish(topic, payload, qos=1)
        self.wait(lambda: info.mid in self.acks or bool(self.disconnects), f"PUBACK {topic}")
        return self.acks.get(info.mid, -1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def clients(secured: SecuredBroker) -> Iterator[Any]:
    opened: list[LiveClient] = []

    def open_client(user: str, client_id: str, *, tls: bool = True) -> LiveClient:
        client = LiveClient(secured.url(tls), secured.login(user), client_id, secured.ca_file)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close()


def _ingest_watcher(open_client: Any) -> LiveClient:
    # Ingest's way in: the plain loopback listener, a client id of its own.
    watcher = open_client(INGEST_USER, f"test-watch-{uuid.uuid4().hex[:8]}", tls=False)
    watcher.client.subscribe(PI_A_EVENTS, qos=1)
    time.sleep(0.2)
    return watcher


def test_another_nodes_credentials_cannot_take_a_nodes_session(clients: Any) -> None:
    watcher = _ingest_watcher(clients)
    node_a = clients("pi-a", "hubsense-edge-pi-a")
    assert node_a.connects == ["Success"]
    # pi-b, with its own valid secret, asks for pi-a's client id.
    intruder = clients("pi-b", "hubsense-edge-pi-a")
    time.sleep(1.0)  # a takeover drops the first connection at once
    assert node_a.disconnects == [] and node_a.connected
    # pi-b's connection, whatever it asked for, is not pi-a's: it cannot write pi-a's topics.
    assert intruder.publish(PI_A_EVENTS, b"from-pi-b") != 0
    for n in range(3):
        assert node_a.publish(PI_A_EVENTS, f"from-pi-a-{n}".encode()) == 0
    watcher.wait(lambda: len(watcher.messages) >= 3, "pi-a's messages")
    time.sleep(0.3)
    assert [p for _, p in watcher.messages] == [b"from-pi-a-0", b"from-pi-a-1", b"from-pi-a-2"]
    assert node_a.disconnects == [] and node_a.connected


def test_services_on_the_loopback_listener_keep_their_own_client_ids(clients: Any) -> None:
    """Two ingest workers (one username, two client ids) both stay connected."""
    first = clients(INGEST_USER, "hubsense-ingest-w1", tls=False)
    second = clients(INGEST_USER, "hubsense-ingest-w2", tls=False)
    time.sleep(0.5)
    assert first.connected and second.connected
    assert first.disconnects == [] and second.disconnects == []


def _node_config(secured: SecuredBroker, tmp_path: Path, node: str) -> NodeConfig:
    secret = tmp_path / "mqtt-password"
    secret.write_text(secured.secrets[node] + "\n")
    return NodeConfig.model_validate(
        {
            "node": node,
            "site": secured.inventory.site_of_node[node],
            "state_dir": str(tmp_path / "state"),
            "broker": {
                "url": f"mqtts://127.0.0.1:{secured.tls_port}",
                "username": node,
                "password_file": str(secret),
                "ca_file": str(secured.ca_file),
            },
        }
    )


def test_the_doctor_has_its_own_identity_and_leaves_the_agent_connected(
    secured: SecuredBroker, clients: Any, tmp_path: Path
) -> None:
    watcher = _ingest_watcher(clients)
    agent = clients("pi-a", "hubsense-edge-pi-a")
    checks = {c.name: c for c in check_broker(_node_config(secured, tmp_path, "pi-a"), 5.0)}
    assert {name: c.status for name, c in checks.items()} == {
        "broker reachable": Status.PASS,
        "credentials accepted": Status.PASS,
        "publish allowed on own topics": Status.PASS,
        "other nodes' topics denied": Status.PASS,
        "subscribe allowed on config": Status.PASS,
    }
    assert doctor_username("pi-a") in checks["credentials accepted"].detail
    time.sleep(0.5)
    assert agent.disconnects == [] and agent.connected
    assert agent.publish(PI_A_EVENTS, b"after-doctor") == 0
    watcher.wait(lambda: (PI_A_EVENTS, b"after-doctor") in watcher.messages, "the agent's event")


def test_the_doctors_username_is_no_way_around_the_acl(
    secured: SecuredBroker, clients: Any
) -> None:
    """The doctor's login takes the node's secret only, and the node's own topics only."""
    from hubsense.provision.verify import ProbeClient

    doctor = doctor_username("pi-a")
    wrong = ProbeClient(secured.url(), Login(doctor, secured.secrets["pi-b"]), secured.ca_file, "x")
    wrong.connect()
    assert wrong.out.connack_ok is False
    own = ProbeClient(secured.url(), Login(doctor, secured.secrets["pi-a"]), secured.ca_file, "y")
    own.connect()
    assert own.out.connack_ok
    ack = own.publish(node_topic("hq", "pi-b", TopicKind.EVENTS), b"spoof")
    assert ack is None or ack[0] == 0x87
    own.close()


def test_ingest_the_api_and_release_watchers_stay_connected_side_by_side(
    secured: SecuredBroker, clients: Any
) -> None:
    """Each process has a client id of its own: none throws another off the broker."""
    from hubsense.bookings.announce import ReleasePublisher
    from hubsense.ingest.service import client_id
    from hubsense.provision.acl import API_USER

    workers = [clients(INGEST_USER, client_id(w), tls=False) for w in ("w-1", "w-2")]
    api = secured.login(API_USER)
    url = MqttUrl("127.0.0.1", secured.broker.port, False, api.username, api.password)
    # Two release watchers: the API's own thread and a second API process.
    publishers = [ReleasePublisher(url) for _ in range(2)]
    dropped: list[str] = []
    for publisher in publishers:
        publisher.client.on_disconnect = lambda *args: dropped.append(str(args[3]))
        publisher.start()
    try:
        assert all(p._connected.wait(10) for p in publishers)
        assert len({p.client._client_id for p in publishers}) == 2
        time.sleep(0.5)
        assert dropped == []
        assert all(w.connected and w.disconnects == [] for w in workers)
    finally:
        for publisher in publishers:
            publisher.close()
