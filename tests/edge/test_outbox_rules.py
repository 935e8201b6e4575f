"""The outbox rules: batching by count and bytes, in-flight window, token bucket, retries."""

from __future__ import annotations

import pytest
from hubsense.edge.core.outbox_rules import (
    InFlight,
    OutboxLimits,
    TokenBucket,
    events_that_fit,
)


def test_events_that_fit_respects_count_and_bytes() -> None:
    assert events_that_fit([100] * 10, max_events=500, max_bytes=10_000) == 10
    assert events_that_fit([100] * 1_000, max_events=500, max_bytes=1_000_000) == 500
    # 64 bytes framing + 101 per event: 9 events = 973 <= 1000, 10 = 1074 > 1000.
    assert events_that_fit([100] * 20, max_events=500, max_bytes=1_000) == 9
    assert events_that_fit([5_000], max_events=500, max_bytes=1_000) == 1  # never zero
    assert events_that_fit([], max_events=500, max_bytes=1_000) == 0


def test_token_bucket_limits_rate_and_refills() -> None:
    bucket = TokenBucket(rate_per_s=100, burst=200)
    assert bucket.available(0) == 200
    bucket.take(200, 0)
    assert bucket.available(0) == 0
    assert bucket.wait_ms(50, 0) == 501  # 50 events at 100/s
    assert bucket.available(500) == 50
    assert bucket.available(10_000) == 200  # capped at the burst
    # A clock that goes backwards does not mint tokens.
    bucket.take(200, 10_000)
    assert bucket.available(5_000) == 0


def test_inflight_window_ack_and_cursor() -> None:
    limits = OutboxLimits(max_in_flight=2)
    flights = InFlight()
    assert flights.room(limits) == 2 and flights.cursor == -1
    flights.sent(1, 0, 99, now_ms=0)
    flights.sent(2, 100, 199, now_ms=0)
    assert flights.room(limits) == 0 and flights.cursor == 199
    assert flights.acked(1) is not None and flights.acked(1) is None  # a second ack is ignored
    assert flights.room(limits) == 1


def test_rejected_and_expired_batches_are_sent_again_from_their_start() -> None:
    limits = OutboxLimits(ack_timeout_s=10)
    flights = InFlight()
    flights.sent(7, 0, 9, now_ms=0)
    flights.sent(8, 10, 19, now_ms=5_000)
    assert flights.expired(9_999, limits) == []
    assert flights.expired(10_000, limits) == [7]
    flights.rejected(7)
    # Everything from seq 0 goes again, including the later flight.
    assert flights.cursor == -1 and len(flights) == 0
    flights.sent(9, 0, 19, now_ms=20_000)
    flights.restamp(100_000)  # reconnect: paho resends, the timeout restarts
    assert flights.expired(109_999, limits) == []


def test_reused_message_id_requeues_the_older_batch() -> None:
    flights = InFlight()
    flights.sent(1, 0, 9, now_ms=0)
    flights.sent(1, 10, 19, now_ms=1)
    # The older batch lost its ack mapping: everything from its start goes again.
    assert flights.flights[1].lo == 10 and flights.cursor == -1


def test_limits_refuse_an_unbounded_window() -> None:
    with pytest.raises(ValueError, match="packet ids"):
        OutboxLimits(max_in_flight=65_535)
