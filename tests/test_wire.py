"""The MQTT wire contract of SPEC §4, on literal bytes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hubsense import wire
from hubsense.wire import (
    EVENTS_ADAPTER,
    STATUS_ADAPTER,
    AliveEvent,
    DeskEvent,
    DeskState,
    Source,
    StopEvent,
    Topic,
    TopicKind,
)

BATCH = (
    b'{"node":"pi-hq-3a","events":['
    b'{"seq":41,"ts":1772438400000,"type":"desk","desk":"hq-3-01","source":"pir","state":"occupied"},'
    b'{"seq":42,"ts":1772438460000,"type":"alive"},'
    b'{"seq":43,"ts":1772438470123,"type":"stop"}]}'
)


def test_a_batch_decodes_to_typed_events() -> None:
    message = EVENTS_ADAPTER.validate_json(BATCH)
    assert message.node == "pi-hq-3a"
    assert message.events == [
        DeskEvent(
            seq=41, ts=1772438400000, desk="hq-3-01", source=Source.PIR, state=DeskState.OCCUPIED
        ),
        AliveEvent(seq=42, ts=1772438460000),
        StopEvent(seq=43, ts=1772438470123),
    ]


def test_encoding_round_trips_byte_for_byte() -> None:
    assert wire.encode(EVENTS_ADAPTER.validate_json(BATCH)) == BATCH


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (b'{"node":"pi-1","events":[{"seq":"1","ts":5,"type":"alive"}]}', "seq"),  # string int
        (b'{"node":"pi-1","events":[{"seq":1.0,"ts":5,"type":"alive"}]}', "seq"),  # float
        (b'{"node":"pi-1","events":[{"seq":true,"ts":5,"type":"alive"}]}', "seq"),  # bool
        (b'{"node":"pi-1","events":[{"seq":-1,"ts":5,"type":"alive"}]}', "seq"),
        (b'{"node":"pi-1","events":[{"seq":1,"ts":5,"type":"nap"}]}', "type"),
        (
            b'{"node":"pi-1","events":[{"seq":1,"ts":5,"type":"desk","source":"pir","state":"occupied"}]}',
            "desk",
        ),
        (
            b'{"node":"pi-1","events":[{"seq":1,"ts":5,"type":"desk","desk":"d","source":"pir","state":"busy"}]}',
            "state",
        ),
        (b'{"node":"pi-1","events":[{"seq":1,"ts":5,"type":"alive","extra":1}]}', "extra"),
        (b'{"node":"pi-1","events":[]}', "events"),
        (b'{"node":"PI 1","events":[{"seq":1,"ts":5,"type":"alive"}]}', "node"),
        (b'{"node":"pi/1","events":[{"seq":1,"ts":5,"type":"alive"}]}', "node"),
    ],
)
def test_a_wrong_field_is_rejected_and_named(payload: bytes, where: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EVENTS_ADAPTER.validate_json(payload)
    assert where in str(caught.value)


def test_status_rejects_nan_and_infinity() -> None:
    ok = STATUS_ADAPTER.validate_json(
        b'{"node":"pi-1","online":true,"cpu_temp_c":48.5,"uptime_s":12}'
    )
    assert ok.cpu_temp_c == 48.5
    for bad in (b"NaN", b"Infinity", b"-Infinity"):
        with pytest.raises(ValidationError):
            STATUS_ADAPTER.validate_json(b'{"node":"pi-1","online":true,"cpu_temp_c":' + bad + b"}")


def test_topics_build_and_parse() -> None:
    topic = wire.node_topic("ostersund-hq", "pi-hq-3a", TopicKind.EVENTS)
    assert topic == "hubsense/v1/ostersund-hq/pi-hq-3a/events"
    assert wire.parse_topic(topic) == Topic("ostersund-hq", "pi-hq-3a", TopicKind.EVENTS)
    assert wire.bookings_topic("hub-are") == "hubsense/v1/hub-are/bookings"
    assert wire.subscription(TopicKind.STATUS) == "hubsense/v1/+/+/status"


@pytest.mark.parametrize(
    "topic",
    [
        "hubsense/v1/hq/pi-1\n/events",  # an id ending in a newline
        "hubsense/v1/hq/pi-1/events/extra",
        "hubsense/v2/hq/pi-1/events",
        "hubsense/v1/hq/pi-1/bookings",
        "hubsense/v1/hq/+/events",
        "hubsense/v1/HQ/pi-1/events",
    ],
)
def test_foreign_topics_do_not_parse(topic: str) -> None:
    assert wire.parse_topic(topic) is None


def test_building_a_topic_refuses_wildcards_and_newlines() -> None:
    for bad in ("+", "#", "a/b", "pi-1\n", ""):
        with pytest.raises(ValueError):
            wire.node_topic("hq", bad, TopicKind.EVENTS)
