"""A message over 256 KiB: dead-lettered as `too_large` with a bounded prefix and its full size.

Literal bytes against the pure decoder, then over the wire (real Mosquitto, real ingest,
real PostgreSQL) with messages between the contract's 256 KiB and the broker's 1 MiB.
"""

from __future__ import annotations

import pytest
from hubsense.ingest.decode import MAX_DEAD_PAYLOAD_BYTES, KnownInventory, Reason, decode_message
from ingest_helpers import alive_message, events_topic
from support.database import query
from support.waiting import wait_for

from hubsense import wire
from hubsense.wire import MAX_PACKET_BYTES

NOW_MS = 1_764_000_000_000
INVENTORY = KnownInventory(node_site={"pi-a": "hq"}, node_desks={"pi-a": frozenset()})
TOPIC = "hubsense/v1/hq/pi-a/events"
HEAD = b'{"node":"pi-a","events":['


def _padded(size: int) -> bytes:
    """A well-formed events message of exactly `size` bytes (JSON whitespace padding)."""
    body = HEAD + b'{"seq":1,"ts":1764000000000,"type":"alive"}]}'
    return body + b" " * (size - len(body))


def test_limits_are_ordered() -> None:
    # Dead-letter prefix < contract limit < broker packet limit: ingest sees what it refuses.
    assert MAX_DEAD_PAYLOAD_BYTES == 65_536
    assert MAX_DEAD_PAYLOAD_BYTES < wire.MAX_MESSAGE_BYTES < MAX_PACKET_BYTES


def test_too_large_keeps_the_first_64_kib_and_says_the_full_size() -> None:
    payload = _padded(900_000)
    dead = decode_message(TOPIC, payload, INVENTORY, NOW_MS, 0).dead
    assert dead is not None
    assert dead.reason is Reason.TOO_LARGE
    assert dead.payload == payload[:65_536]
    assert dead.payload.startswith(b'{"node":"pi-a","events":[{"seq":1,')
    assert dead.detail == ("900000 bytes > 262144 bytes; payload keeps the first 65536 bytes")


def test_one_byte_over_the_limit_is_cut_to_the_prefix_too() -> None:
    payload = _padded(262_145)
    dead = decode_message(TOPIC, payload, INVENTORY, NOW_MS, 0).dead
    assert dead is not None and dead.reason is Reason.TOO_LARGE
    assert len(dead.payload) == 65_536
    assert dead.detail.startswith("262145 bytes > 262144 bytes")


def test_other_dead_letters_keep_their_whole_payload() -> None:
    payload = HEAD + b'{"seq":"1","ts":1,"type":"alive"}]}' + b" " * 100_000
    dead = decode_message(TOPIC, payload, INVENTORY, NOW_MS, 0).dead
    assert dead is not None and dead.reason is Reason.INVALID_SCHEMA
    assert dead.payload == payload


@pytest.mark.service
def test_too_large_over_the_wire_stores_a_prefix_and_nothing_as_data(
    dsn, publisher, start_ingest
) -> None:
    ingest = start_ingest(dsn, batch_max_ms=300)
    topic = events_topic("pi-a")
    big = (
        HEAD
        + b",".join(b'{"seq":%d,"ts":1764000000000,"type":"alive"}' % seq for seq in range(20_000))
        + b"]}"
    )
    assert wire.MAX_MESSAGE_BYTES < len(big) < MAX_PACKET_BYTES - 1024
    messages = [
        (topic, alive_message("pi-a", [100_000])),
        (topic, big),
        (topic, alive_message("pi-a", [100_001])),
    ]
    publisher.publish_many(messages)
    wait_for(lambda: ingest.latest and ingest.latest.messages_acked == 3, what="all acked")
    dead = query(dsn, "SELECT topic, payload, reason, detail FROM dead_letters")
    assert [(t, bytes(p), r) for t, p, r, _ in dead] == [(topic, big[:65_536], "too_large")]
    assert dead[0][3].startswith(f"{len(big)} bytes > 262144 bytes")
    # None of the 20,000 events of the oversized message is data; its neighbours are.
    assert query(dsn, "SELECT seq FROM events ORDER BY seq") == [(100_000,), (100_001,)]
    assert ingest.close().dead_letters == 1
