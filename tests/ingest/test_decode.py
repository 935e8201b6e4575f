"""Message validation with literal bytes: every reason code, and the rows of valid messages."""

from __future__ import annotations

import json

import pytest
from hubsense.ingest.decode import (
    INVENTORY_REASONS,
    MAX_DEAD_PAYLOAD_BYTES,
    DeadLetter,
    KnownInventory,
    Reason,
    StatusRow,
    decode_message,
)

from hubsense import wire

NOW_MS = 1_764_000_000_000
FUTURE_MS = 300_000
INVENTORY = KnownInventory(
    node_site={"pi-a": "hq", "pi-b": "hub-1"},
    node_desks={"pi-a": frozenset({"d-1", "d-2"}), "pi-b": frozenset({"d-9"})},
    desks=frozenset({"d-1", "d-2", "d-9"}),
    retired_nodes=frozenset({"pi-old"}),
)
EVENTS_TOPIC = "hubsense/v1/hq/pi-a/events"


def decode(topic: str, payload: bytes):
    return decode_message(topic, payload, INVENTORY, NOW_MS, FUTURE_MS)


def test_desk_alive_stop_become_rows_with_site_from_topic() -> None:
    payload = (
        b'{"node":"pi-a","events":['
        b'{"seq":7,"ts":1764000000123,"type":"desk","desk":"d-2","source":"ble","state":"occupied"},'
        b'{"seq":8,"ts":1764000000200,"type":"alive"},'
        b'{"seq":9,"ts":1764000000300,"type":"stop"}]}'
    )
    result = decode(EVENTS_TOPIC, payload)
    assert result.dead is None and result.status is None
    assert result.events == [
        ("pi-a", 7, 1764000000123, "hq", "desk", "d-2", "ble", "occupied"),
        ("pi-a", 8, 1764000000200, "hq", "alive", None, None, None),
        ("pi-a", 9, 1764000000300, "hq", "stop", None, None, None),
    ]
    # Plain str, not enum members: the COPY writer dumps them as text.
    assert all(type(value) is str for value in result.events[0][4:])


def test_unknown_desk_state_is_a_row_like_the_others() -> None:
    payload = (
        b'{"node":"pi-a","events":['
        b'{"seq":7,"ts":1764000000123,"type":"desk","desk":"d-1","source":"ble","state":"unknown"}]}'
    )
    result = decode(EVENTS_TOPIC, payload)
    assert result.dead is None
    assert result.events == [("pi-a", 7, 1764000000123, "hq", "desk", "d-1", "ble", "unknown")]


def test_identical_duplicate_inside_one_message_is_kept_once() -> None:
    event = b'{"seq":3,"ts":1764000000000,"type":"alive"}'
    result = decode(EVENTS_TOPIC, b'{"node":"pi-a","events":[' + event + b"," + event + b"]}")
    assert result.events == [("pi-a", 3, 1764000000000, "hq", "alive", None, None, None)]


def test_ts_exactly_at_the_future_limit_is_accepted() -> None:
    limit = NOW_MS + FUTURE_MS
    payload = b'{"node":"pi-a","events":[{"seq":1,"ts":%d,"type":"alive"}]}' % limit
    assert decode(EVENTS_TOPIC, payload).events[0][2] == limit
    payload = b'{"node":"pi-a","events":[{"seq":1,"ts":%d,"type":"alive"}]}' % (limit + 1)
    assert decode(EVENTS_TOPIC, payload).dead.reason is Reason.TS_IN_FUTURE


def test_status_row() -> None:
    payload = (
        b'{"node":"pi-b","online":true,"ts":1764000000000,"version":"0.1.0","uptime_s":12.5,'
        b'"outbox_depth":3,"last_reading_age_s":{"gpio:17":1.5,"ble:A4":null},"cpu_temp_c":51.2,'
        b'"clock_synced":true}'
    )
    result = decode("hubsense/v1/hub-1/pi-b/status", payload)
    assert result.events == [] and result.dead is None
    assert result.status == StatusRow(
        node_id="pi-b",
        site_id="hub-1",
        online=True,
        version="0.1.0",
        uptime_s=12.5,
        outbox_depth=3,
        last_reading_age_json='{"ble:A4": null, "gpio:17": 1.5}',
        cpu_temp_c=51.2,
        clock_synced=True,
        disk_full=None,
        reported_ms=1764000000000,
    )


def test_last_will_status_without_ts() -> None:
    result = decode("hubsense/v1/hub-1/pi-b/status", b'{"node":"pi-b","online":false}')
    assert result.status is not None
    assert (result.status.online, result.status.reported_ms) == (False, None)
    assert result.status.last_reading_age_json == "{}"


