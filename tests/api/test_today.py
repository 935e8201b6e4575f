"""Today's live summary (pure parts): opening hours with daylight saving, co-presence and peak,
desk classification; hand cases."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hubsense.api.occupancy import DeskNowRow, DeskStatus, classify, count
from hubsense.api.today import copresence, intersect, opening_spans, summarise
from hubsense.bookings.release import DeskChange, NodeBeat

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


def test_opening_spans_on_the_spring_daylight_saving_day() -> None:
    day = dt.date(2026, 3, 29)  # Sunday; clocks go 02:00 -> 03:00 local
    hours = {"sun": ["00:00-02:30", "07:00-18:00", "20:00-24:00"]}
    assert opening_spans(hours, set(), day, STOCKHOLM) == [
        # 02:30 does not exist: it takes the offset from before the gap (+01:00).
        (ms("2026-03-28T23:00:00Z"), ms("2026-03-29T01:30:00Z")),
        (ms("2026-03-29T05:00:00Z"), ms("2026-03-29T16:00:00Z")),
        # 24:00 is the next midnight.
        (ms("2026-03-29T18:00:00Z"), ms("2026-03-29T22:00:00Z")),
    ]
    assert opening_spans(hours, {day}, day, STOCKHOLM) == []
    assert opening_spans(hours, set(), dt.date(2026, 3, 30), STOCKHOLM) == []  # no Monday hours


def test_opening_spans_on_the_autumn_day_take_the_first_occurrence() -> None:
    day = dt.date(2026, 10, 25)  # clocks go 03:00 -> 02:00 local
    assert opening_spans({"sun": ["02:30-04:00"]}, set(), day, STOCKHOLM) == [
        (ms("2026-10-25T00:30:00Z"), ms("2026-10-25T03:00:00Z"))
    ]


def test_copresence_and_peak() -> None:
    assert copresence([[(0, 10)], [(5, 20)], [(8, 12)]]) == (7, 3, 8)
    # Half-open: one leaving as another arrives is never two at once.
    assert copresence([[(0, 5)], [(5, 10)]]) == (0, 1, 0)
    assert copresence([[], []]) == (0, 0, None)
    assert copresence([[(0, 4), (6, 9)], [(2, 7)]]) == (2 + 1, 2, 2)
    assert intersect([(0, 10), (20, 30)], [(5, 25)]) == [(5, 10), (20, 25)]


def test_summarise_counts_only_observed_occupancy_inside_opening_hours() -> None:
    day = dt.date(2026, 3, 2)  # Monday, +01:00
    hours = {"mon": ["08:00-17:00"]}
    t = ms("2026-03-02T06:30:00Z")  # 07:30 local, before opening
    hour = 3_600_000
    changes = {
        "a": [DeskChange(t, 1, True)],  # from 07:30 on
        "b": [DeskChange(t + hour, 2, True), DeskChange(t + 3 * hour, 3, False)],  # 08:30-10:30
        "c": [DeskChange(t + 2 * hour, 4, True)],  # 09:30 on, but its node stops at 10:00
    }
    beats = {
        "n1": [NodeBeat(t + i * 60_000, 100 + i, True) for i in range(0, 300)],
        "n2": [
            *[NodeBeat(t + i * 60_000, 1 + i, True) for i in range(0, 150)],
            NodeBeat(t + 150 * 60_000, 500, False),
        ],
    }
    today = summarise(
        day, STOCKHOLM, hours, set(), changes, {"a": "n1", "b": "n1", "c": "n2"}, beats,
        {"n1": 60_000, "n2": 60_000}, t + 6 * hour,
    )  # fmt: skip
    assert today.open and today.opening_hours == ["08:00-17:00"] and today.open_now
    # Two or more at once: 08:30-10:30 (a and b), plus c's 09:30-10:00 adds no new time.
    assert today.copresence_s == 2 * 3600
    assert today.peak == 3
    assert today.peak_at == dt.datetime(2026, 3, 2, 8, 30, tzinfo=dt.UTC)


def row(**fields: object) -> DeskNowRow:
    base: dict[str, object] = {
        "desk": "d", "zone": "z", "node": "n", "heartbeat_s": 60, "node_online": True,
        "occupied": False, "state_since": None, "beat_alive": True,
        "beat_at": dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC), "booking_id": None,
        "booking_end": None,
    }  # fmt: skip
    base |= fields
    return DeskNowRow(**base)  # type: ignore[arg-type]


def test_classify_desks_now() -> None:
    now = dt.datetime(2026, 3, 2, 8, 2, 59, tzinfo=dt.UTC)
    later = dt.datetime(2026, 3, 2, 8, 3, 0, tzinfo=dt.UTC)
    assert classify(row(), now).status is DeskStatus.FREE
    assert classify(row(), later).status is DeskStatus.UNKNOWN  # three heartbeats passed
    walk_in = classify(row(occupied=True), now)
    assert (walk_in.status, walk_in.walk_in) == (DeskStatus.OCCUPIED, True)
    checked_in = classify(row(occupied=True, booking_id="b"), now)
    assert (checked_in.status, checked_in.walk_in) == (DeskStatus.OCCUPIED, False)
    assert classify(row(booking_id="b"), now).status is DeskStatus.BOOKED
    assert classify(row(node_online=False), now).status is DeskStatus.UNKNOWN
    assert classify(row(beat_alive=False), now).status is DeskStatus.UNKNOWN
    # The node is alive but says it cannot tell (a silent or failing sensor), booked or not.
    assert classify(row(state_unknown=True), now).status is DeskStatus.UNKNOWN
    assert classify(row(state_unknown=True, booking_id="b"), now).status is DeskStatus.UNKNOWN
    assert classify(row(node=None, beat_alive=None, beat_at=None), now).status is DeskStatus.UNKNOWN
    desks = [classify(r, now) for r in (row(), row(occupied=True), row(booking_id="b"))]
    assert count(desks) == {
        "free": 1, "occupied": 1, "booked": 1, "unknown": 0, "walk_in": 1, "total": 3
    }  # fmt: skip
