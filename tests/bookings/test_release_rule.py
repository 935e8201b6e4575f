"""The pure release rule (SPEC §7), hand cases: feed events, assert the decision."""

from __future__ import annotations

import pytest
from hubsense.bookings.release import (
    DeskChange,
    NodeBeat,
    Verdict,
    decide,
    first_overlap,
    observed_spans,
    occupied_spans,
)

MIN = 60_000
HB = 60_000  # heartbeat 60 s: an alive covers 3 min
T0 = 1_800_000_000_000  # booking start
END = T0 + 8 * 60 * MIN
AFTER = 15 * MIN


def alives(first_ms: int, last_ms: int, every_ms: int = HB, seq0: int = 0) -> list[NodeBeat]:
    return [
        NodeBeat(ts, seq0 + i, True) for i, ts in enumerate(range(first_ms, last_ms + 1, every_ms))
    ]


def vacant(ts_ms: int, seq: int = 0) -> DeskChange:
    return DeskChange(ts_ms, seq, False)


def occupied(ts_ms: int, seq: int = 0) -> DeskChange:
    return DeskChange(ts_ms, seq, True)


def run(
    changes: list[DeskChange],
    beats: list[NodeBeat],
    now_ms: int,
    end_ms: int = END,
    after_ms: int = AFTER,
) -> tuple[Verdict, int | None]:
    decision = decide(T0, end_ms, after_ms, changes, beats, HB, now_ms)
    return decision.verdict, decision.at_ms


def test_vacant_and_observed_throughout_is_released_exactly_after_release_after() -> None:
    beats = alives(T0 - 10 * MIN, T0 + 60 * MIN)
    changes = [vacant(T0 - 30 * MIN)]
    assert run(changes, beats, T0 + AFTER - 1) == (Verdict.WAIT, None)
    assert run(changes, beats, T0 + AFTER) == (Verdict.RELEASE, T0 + AFTER)
    # Evaluated late, the release is still due at the same instant.
    assert run(changes, beats, T0 + 40 * MIN) == (Verdict.RELEASE, T0 + AFTER)


def test_occupied_after_start_is_a_check_in() -> None:
    beats = alives(T0 - 10 * MIN, T0 + 60 * MIN)
    changes = [vacant(T0 - 30 * MIN, 1), occupied(T0 + 5 * MIN, 2), vacant(T0 + 7 * MIN, 3)]
    assert run(changes, beats, T0 + 30 * MIN) == (Verdict.CHECKED_IN, T0 + 5 * MIN)


def test_occupied_from_before_the_start_carries_in() -> None:
    beats = alives(T0 - 10 * MIN, T0 + 60 * MIN)
    assert run([occupied(T0 - 20 * MIN)], beats, T0 + 30 * MIN) == (Verdict.CHECKED_IN, T0)


def test_left_before_the_start_does_not_count() -> None:
    beats = alives(T0 - 40 * MIN, T0 + 60 * MIN)
    changes = [occupied(T0 - 20 * MIN, 1), vacant(T0 - 1, 2)]
    assert run(changes, beats, T0 + 20 * MIN) == (Verdict.RELEASE, T0 + AFTER)


def test_vacant_at_exactly_the_start_instant_is_not_a_check_in() -> None:
    beats = alives(T0 - 40 * MIN, T0 + 60 * MIN)
    changes = [occupied(T0 - 20 * MIN, 1), vacant(T0, 2)]
    assert run(changes, beats, T0 + 20 * MIN) == (Verdict.RELEASE, T0 + AFTER)


def test_zero_length_occupancy_at_one_instant_is_not_a_check_in() -> None:
    beats = alives(T0 - 10 * MIN, T0 + 60 * MIN)
    changes = [vacant(T0 - 30 * MIN, 1), occupied(T0 + 5 * MIN, 2), vacant(T0 + 5 * MIN, 3)]
    assert run(changes, beats, T0 + 20 * MIN) == (Verdict.RELEASE, T0 + AFTER)


def test_an_observation_gap_restarts_the_clock() -> None:
    # Node stops at +5 min and comes back at +10 min: the first stretch is too short.
    beats = [
        *alives(T0 - 10 * MIN, T0 + 4 * MIN, seq0=0),
        NodeBeat(T0 + 5 * MIN, 100, False),
        *alives(T0 + 10 * MIN, T0 + 60 * MIN, seq0=200),
    ]
    changes = [vacant(T0 - 30 * MIN)]
    assert run(changes, beats, T0 + 24 * MIN) == (Verdict.WAIT, None)
    assert run(changes, beats, T0 + 25 * MIN) == (Verdict.RELEASE, T0 + 25 * MIN)


def test_silent_node_gap_from_missing_alives() -> None:
    # Alives stop at +4 min: cover ends at +7 min; they resume at +12 min.
    beats = [*alives(T0 - 10 * MIN, T0 + 4 * MIN), *alives(T0 + 12 * MIN, T0 + 60 * MIN, seq0=50)]
    assert run([vacant(T0 - 1)], beats, T0 + 27 * MIN - 1) == (Verdict.WAIT, None)
    assert run([vacant(T0 - 1)], beats, T0 + 27 * MIN) == (Verdict.RELEASE, T0 + 27 * MIN)


