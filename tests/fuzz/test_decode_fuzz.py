"""Fuzz the ingest decoder/validator: thousands of random and mutated payloads, none raising,
each either rows to store, a status, or a dead letter — and the verdict checked against an
independent reference written from SPEC §4 (fuzz_cases.reference). Pure, no servers."""

from __future__ import annotations

import json
import random
from collections import Counter

from fuzz_cases import (
    INVENTORY,
    MAX_BYTES,
    MAX_FUTURE_MS,
    NOW_MS,
    mutate_bytes,
    mutate_tree,
    reference,
    valid_message,
)
from hubsense.ingest.decode import MAX_DEAD_PAYLOAD_BYTES, Decoded, Reason, decode_message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TOPIC = "hubsense/v1/hq/pi-a/events"
MUTATED_MESSAGES = 6_000


def decode(topic: str, payload: bytes) -> Decoded:
    return decode_message(topic, payload, INVENTORY, NOW_MS, MAX_FUTURE_MS)


def check_shape(result: Decoded, topic: str, payload: bytes) -> str:
    """Exactly one outcome; a dead letter keeps the message and a short, NUL-free detail."""
    outcomes = [bool(result.events), result.status is not None, result.dead is not None]
    assert sum(outcomes) == 1, result
    if result.dead is not None:
        # too_large keeps only a prefix (MAX_DEAD_PAYLOAD_BYTES); every other reason all of it.
        too_large = result.dead.reason is Reason.TOO_LARGE
        kept = payload[:MAX_DEAD_PAYLOAD_BYTES] if too_large else payload
        assert (result.dead.topic, result.dead.payload) == (topic, kept)
        assert result.dead.reason in set(Reason) - {Reason.DB_REJECTED}
        assert 0 < len(result.dead.detail) <= 500 and "\x00" not in result.dead.detail
        return "dead"
    return "rows" if result.events else "status"


def check_against_reference(topic: str, payload: bytes) -> str:
    result = decode(topic, payload)
    outcome = check_shape(result, topic, payload)
    verdict, expected = reference(topic, payload)
    label = f"{topic} {payload[:300]!r}"
    if verdict == "rows":
        assert result.events == expected, label
    elif verdict == "dead":
        assert result.dead is not None and result.dead.reason.value in expected, (
            label,
            result.dead,
            expected,
        )
    else:  # status: the reference only checks the fields every status must have
        assert result.events == [], label
    return outcome if outcome != "dead" else f"dead:{result.dead.reason.value}"  # type: ignore[union-attr]


@settings(max_examples=1_500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.binary(max_size=2_000))
def test_random_bytes_never_raise(payload: bytes) -> None:
    check_against_reference(TOPIC, payload)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)
EVENT = st.fixed_dictionaries(
    {
        "seq": st.integers(-5, 2**63) | st.sampled_from([0, 1, 2**62]),
        "ts": st.integers(-5, 2**54),
        "type": st.sampled_from(["desk", "alive", "stop", "reboot"]),
    },
    optional={
        "desk": st.sampled_from(["d-1", "d-2", "d-3", "nope", "D-1"]) | st.text(max_size=5),
        "source": st.sampled_from(["pir", "ble", "fused", "x"]),
        "state": st.sampled_from(["occupied", "vacant", "busy"]),
        "x": JSON,
    },
)


@settings(max_examples=1_500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=JSON,
    topic=st.sampled_from([TOPIC, "hubsense/v1/hq/pi-a/status", "hubsense/v1/hub-1/pi-h/events"]),
)
def test_random_json_values_never_raise(value: object, topic: str) -> None:
    check_against_reference(topic, json.dumps(value).encode())


@settings(max_examples=2_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    node=st.sampled_from(["pi-a", "pi-b", "pi-old", "pi-z", "PI-A"]),
    events=st.lists(EVENT, min_size=0, max_size=6),
)
def test_structured_messages_match_the_reference(node: str, events: list[dict]) -> None:
    payload = json.dumps({"node": node, "events": events}).encode()
    check_against_reference(f"hubsense/v1/hq/{node.lower()}/events", payload)


def test_thousands_of_mutated_messages_match_the_reference() -> None:
    rng = random.Random(7)
    outcomes: Counter[str] = Counter()
    for i in range(MUTATED_MESSAGES):
        topic, message = valid_message(rng)
        if i % 5:  # one in five goes through unchanged: valid messages must be stored exactly
            topic, message = mutate_tree(rng, message)
        payload = json.dumps(message, separators=(",", ":")).encode()
        if i % 3 == 0:
            payload = mutate_bytes(rng, payload)
        if i % 500 == 0:  # and now and then one too big to parse at all
            payload += b" " * (MAX_BYTES - len(payload) + rng.choice([0, 1]))
        outcomes[check_against_reference(topic, payload)] += 1
    print("\nmutated messages by outcome:", dict(sorted(outcomes.items())))
    assert sum(outcomes.values()) == MUTATED_MESSAGES
    assert outcomes["rows"] >= MUTATED_MESSAGES // 5
    dead_reasons = {key.split(":", 1)[1] for key in outcomes if key.startswith("dead:")}
    # The mutations reach (nearly) every way a message can be wrong.
    assert len(dead_reasons) >= 14, dead_reasons
    assert {
        "too_large",
        "invalid_utf8",
        "invalid_json",
        "invalid_schema",
        "topic_not_ours",
        "node_mismatch",
        "unknown_desk",
        "desk_not_on_node",
        "ts_in_future",
        "conflicting_duplicate",
    } <= dead_reasons


def test_payload_exactly_at_the_size_limit_is_parsed_one_byte_more_is_not() -> None:
    body = json.dumps({"node": "pi-a", "events": [{"seq": 1, "ts": NOW_MS, "type": "alive"}]})
    at_limit = (body + " " * (MAX_BYTES - len(body))).encode()
    assert len(at_limit) == MAX_BYTES
    assert decode(TOPIC, at_limit).events == [("pi-a", 1, NOW_MS, "hq", "alive", None, None, None)]
    over = at_limit + b" "
    assert decode(TOPIC, over).dead.reason is Reason.TOO_LARGE  # type: ignore[union-attr]