GOOD_EVENT = b'{"seq":1,"ts":1764000000000,"type":"alive"}'
OVERSIZE = b'{"node":"pi-a","events":[' + b",".join([GOOD_EVENT] * 6000) + b"]}"

# (name, topic, payload, reason, a fragment of the detail)
MALFORMED = [
    ("oversize", EVENTS_TOPIC, OVERSIZE, Reason.TOO_LARGE, "> 262144 bytes"),
    ("not utf-8", EVENTS_TOPIC, b'{"node":"pi-\xff"}', Reason.INVALID_UTF8, "byte 12"),
    ("bad json", EVENTS_TOPIC, b'{"node":"pi-a","events":[', Reason.INVALID_JSON, "EOF"),
    ("empty payload", EVENTS_TOPIC, b"", Reason.INVALID_JSON, "EOF"),
    (
        "json array",
        EVENTS_TOPIC,
        b"[]",
        Reason.INVALID_SCHEMA,
        "message: Input should be an object",
    ),
    (
        "seq as string",
        EVENTS_TOPIC,
        b'{"node":"pi-a","events":[{"seq":"1","ts":1,"type":"alive"}]}',
        Reason.INVALID_SCHEMA,
        "events.0.alive.seq",
    ),
    (
        "ts as float",
        EVENTS_TOPIC,
        b'{"node":"pi-a","events":[{"seq":1,"ts":1.5,"type":"alive"}]}',
        Reason.INVALID_SCHEMA,
        "events.0.alive.ts",
    ),
    (
        "negative seq",
        EVENTS_TOPIC,
        b'{"node":"pi-a","events":[{"seq":-1,"ts":1,"type":"alive"}]}',
        Reason.INVALID_SCHEMA,
        "greater than or equal to 0",
    ),
    (
        "missing events",
        EVENTS_TOPIC,
        b'{"node":"pi-a"}',
        Reason.INVALID_SCHEMA,
        "events: Field required",
    ),
    (
        "empty events",
        EVENTS_TOPIC,
        b'{"node":"pi-a","events":[]}',
        Reason.INVALID_SCHEMA,
        "at least 1",
    ),
    (
        "extra field",
        EVENTS_TOPIC,
        b'{"node":"pi-a","events":[{"seq":1,"ts":1,"type":"alive","x":1}]}',
        Reason.INVALID_SCHEMA,
        "Extra inputs are not permitted",
    ),
    (
        "desk without state",
        EVENTS_TOPIC,
        b'{"node":"pi-a","events":[{"seq":1,"ts":1,"type":"desk","desk":"d-1","source":"pir"}]}',
        Reason.INVALID_SCHEMA,
        "events.0.desk.state: Field required",
    ),
    (
        "bad state",
        EVENTS_TOPIC,
        b'{"node":"pi-a","events":[{"seq":1,"ts":1,"type":"desk","desk":"d-1","source":"pir","state":"busy"}]}',
        Reason.INVALID_SCHEMA,
        "events.0.desk.state",
    ),
    (
        "unknown type",
        EVENTS_TOPIC,
        b'{"node":"pi-a","events":[{"seq":1,"ts":1,"type":"reboot"}]}',
        Reason.UNKNOWN_EVENT_TYPE,
        "'reboot'",
    ),
    ("foreign topic", "other/v1/hq/pi-a/events", b"{}", Reason.TOPIC_NOT_OURS, "other/v1"),
    ("topic with bad id", "hubsense/v1/HQ/pi-a/events", b"{}", Reason.TOPIC_NOT_OURS, "HQ"),
    (
        "config topic",
        "hubsense/v1/hq/pi-a/config",
        b'{"node":"pi-a"}',
        Reason.WRONG_TOPIC_KIND,
        "config",
    ),
    (
        "node mismatch",
        "hubsense/v1/hq/pi-b/events",
        b'{"node":"pi-a","events":[' + GOOD_EVENT + b"]}",
        Reason.NODE_MISMATCH,
        "'pi-a' != topic node 'pi-b'",
    ),
    (
        "unknown node",
        "hubsense/v1/hq/pi-z/events",
        b'{"node":"pi-z","events":[' + GOOD_EVENT + b"]}",
        Reason.UNKNOWN_NODE,
        "'pi-z'",
    ),
    (
        "retired node",
        "hubsense/v1/hq/pi-old/events",
        b'{"node":"pi-old","events":[' + GOOD_EVENT + b"]}",
        Reason.RETIRED_NODE,
        "'pi-old' is retired",
    ),
    (
        "site mismatch",
        "hubsense/v1/hub-1/pi-a/events",
        b'{"node":"pi-a","events":[' + GOOD_EVENT + b"]}",
        Reason.SITE_MISMATCH,
        "belongs to site 'hq'",
    ),
    (
        "unknown desk",
        EVENTS_TOPIC,
        b'{"node":"pi-a","events":[{"seq":1,"ts":1,"type":"desk","desk":"d-404","source":"pir","state":"vacant"}]}',
        Reason.UNKNOWN_DESK,
        "'d-404'",
    ),
    (
        "desk of another node",
        EVENTS_TOPIC,
        b'{"node":"pi-a","events":[{"seq":1,"ts":1,"type":"desk","desk":"d-9","source":"pir","state":"vacant"}]}',
        Reason.DESK_NOT_ON_NODE,
        "'d-9' is not sensed by node 'pi-a'",
    ),
    (
        "ts in the future",
        EVENTS_TOPIC,
        b'{"node":"pi-a","events":['
        + GOOD_EVENT
        + b',{"seq":2,"ts":1764000300001,"type":"alive"}]}',
        Reason.TS_IN_FUTURE,
        "seq 2: ts 1764000300001 > 1764000300000",
    ),
    (
        "conflicting duplicate",
        EVENTS_TOPIC,
        b'{"node":"pi-a","events":[{"seq":1,"ts":1,"type":"alive"},{"seq":1,"ts":2,"type":"alive"}]}',
        Reason.CONFLICTING_DUPLICATE,
        'within one message: seq 1: first {"ts":1,"type":"alive"} received {"ts":2,"type":"alive"}',
    ),
    (
        "status of wrong node",
        "hubsense/v1/hq/pi-a/status",
        b'{"node":"pi-b","online":true}',
        Reason.NODE_MISMATCH,
        "'pi-b'",
    ),
    (
        "status bad type",
        "hubsense/v1/hq/pi-a/status",
        b'{"node":"pi-a","online":"yes"}',
        Reason.INVALID_SCHEMA,
        "online",
    ),
    (
        "status with NUL",
        "hubsense/v1/hq/pi-a/status",
        b'{"node":"pi-a","online":true,"version":"1\\u0000"}',
        Reason.INVALID_SCHEMA,
        "NUL",
    ),
    (
        "status from the future",
        "hubsense/v1/hq/pi-a/status",
        b'{"node":"pi-a","online":true,"ts":1764000400000}',
        Reason.TS_IN_FUTURE,
        "1764000400000",
    ),
]