def test_occupied_only_while_unobserved_is_not_a_check_in() -> None:
    beats = [
        *alives(T0 - 10 * MIN, T0 + 4 * MIN, seq0=0),
        NodeBeat(T0 + 5 * MIN, 100, False),
        *alives(T0 + 10 * MIN, T0 + 60 * MIN, seq0=200),
    ]
    changes = [vacant(T0 - 30 * MIN, 1), occupied(T0 + 6 * MIN, 2), vacant(T0 + 8 * MIN, 3)]
    assert run(changes, beats, T0 + 30 * MIN) == (Verdict.RELEASE, T0 + 25 * MIN)


def test_occupied_state_carried_into_a_new_observation_is_a_check_in() -> None:
    # Alives until +2 min cover until +5 min; the occupancy at +6 min is seen from +10 min.
    beats = [*alives(T0 - 10 * MIN, T0 + 2 * MIN), *alives(T0 + 10 * MIN, T0 + 60 * MIN, seq0=50)]
    changes = [vacant(T0 - 30 * MIN, 1), occupied(T0 + 6 * MIN, 2)]
    assert run(changes, beats, T0 + 30 * MIN) == (Verdict.CHECKED_IN, T0 + 10 * MIN)


def test_never_observed_waits_then_ends() -> None:
    assert run([vacant(T0 - 1)], [], T0 + 60 * MIN) == (Verdict.WAIT, None)
    assert run([vacant(T0 - 1)], [], END) == (Verdict.ENDED, None)


def test_observed_without_any_desk_event_counts_as_vacant() -> None:
    beats = alives(T0, T0 + 30 * MIN)
    assert run([], beats, T0 + 16 * MIN) == (Verdict.RELEASE, T0 + AFTER)


def test_booking_shorter_than_release_after_is_never_released() -> None:
    beats = alives(T0 - 10 * MIN, T0 + 60 * MIN)
    assert run([vacant(T0 - 1)], beats, T0 + 5 * MIN, end_ms=T0 + AFTER) == (Verdict.ENDED, None)
    assert run([vacant(T0 - 1)], beats, T0 + 20 * MIN, end_ms=T0 + AFTER) == (Verdict.ENDED, None)


def test_due_one_millisecond_before_the_end_still_releases() -> None:
    beats = alives(T0 - 10 * MIN, T0 + 60 * MIN)
    end = T0 + AFTER + 1
    assert run([vacant(T0 - 1)], beats, T0 + AFTER, end_ms=end) == (Verdict.RELEASE, T0 + AFTER)


def test_a_stretch_ending_exactly_at_due_is_long_enough() -> None:
    # One alive at T0 with heartbeat 5 min covers exactly [T0, T0 + 15 min).
    beats = [NodeBeat(T0, 1, True)]
    decision = decide(T0, END, AFTER, [vacant(T0 - 1)], beats, 5 * MIN, T0 + 40 * MIN)
    assert (decision.verdict, decision.at_ms) == (Verdict.RELEASE, T0 + AFTER)
    decision = decide(T0, END, AFTER + 1, [vacant(T0 - 1)], beats, 5 * MIN, T0 + 40 * MIN)
    assert (decision.verdict, decision.at_ms) == (Verdict.WAIT, None)


def test_alive_before_the_start_covers_into_it() -> None:
    # Alives every minute until T0 - 1 min: cover ends at T0 + 2 min; nothing afterwards.
    beats = alives(T0 - 30 * MIN, T0 - MIN)
    assert run([vacant(T0 - 1)], beats, T0 + 20 * MIN) == (Verdict.WAIT, None)


def test_unsorted_input_and_same_timestamp_ordered_by_seq() -> None:
    beats = list(reversed(alives(T0 - 10 * MIN, T0 + 60 * MIN)))
    # Same ts: seq 2 (vacant) comes after seq 1 (occupied), so the desk is vacant.
    changes = [vacant(T0 - 5 * MIN, 2), occupied(T0 - 5 * MIN, 1)]
    assert run(changes, beats, T0 + 20 * MIN) == (Verdict.RELEASE, T0 + AFTER)
    changes = [vacant(T0 - 5 * MIN, 1), occupied(T0 - 5 * MIN, 2)]
    assert run(changes, beats, T0 + 20 * MIN) == (Verdict.CHECKED_IN, T0)


def test_spans_helpers() -> None:
    beats = [
        NodeBeat(0, 0, True),
        NodeBeat(100, 1, True),
        NodeBeat(150, 2, False),
        NodeBeat(400, 3, True),
    ]
    assert observed_spans(beats, 60) == [(0, 150), (400, 580)]
    changes = [
        DeskChange(10, 0, True),
        DeskChange(20, 1, True),
        DeskChange(30, 2, False),
        DeskChange(50, 3, True),
    ]
    assert occupied_spans(changes) == [(10, 30), (50, 2**62)]
    assert first_overlap([(0, 10), (20, 30)], [(10, 20), (25, 40)]) == 25
    assert first_overlap([(0, 10)], [(10, 20)]) is None


def test_release_after_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        decide(T0, END, 0, [], [], HB, T0)
