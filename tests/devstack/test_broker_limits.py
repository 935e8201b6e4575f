"""The broker's packet limit: every generated config sets it; a real Mosquitto 2.0.11 enforces it.

An oversized PUBLISH (over `max_packet_size`, 1 MiB) disconnects its sender: an MQTT 5
client gets DISCONNECT with reason 0x95 "packet too large" (and learned the limit from
CONNACK), an MQTT 3.1.1 client is just cut off. Nothing reaches a subscriber and the
other clients keep working. Oversized clients are written with literal MQTT bytes on a
raw socket, so no client library refuses the packet before the broker sees it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from pathlib import Path

import pytest
from broker_clients import Collector
from hubsense.devstack.mosquitto import broker_config
from hubsense.provision.broker import BrokerPlan, full_config, include_lines

from hubsense import wire
from hubsense.wire import MAX_PACKET_BYTES

COMPOSE_CONF = Path(__file__).parents[2] / "firmware-config/broker/mosquitto-compose.conf"
PACKET_TOO_LARGE = 0x95
MAXIMUM_PACKET_SIZE = 0x27  # MQTT 5 CONNACK property id (§3.2.2.3.6)


def _vbi(n: int) -> bytes:
    """MQTT variable byte integer (§1.5.5)."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(raw: bytes) -> bytes:
    return len(raw).to_bytes(2, "big") + raw


def _connect(level: int, client_id: bytes) -> bytes:
    # Protocol name, level (4 = 3.1.1, 5 = 5), flags 0x02 (clean start), keep alive 60 s.
    header = _str(b"MQTT") + bytes([level, 0x02]) + b"\x00\x3c"
    body = header + (b"\x00" if level == 5 else b"") + _str(client_id)
    return b"\x10" + _vbi(len(body)) + body


def _publish_qos0(level: int, topic: bytes, payload: bytes) -> bytes:
    body = _str(topic) + (b"\x00" if level == 5 else b"") + payload
    return b"\x30" + _vbi(len(body)) + body


def _connack_properties(packet: bytes) -> dict[int, bytes]:
    """The CONNACK's properties by id (4-byte, 2-byte and 1-byte ones Mosquitto sends)."""
    assert packet[0] == 0x20 and packet[3] == 0x00, packet  # CONNACK, success
    length, i = packet[4], 5  # property length fits one byte here
    sizes = {0x27: 4, 0x22: 2, 0x21: 2, 0x24: 1, 0x25: 1, 0x28: 1, 0x29: 1, 0x2A: 1, 0x13: 2}
    found: dict[int, bytes] = {}
    while i < 5 + length:
        prop = packet[i]
        found[prop] = packet[i + 1 : i + 1 + sizes[prop]]
        i += 1 + sizes[prop]
    return found


class RawClient:
    """One TCP connection speaking literal MQTT bytes; a thread reads all the broker sends."""

    def __init__(self, port: int, level: int) -> None:
        self.level = level
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.received = bytearray()
        self.closed = threading.Event()
        self.sock.sendall(_connect(level, f"raw-{uuid.uuid4().hex[:8]}".encode()))
        self.connack = self._read_connack()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read_connack(self) -> bytes:
        head = self.sock.recv(2)
        rest = b""
        while len(rest) < head[1]:
            rest += self.sock.recv(head[1] - len(rest))
        return head + rest

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(4096):
                self.received += chunk
        except OSError:  # a reset after the broker closed on unread data
            pass
        self.closed.set()

    def send(self, data: bytes) -> None:
        # The broker may close before it has read the whole packet.
        with contextlib.suppress(OSError):
            self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


def test_every_generated_config_caps_the_packet_size() -> None:
    line = "max_packet_size 1048576"
    assert MAX_PACKET_BYTES == 1_048_576 > wire.MAX_MESSAGE_BYTES
    dev = broker_config(
        port=1, data_dir=Path("/d"), log_file=Path("/l"), pid_file=Path("/p"), run_as=None
    )
    assert line in dev.splitlines()
    assert line in include_lines(Path("/out"), 8883, "0.0.0.0")
    production = full_config(BrokerPlan(out_dir="/out", inventory="/i.toml")).splitlines()
    assert production.count(line) == 1
    assert line in COMPOSE_CONF.read_text().splitlines()


@pytest.mark.service
@pytest.mark.parametrize("level", [5, 4], ids=["mqtt5", "mqtt311"])
def test_oversized_publish_disconnects_its_sender_and_reaches_no_one(make_broker, level) -> None:
    broker = make_broker()
    topic = f"limits/{uuid.uuid4().hex}"
    subscriber = Collector(broker.port, f"sub-{uuid.uuid4().hex[:8]}", clean_start=True)
    subscriber.subscribe(f"{topic}/#")
    bystander = Collector(broker.port, f"by-{uuid.uuid4().hex[:8]}", clean_start=True)
    big = RawClient(broker.port, level)
    try:
        if level == 5:  # the limit is announced: maximum packet size in CONNACK
            props = _connack_properties(big.connack)
            assert int.from_bytes(props[MAXIMUM_PACKET_SIZE], "big") == MAX_PACKET_BYTES
        big.send(_publish_qos0(level, f"{topic}/big".encode(), b"x" * (2 * MAX_PACKET_BYTES)))
        assert big.closed.wait(10), "the broker kept the oversized client connected"
        if level == 5:
            assert bytes(big.received) == bytes([0xE0, 0x01, PACKET_TOO_LARGE])
        # The other clients keep working: a normal message goes through, the big one never.
        bystander.client.publish(f"{topic}/small", b"ok", qos=1).wait_for_publish(10)
        got = subscriber.wait_for(1, timeout_s=10, idle_s=1.0)
        assert [(t, p) for t, p, _ in got] == [(f"{topic}/small", b"ok")]
        assert "disconnected due to oversize packet" in broker.log_file.read_text()
    finally:
        big.close()
        subscriber.close()
        bystander.close()


@pytest.mark.service
def test_a_message_between_the_contract_and_the_broker_limit_still_reaches_ingest(
    make_broker,
) -> None:
    # 512 KiB: over the contract's 256 KiB, under 1 MiB, so ingest sees it and dead-letters it.
    broker = make_broker()
    topic = f"limits/{uuid.uuid4().hex}"
    subscriber = Collector(broker.port, f"sub-{uuid.uuid4().hex[:8]}", clean_start=True)
    subscriber.subscribe(topic)
    sender = RawClient(broker.port, 5)
    try:
        payload = b"y" * (512 * 1024)
        sender.send(_publish_qos0(5, topic.encode(), payload))
        got = subscriber.wait_for(1, timeout_s=10, idle_s=1.0)
        assert [(t, p) for t, p, _ in got] == [(topic, payload)]
        assert not sender.closed.is_set()
    finally:
        sender.close()
        subscriber.close()