@pytest.mark.parametrize(
    ("topic", "payload", "reason", "fragment"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_message_is_a_dead_letter(
    topic: str, payload: bytes, reason: Reason, fragment: str
) -> None:
    result = decode(topic, payload)
    assert result.events == [] and result.status is None
    assert result.dead is not None
    assert result.dead.reason is reason
    assert fragment in result.dead.detail
    # A too_large dead letter keeps only a prefix of its payload (test_too_large.py).
    kept = payload[:MAX_DEAD_PAYLOAD_BYTES] if reason is Reason.TOO_LARGE else payload
    assert (result.dead.topic, result.dead.payload) == (topic, kept)
    assert len(result.dead.detail) <= 500
    assert "\x00" not in result.dead.detail


def test_malformed_cases_cover_every_reason() -> None:
    assert {case[3] for case in MALFORMED} == set(Reason) - {Reason.DB_REJECTED}
    assert len(OVERSIZE) > wire.MAX_MESSAGE_BYTES


def test_unknown_node_is_cured_by_a_newer_inventory() -> None:
    topic, payload = MALFORMED[18][1], MALFORMED[18][2]
    assert decode(topic, payload).dead.reason in INVENTORY_REASONS
    newer = KnownInventory(node_site={**INVENTORY.node_site, "pi-z": "hq"})
    again = decode_message(topic, payload, newer, NOW_MS, FUTURE_MS)
    assert again.events == [("pi-z", 1, 1764000000000, "hq", "alive", None, None, None)]
    assert Reason.INVALID_JSON not in INVENTORY_REASONS


def test_dead_letter_detail_is_bounded() -> None:
    long_node = b"x" * 100_000
    result = decode(EVENTS_TOPIC, b'{"node":"' + long_node + b'","events":[]}')
    assert isinstance(result.dead, DeadLetter)
    assert result.dead.reason is Reason.INVALID_SCHEMA
    assert len(result.dead.detail) <= 500
    assert json.loads(result.dead.payload)["node"] == long_node.decode()


def test_nul_quoted_in_detail_is_escaped() -> None:
    payload = b'{"node":"pi-a","events":[{"seq":1,"ts":1,"type":"a\\u0000b"}]}'
    result = decode(EVENTS_TOPIC, payload)
    assert result.dead.reason is Reason.UNKNOWN_EVENT_TYPE
    assert "a\\x00b" in result.dead.detail and "\x00" not in result.dead.detail
