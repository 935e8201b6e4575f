"""Which path `compute` takes, and that both give the reference's numbers.

Events as the database returns them take the one-pass sweep; anything the sweep cannot
take in one pass (an event earlier than the one before, a node's seq going back, one desk
named by two nodes at one instant with seq out of order) falls back to the grouping path.
The same facts must give the same tables either way.
"""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pytest
import reference
from harness import inventory, ms, run, site
from hubsense.analytics.kernels.sweep_steps import booking_toggles
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import Booking, Event

START = dt.date(2026, 3, 2)  # a Monday
END = dt.date(2026, 3, 4)
INV = inventory(
    site(
        "hq",
        {"n1": ["d1", "d2"], "n2": ["d3"]},
        {"mon": ["08:00-17:00"], "tue": ["08:00-17:00"]},
        heartbeat_s=600,
    )
)
BOOKINGS = [
    Booking("b1", "hq", "d1", ms("2026-03-02T09:00:00+01:00"), ms("2026-03-02T12:00:00+01:00")),
    Booking("b2", "hq", "d3", ms("2026-03-03T08:00:00+01:00"), ms("2026-03-03T18:00:00+01:00")),
]


def stored() -> list[Event]:
    """Two working days: alives every 10 minutes, desks coming and going, by (ts, seq)."""
    rng = random.Random(5)
    raw: list[tuple[int, str, str, str, str]] = []
    for day in (START, START + dt.timedelta(days=1)):
        t0 = ms(f"{day.isoformat()}T07:00:00+01:00")
        for node in ("n1", "n2"):
            raw += [(t0 + i * 600_000, node, "alive", "", "") for i in range(70)]
        for desk, node in (("d1", "n1"), ("d2", "n1"), ("d3", "n2")):
            times = sorted(rng.sample(range(t0 + 3_600_000, t0 + 40_000_000, 60_000), 6))
            for i, t in enumerate(times):
                raw.append((t, node, "desk", desk, "occupied" if i % 2 == 0 else "vacant"))
    raw.sort()
    seqs = {"n1": 0, "n2": 0}
    events = []
    for t, node, kind, desk, state in raw:
        events.append(Event(node, seqs[node], t, kind, desk, state))
        seqs[node] += 1
    return events


def tables_of(events: list[Event], bucket: str) -> tuple[str, dict[str, list[list[object]]]]:
    results, tables = run(INV, events, BOOKINGS, START, END, bucket)
    return results.path, tables


def expected(events: list[Event], bucket: str) -> dict[str, list[list[object]]]:
    return reference.compute(INV, events, BOOKINGS, START, END, bucket)


@pytest.mark.parametrize("bucket", ["hour", "day"])
def test_stored_order_takes_the_sweep(bucket: str) -> None:
    events = stored()
    path, got = tables_of(events, bucket)
    assert path == "sweep"
    assert got == expected(events, bucket)
    # Not a vacuous comparison: somebody was there, and observed.
    assert any(row[4] > 0 for row in got["desk_metrics"])


def test_late_event_takes_the_grouping_path() -> None:
    events = stored()
    late = events.pop(40)  # arrives after everything else
    events.append(late)
    path, got = tables_of(events, "day")
    assert path == "grouped"
    assert got == expected(events, "day") == tables_of(stored(), "day")[1]


def test_repeated_node_seq_takes_the_grouping_path() -> None:
    events = stored()
    first = next(e for e in events if e.type == "desk" and e.state == "occupied")
    # The same (node, seq) again, later, saying otherwise: the first read wins.
    events.append(Event(first.node, first.seq, events[-1].ts + 1, "desk", first.desk, "vacant"))
    path, got = tables_of(events, "day")
    assert path == "grouped"
    assert got == expected(events, "day") == tables_of(stored(), "day")[1]


def test_desk_named_by_two_nodes_at_one_instant() -> None:
    """n2 reports d1 (n1's desk) at the instant of n1's own d1 event, read after it but with a
    lower seq: (ts, seq) order per desk puts n2's report first, so n1's decides the state."""
    # n1's seqs from 1000 on, so any n2 seq is lower.
    events = [
        Event(e.node, e.seq + 1000, e.ts, e.type, e.desk, e.state) if e.node == "n1" else e
        for e in stored()
    ]
    at, own = next((i, e) for i, e in enumerate(events) if e.desk == "d1" and e.state == "occupied")
    n2_before = max(e.seq for e in events[:at] if e.node == "n2")
    # n2's later events make room for the new seq, so n2's own order stays rising.
    events = [
        Event(e.node, e.seq + 1, e.ts, e.type, e.desk, e.state)
        if e.node == "n2" and e.seq > n2_before
        else e
        for e in events
    ]
    foreign = Event("n2", n2_before + 1, own.ts, "desk", "d1", "vacant")
    events.insert(at + 1, foreign)
    path, got = tables_of(events, "day")
    assert path == "grouped"
    want = expected(events, "day")
    assert got == want
    # The foreign report changes nothing here: n1's later one at that instant wins.
    assert want == expected([e for e in events if e != foreign], "day")
    # In (ts, seq) order the sweep takes the same events, with the same numbers.
    path, again = tables_of(sorted(events, key=lambda e: (e.ts, e.seq)), "day")
    assert path == "sweep"
    assert again == got


@settings(max_examples=200, deadline=None)
@given(
    spans=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 30)), max_size=40),
    by_start=st.booleans(),
    ends_sorted=st.booleans(),
)
def test_booking_toggles_in_time_order_either_way(
    spans: list[tuple[int, int]], by_start: bool, ends_sorted: bool
) -> None:
    # The merge (starts and ends each ascending) and the radix sort (anything else) must
    # both give (time, start before end, booking) order: a stable sort of 2t + is_end.
    if by_start:
        spans.sort()
    start = np.asarray([s for s, _ in spans], dtype=np.int64)
    end = start + np.asarray([d for _, d in spans], dtype=np.int64)
    if ends_sorted:
        end = np.sort(end)
        start = np.minimum(start, end)
    keys = np.empty(2 * len(spans), dtype=np.int64)
    keys[0::2], keys[1::2] = 2 * start, 2 * end + 1
    assert booking_toggles(start, end).tolist() == np.argsort(keys, kind="stable").tolist()
