"""Bad input end to end: real Mosquitto, real ingest, real PostgreSQL.

1. A table of named malformed kinds (34, every dead-letter reason ingest can see over
   the wire; `db_rejected` is tested in tests/ingest), each published between valid
   messages: each lands in `dead_letters` with its expected reason, the valid ones
   around it are stored.
   tests/ingest covers 16 kinds over the wire; this adds the byte-level ones (BOM,
   trailing garbage, 100,000-deep nesting, NaN), the range edges, retired nodes,
   foreign-looking topics that still match the subscription, status faults, and a value
   the contract allows but the database refuses.
2. 2,000 mutated messages through the broker: ingest survives all, and the database
   holds exactly what the pure decoder says (stored rows or a dead letter, per message).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fuzz_cases import INVENTORY, mutate_bytes, mutate_tree, valid_message
from hubsense.ingest.decode import MAX_DEAD_PAYLOAD_BYTES, decode_message
from support.database import query
from support.ingest_runs import IngestThread, ingest_settings
from support.mqtt_clients import Publisher
from support.waiting import wait_for
from wire_helpers import insert_inventory

pytestmark = pytest.mark.service

A = "hubsense/v1/hq/pi-a/events"
S = "hubsense/v1/hq/pi-a/status"
GOOD = b'{"seq":1,"ts":1764000000000,"type":"alive"}'


def _events(*events: bytes, node: bytes = b"pi-a") -> bytes:
    return b'{"node":"' + node + b'","events":[' + b",".join(events) + b"]}"


def _desk(desk: bytes, source: bytes = b"pir", state: bytes = b"occupied") -> bytes:
    return (
        b'{"seq":1,"ts":1764000000000,"type":"desk","desk":"'
        + desk
        + b'","source":"'
        + source
        + b'","state":"'
        + state
        + b'"}'
    )


def malformed() -> list[tuple[str, str, bytes, str]]:
    """(name, topic, payload, expected dead-letter reason)."""
    future = int(time.time() * 1000) + 3_600_000
    return [
        ("payload over 256 KiB", A, _events(*[GOOD] * 6_000), "too_large"),
        ("latin-1 bytes", A, b'{"node":"pi-\xe5"}', "invalid_utf8"),
        ("truncated JSON", A, _events(GOOD)[:-3], "invalid_json"),
        ("empty payload", A, b"", "invalid_json"),
        ("UTF-8 byte order mark", A, b"\xef\xbb\xbf" + _events(GOOD), "invalid_json"),
        ("trailing garbage", A, _events(GOOD) + b"}", "invalid_json"),
        ("nested 100,000 deep", A, b"[" * 100_000 + b"]" * 100_000, "invalid_json"),
        ("array, not an object", A, b"[" + _events(GOOD) + b"]", "invalid_schema"),
        ("seq as a string", A, _events(b'{"seq":"1","ts":1,"type":"alive"}'), "invalid_schema"),
        ("ts as a float", A, _events(b'{"seq":1,"ts":1.0,"type":"alive"}'), "invalid_schema"),
        ("ts NaN", A, _events(b'{"seq":1,"ts":NaN,"type":"alive"}'), "invalid_schema"),
        ("seq negative", A, _events(b'{"seq":-1,"ts":1,"type":"alive"}'), "invalid_schema"),
        (
            "seq above 2^62",
            A,
            _events(b'{"seq":%d,"ts":1,"type":"alive"}' % (2**62 + 1)),
            "invalid_schema",
        ),
        ("seq a boolean", A, _events(b'{"seq":true,"ts":1,"type":"alive"}'), "invalid_schema"),
        ("events an object", A, b'{"node":"pi-a","events":' + GOOD + b"}", "invalid_schema"),
        ("desk id with a slash", A, _events(_desk(b"d/1")), "invalid_schema"),
        ("unknown source", A, _events(_desk(b"d-1", source=b"camera")), "invalid_schema"),
        (
            "unknown event type",
            A,
            _events(b'{"seq":1,"ts":1,"type":"reboot"}'),
            "unknown_event_type",
        ),
        (
            "upper-case site in the topic",
            "hubsense/v1/HQ/pi-a/events",
            _events(GOOD),
            "topic_not_ours",
        ),
        (
            "payload node is not the topic node",
            "hubsense/v1/hq/pi-b/events",
            _events(GOOD),
            "node_mismatch",
        ),
        (
            "node not in the inventory",
            "hubsense/v1/hq/pi-zz/events",
            _events(GOOD, node=b"pi-zz"),
            "unknown_node",
        ),
        (
            "retired node",
            "hubsense/v1/hq/pi-old/events",
            _events(GOOD, node=b"pi-old"),
            "retired_node",
        ),
        (
            "node under another site",
            "hubsense/v1/hub-1/pi-a/events",
            _events(GOOD),
            "site_mismatch",
        ),
        ("desk not in the inventory", A, _events(_desk(b"d-404")), "unknown_desk"),
        ("desk of another node", A, _events(_desk(b"d-3")), "desk_not_on_node"),
        (
            "event an hour in the future",
            A,
            _events(b'{"seq":1,"ts":%d,"type":"alive"}' % future),
            "ts_in_future",
        ),
        (
            "one seq twice, different content",
            A,
            _events(GOOD, b'{"seq":1,"ts":1764000000001,"type":"alive"}'),
            "conflicting_duplicate",
        ),
        ("status online as a string", S, b'{"node":"pi-a","online":"yes"}', "invalid_schema"),
        (
            "status version with NUL",
            S,
            b'{"node":"pi-a","online":true,"version":"1\\u0000"}',
            "invalid_schema",
        ),
        (
            "status from the future",
            S,
            b'{"node":"pi-a","online":true,"ts":%d}' % future,
            "ts_in_future",
        ),
        ("status of another node", S, b'{"node":"pi-b","online":true}', "node_mismatch"),
        # NaN and infinity are refused by the contract (the schema), not left to the database.
        (
            "status reading age NaN",
            S,
            b'{"node":"pi-a","online":true,"last_reading_age_s":{"gpio:17":NaN}}',
            "invalid_schema",
        ),
        (
            "status CPU temperature Infinity",
            S,
            b'{"node":"pi-a","online":true,"cpu_temp_c":Infinity}',
            "invalid_schema",
        ),
        # PostgreSQL text cannot hold NUL: caught by the decoder, before the database.
        # (db_rejected itself is covered by tests/ingest/test_ingest.py with a refusing trigger.)
        (
            "status version with a NUL character",
            S,
            b'{"node":"pi-a","online":true,"version":"0.1\\u0000"}',
            "invalid_schema",
        ),
    ]


@pytest.fixture(scope="module")
def fuzz_db(db_dsn: str) -> str:
    insert_inventory(db_dsn)
    return db_dsn


@pytest.fixture
def clean_db(fuzz_db: str) -> str:
    query(fuzz_db, "TRUNCATE events, dead_letters, node_status, seq_conflicts")
    return fuzz_db


@pytest.fixture
def ingest(clean_db: str, mqtt_broker: Any) -> Iterator[IngestThread]:
    settings = ingest_settings("fz", batch_max_ms=100, session_expiry_s=0)
    runner = IngestThread(settings, clean_db, mqtt_broker.url)
    runner.wait_ready(30)
    yield runner
    if runner.thread.is_alive():
        runner.close()


@pytest.fixture
def publisher(mqtt_broker: Any) -> Iterator[Publisher]:
    pub = Publisher(mqtt_broker.url, "fuzz")
    yield pub
    pub.close()


def test_every_named_malformed_kind_is_dead_lettered_with_its_reason(
    clean_db: str, ingest: IngestThread, publisher: Publisher
) -> None:
    cases = malformed()
    assert len(cases) >= 20 and len({name for name, *_ in cases}) == len(cases)
    # every reason but wrong_topic_kind and db_rejected (the decoder now catches all it knew)
    assert len({reason for *_, reason in cases}) == 14
    messages = []
    for seq, (_, topic, payload, _) in enumerate(cases):
        messages.append(
            (
                "hubsense/v1/hq/pi-b/events",
                _events(b'{"seq":%d,"ts":1764000000000,"type":"alive"}' % seq, node=b"pi-b"),
            )
        )
        messages.append((topic, payload))
    publisher.publish_many(messages, window=20)
    wait_for(lambda: ingest.acked() == len(messages), 60, "every message acked")
    dead = query(clean_db, "SELECT topic, payload, reason, detail FROM dead_letters ORDER BY id")
    got = {(topic, bytes(payload)): reason for topic, payload, reason, _ in dead}
    assert len(dead) == len(cases)
    for name, topic, payload, reason in cases:
        # A too_large dead letter keeps only the first MAX_DEAD_PAYLOAD_BYTES of its payload.
        kept = payload[:MAX_DEAD_PAYLOAD_BYTES] if reason == "too_large" else payload
        assert got.get((topic, kept)) == reason, name
    assert all(detail for *_, detail in dead)
    stored = query(clean_db, "SELECT node_id, seq FROM events ORDER BY seq")
    assert stored == [("pi-b", seq) for seq in range(len(cases))]
    stats = ingest.close()
    assert (stats.dead_letters, stats.events_inserted) == (len(cases), len(cases))


def test_two_thousand_mutated_messages_through_the_broker_match_the_decoder(
    clean_db: str, ingest: IngestThread, publisher: Publisher
) -> None:
    rng = random.Random(11)
    messages: list[tuple[str, bytes]] = []
    for i in range(2_000):
        topic, message = valid_message(rng)
        if i % 4:
            topic, message = mutate_tree(rng, message)
        payload = json.dumps(message, separators=(",", ":")).encode()
        if i % 3 == 0:
            payload = mutate_bytes(rng, payload)
        # Only what the shared subscription carries reaches ingest (events and status).
        parts = topic.split("/")
        if (
            len(parts) == 5
            and parts[:2] == ["hubsense", "v1"]
            and all(parts)
            and parts[4] in ("events", "status")
            and not {"+", "#"} & set(topic)
        ):
            messages.append((topic, payload))
    messages.append((A, _events(b'{"seq":999999999999999,"ts":1764000000000,"type":"stop"}')))
    now_ms = int(time.time() * 1000)
    predicted = [decode_message(t, p, INVENTORY, now_ms, 300_000) for t, p in messages]
    publisher.publish_many(messages, window=200, timeout_s=120)
    wait_for(lambda: ingest.acked() == len(messages), 120, "every message acked")
    # The oracle, in publish order (one publisher, one worker: MQTT keeps the order): a
    # message reusing an earlier message's (node, seq) for other content is a dead letter
    # (conflicting_duplicate) and stores nothing; a repeat with the same content is one row.
    want_dead = [
        (d.dead.topic, d.dead.payload, d.dead.reason.value) for d in predicted if d.dead is not None
    ]
    stored_by_key: dict[tuple[str, int], tuple[Any, ...]] = {}
    for (topic, payload), decoded in zip(messages, predicted, strict=True):
        if not decoded.events:
            continue
        if any(stored_by_key.get((r[0], r[1]), r) != r for r in decoded.events):
            want_dead.append((topic, payload, "conflicting_duplicate"))
            continue
        for row in decoded.events:
            stored_by_key.setdefault((row[0], row[1]), row)
    dead = query(clean_db, "SELECT topic, payload, reason FROM dead_letters")
    assert sorted((t, bytes(p), r) for t, p, r in dead) == sorted(want_dead)
    rows = query(
        clean_db,
        "SELECT node_id, seq, (extract(epoch FROM ts) * 1000)::bigint,"
        " site_id, type::text, desk_id, source::text, state::text FROM events",
    )
    assert sorted(tuple(r) for r in rows) == sorted(stored_by_key.values())
    stats = ingest.close()
    print(
        f"\n{len(messages)} messages: {len(rows)} rows stored, {len(dead)} dead letters, "
        f"{sum(d.status is not None for d in predicted)} statuses"
    )
    assert stats.messages_acked == len(messages) and len(dead) >= 500 and len(rows) >= 1_000
