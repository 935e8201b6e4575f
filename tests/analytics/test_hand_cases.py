"""Hand-computed SPEC §6 cases; the arithmetic is written next to every expected number."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import reference
from harness import inventory, ms, run, site
from reference import Booking, Event

ALWAYS = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
OFFICE = {day: ["08:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def rows_of(table: list[list[object]], desk: str) -> list[list[object]]:
    return [row for row in table if row[1] == desk]


def test_desk_across_spring_dst_in_hour_buckets() -> None:
    # Stockholm, Sunday 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z); the day has 23 hours.
    inv = inventory(site("hq", {"n1": ["d1"]}, ALWAYS, heartbeat_s=86_400))
    events = [
        Event(
            "n1", 1, ms("2026-03-28T00:00:00+00:00"), "alive"
        ),  # covers 3 x 86400 s: the whole day
        Event("n1", 2, ms("2026-03-29T01:30:00+01:00"), "desk", "d1", "occupied"),  # 00:30Z
        Event(
            "n1", 3, ms("2026-03-29T03:30:00+02:00"), "desk", "d1", "vacant"
        ),  # 01:30Z: 1 real hour
    ]
    _, t = run(inv, events, [], dt.date(2026, 3, 29), dt.date(2026, 3, 30), "hour")
    rows = t["desk_metrics"]
    assert len(rows) == 23  # 00, 01, 03, 04, …, 23 local
    assert [r[2] for r in rows[:4]] == [
        "2026-03-29T00:00:00+01:00",
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T04:00:00+02:00",
    ]
    assert all(r[3] == 3600 for r in rows)  # every bucket one real hour, all observed
    # occupied [00:30Z, 01:30Z): 1800 s in the 01:00+01:00 bucket, 1800 s in 03:00+02:00.
    assert [r[4] for r in rows[:4]] == [0, 1800, 1800, 0]
    assert sum(r[4] for r in rows) == 3600
    # The day's peak is 1, first reached at 01:30+01:00; that one desk alone for 3600 s,
    # used (3600 >= 1800).
    assert t["site_daily"] == [
        ["hq", "2026-03-29", "true", 1, "2026-03-29T01:30:00+01:00", 0, 3600, 1]
    ]


def test_desk_across_autumn_dst_in_hour_and_day_buckets() -> None:
    # Stockholm, Sunday 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00Z); 25 hours.
    inv = inventory(site("hq", {"n1": ["d1"]}, ALWAYS, heartbeat_s=86_400))
    events = [
        Event("n1", 1, ms("2026-10-24T00:00:00+00:00"), "alive"),
        Event(
            "n1", 2, ms("2026-10-25T01:30:00+02:00"), "desk", "d1", "occupied"
        ),  # 23:30Z on the 24th
        Event(
            "n1", 3, ms("2026-10-25T02:30:00+01:00"), "desk", "d1", "vacant"
        ),  # 01:30Z: 2 real hours
    ]
    start, end = dt.date(2026, 10, 25), dt.date(2026, 10, 26)
    _, t = run(inv, events, [], start, end, "hour")
    rows = t["desk_metrics"]
    assert len(rows) == 25
    assert [r[2] for r in rows[1:5]] == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",  # the repeated hour, one real hour later
        "2026-10-25T03:00:00+01:00",
    ]
    # 23:30Z-00:00Z = 1800 s, 00:00Z-01:00Z = 3600 s, 01:00Z-01:30Z = 1800 s.
    assert [r[4] for r in rows[1:5]] == [1800, 3600, 1800, 0]
    _, t = run(inv, events, [], start, end, "day")
    # One day bucket of 25 h: observed 25 x 3600 = 90000 s, occupied 7200 s.
    assert t["desk_metrics"] == [
        ["hq", "d1", "2026-10-25T00:00:00+02:00", 90000, 7200, 0, 0, 0, 7200]
    ]


def test_opening_hours_in_the_dst_gap_and_overlap() -> None:
    # Spring 2026-03-29: "01:00-02:30": 01:00+01 = 00:00Z; 02:30 does not exist, takes the offset
    # before the gap (+01) = 01:30Z → 5400 s. "02:45-04:00": 02:45+01 = 01:45Z to
    # 04:00+02 = 02:00Z → 900 s.
    spring = {"sun": ["01:00-02:30", "02:45-04:00"]}
    inv = inventory(site("hq", {"n1": ["d1"]}, spring, heartbeat_s=86_400))
    alive = [Event("n1", 1, ms("2026-03-27T00:00:00+00:00"), "alive")]
    _, t = run(inv, alive, [], dt.date(2026, 3, 29), dt.date(2026, 3, 30), "day")
    assert t["desk_metrics"][0][3] == 5400 + 900
    # Autumn 2026-10-25: "02:30-03:00": 02:30 occurs twice, the first (+02) = 00:30Z;
    # 03:00+01 = 02:00Z
    # → 1.5 real hours = 5400 s.
    inv = inventory(site("hq", {"n1": ["d1"]}, {"sun": ["02:30-03:00"]}, heartbeat_s=86_400))
    alive = [Event("n1", 1, ms("2026-10-23T00:00:00+00:00"), "alive")]
    _, t = run(inv, alive, [], dt.date(2026, 10, 25), dt.date(2026, 10, 26), "day")
    assert t["desk_metrics"][0][3] == 5400


def test_booking_across_midnight() -> None:
    inv = inventory(site("hq", {"n1": ["d1"]}, OFFICE, heartbeat_s=86_400))
    events = [
        Event("n1", 1, ms("2026-03-02T00:00:00+00:00"), "alive"),  # observed until 03-05 00:00Z
        Event("n1", 2, ms("2026-03-03T15:00:00+01:00"), "desk", "d1", "occupied"),
        Event("n1", 3, ms("2026-03-03T16:30:00+01:00"), "desk", "d1", "vacant"),
        Event("n1", 4, ms("2026-03-04T09:30:00+01:00"), "desk", "d1", "occupied"),
        Event("n1", 5, ms("2026-03-04T12:00:00+01:00"), "desk", "d1", "vacant"),
    ]
    booking = Booking(
        "b1", "hq", "d1", ms("2026-03-03T16:00:00+01:00"), ms("2026-03-04T10:00:00+01:00")
    )
    _, t = run(inv, events, [booking], dt.date(2026, 3, 3), dt.date(2026, 3, 5), "day")
    assert t["desk_metrics"] == [
        # Tue: open 08-17 = 32400 s observed; occupied 15:00-16:30 = 5400; booked ∩ H 16-17 = 3600;
        # booked occupied 16:00-16:30 = 1800; unbooked 5400 - 1800 = 3600.
        ["hq", "d1", "2026-03-03T00:00:00+01:00", 32400, 5400, 3600, 3600, 1800, 3600],
        # Wed: occupied 09:30-12:00 = 9000; booked ∩ H 08-10 = 7200;
        # booked occupied 09:30-10 = 1800.
        ["hq", "d1", "2026-03-04T00:00:00+01:00", 32400, 9000, 7200, 7200, 1800, 7200],
    ]
    # Per booking, opening hours do not apply: 18 h = 64800 s observed; occupied 16:00-16:30 and
    # 09:30-10:00 = 3600 s; 64800 >= 64800/2 and 3600 >= min(900, 32400): attended.
    assert t["booking_outcomes"] == [["b1", "hq", "d1", 64800, 3600, "attended"]]


def test_a_node_that_stops_and_one_that_goes_silent() -> None:
    inv = inventory(site("hq", {"n1": ["d1"], "n2": ["d2"]}, ALWAYS, heartbeat_s=60))
    nine = ms("2026-03-02T09:00:00+01:00")
    events = [
        Event("n1", 1, nine, "alive"),  # [09:00, 09:01): cut by the next alive
        Event("n1", 2, nine + 60_000, "alive"),  # [09:01, 09:01:30): cut by the stop
        Event("n1", 3, nine + 90_000, "stop"),
        Event("n2", 1, nine, "alive"),  # [09:00, 09:01)
        Event(
            "n2", 2, nine + 60_000, "alive"
        ),  # silent afterwards: [09:01, 09:01 + 3 x 60 s = 09:04)
        Event("n1", 4, nine - 3_600_000, "desk", "d1", "occupied"),  # occupied since 08:00
        Event("n2", 3, nine - 3_600_000, "desk", "d2", "occupied"),
    ]
    _, t = run(inv, events, [], dt.date(2026, 3, 2), dt.date(2026, 3, 3), "day")
    assert [r[3:5] for r in t["desk_metrics"]] == [[90, 90], [240, 240]]
    # Both desks in O ∩ C from 09:00 until n1 stops at 09:01:30: peak 2 at 09:00, co-presence 90 s;
    # then d2 alone until its cover ends at 09:04: 150 s. Neither reaches 1800 s: 0 desks used.
    assert t["site_daily"] == [
        ["hq", "2026-03-02", "true", 2, "2026-03-02T09:00:00+01:00", 90, 150, 0]
    ]


def test_duplicate_events_first_read_wins() -> None:
    inv = inventory(site("hq", {"n1": ["d1"]}, ALWAYS, heartbeat_s=86_400))
    ten = ms("2026-03-02T10:00:00+01:00")
    events = [
        Event("n1", 1, ten - 3_600_000, "alive"),
        Event("n1", 5, ten, "desk", "d1", "occupied"),
        Event("n1", 6, ten + 3_600_000, "desk", "d1", "vacant"),  # read first: 11:00 wins
        Event(
            "n1", 6, ten + 1_800_000, "desk", "d1", "vacant"
        ),  # same (node, seq) read later: ignored
        Event("n1", 1, ten + 7_200_000, "stop"),  # a duplicate of the alive's seq: ignored too
    ]
    _, t = run(inv, events, [], dt.date(2026, 3, 2), dt.date(2026, 3, 3), "day")
    # occupied 10:00-11:00 = 3600 s (not 1800); observed from 09:00 to the day's end
    # (no stop) = 15 h.
    assert t["desk_metrics"][0][3:5] == [15 * 3600, 3600]


def test_a_closed_date() -> None:
    inv = inventory(
        site("hq", {"n1": ["d1"]}, OFFICE, heartbeat_s=86_400 * 3, closed=[dt.date(2026, 3, 4)])
    )
    events = [
        Event("n1", 1, ms("2026-03-01T00:00:00+00:00"), "alive"),  # observed 03-01 to 03-10
        Event(
            "n1", 2, ms("2026-03-02T09:00:00+01:00"), "desk", "d1", "occupied"
        ),  # occupied all week
    ]
    _, t = run(inv, events, [], dt.date(2026, 3, 2), dt.date(2026, 3, 7), "day")
    # Mon-Fri except the closed Wednesday: 9 h = 32400 s observed, occupied from 09:00 on Monday.
    assert [r[3:5] for r in t["desk_metrics"]] == [
        [32400, 28800],
        [32400, 32400],
        [0, 0],
        [32400, 32400],
        [32400, 32400],
    ]
    assert t["site_daily"][2] == ["hq", "2026-03-04", "false", 0, "", 0, 0, 0]
    # Tuesday: the one desk is alone the whole 9 opening hours, and used.
    assert t["site_daily"][1] == [
        "hq", "2026-03-03", "true", 1, "2026-03-03T08:00:00+01:00", 0, 32400, 1
    ]  # fmt: skip
    # Four open days, each with peak 1: the 95th percentile is ⌈0.95 x 4⌉ = 4th = 1;
    # surplus 1 - 1 = 0.
    assert t["site_summary"] == [["hq", 4, 1, 1, 0]]


def test_opening_hours_all_day_carry_over_midnight() -> None:
    inv = inventory(site("hq", {"n1": ["d1"]}, ALWAYS, heartbeat_s=86_400))
    events = [
        Event("n1", 1, ms("2026-03-02T00:00:00+00:00"), "alive"),
        Event("n1", 2, ms("2026-03-02T22:00:00+01:00"), "desk", "d1", "occupied"),
        Event("n1", 3, ms("2026-03-03T02:00:00+01:00"), "desk", "d1", "vacant"),
    ]
    _, t = run(inv, events, [], dt.date(2026, 3, 2), dt.date(2026, 3, 4), "day")
    # 00:00-24:00 is the whole day and 24:00 the next midnight: 22-24 = 7200 s, 00-02 = 7200 s.
    assert [r[4] for r in t["desk_metrics"]] == [7200, 7200]
    # Observed from 01:00 local (00:00Z) on the 2nd: 23 h, then 24 h.
    assert [r[3] for r in t["desk_metrics"]] == [23 * 3600, 24 * 3600]
    # The desk is still there at midnight: the 3rd's peak is 1, first reached at 00:00.
    assert [r[3:5] for r in t["site_daily"]] == [
        [1, "2026-03-02T22:00:00+01:00"],
        [1, "2026-03-03T00:00:00+01:00"],
    ]


def test_peak_ties_leave_at_the_instant_another_arrives() -> None:
    inv = inventory(site("hq", {"n1": ["d1", "d2", "d3"]}, ALWAYS, heartbeat_s=86_400))
    nine = ms("2026-03-02T09:00:00+01:00")
    hour = 3_600_000
    events = [
        Event("n1", 1, nine - hour, "alive"),
        Event("n1", 2, nine, "desk", "d1", "occupied"),
        Event("n1", 3, nine + hour, "desk", "d1", "vacant"),  # d1 leaves at 10:00 …
        Event("n1", 4, nine + hour, "desk", "d2", "occupied"),  # … as d2 arrives: still 1 at 10:00
        Event("n1", 5, nine + 2 * hour, "desk", "d2", "vacant"),
        Event("n1", 6, nine + hour + 900_250, "desk", "d3", "occupied"),  # 10:15:00.250
        Event("n1", 7, nine + hour + 2_700_000, "desk", "d3", "vacant"),  # 10:45
    ]
    _, t = run(inv, events, [], dt.date(2026, 3, 2), dt.date(2026, 3, 3), "day")
    # Peak 2 first at 10:15:00.250 (d2 + d3); co-presence 10:15:00.250-10:45 = 1799.750 s → 1799.
    # Alone: 09:00-10:15:00.250 (d1 then d2) = 4500.250 s and 10:45-11:00 = 900 s → 5400.
    # Used: d1 3600 s and d2 3600 s, not d3 (1799.750 s < 1800).
    assert t["site_daily"] == [
        ["hq", "2026-03-02", "true", 2, "2026-03-02T10:15:00.250+01:00", 1799, 5400, 2]
    ]
    assert t["site_summary"] == [["hq", 1, 3, 2, 1]]


def test_booking_outcome_thresholds_equality_is_not_less() -> None:
    inv = inventory(site("hq", {"n1": ["d1"]}, ALWAYS, heartbeat_s=600))
    t0 = ms("2026-03-02T09:00:00+01:00")
    half = 900_000  # the bookings last 30 min; half is 900 000 ms = noshow_min 900 s
    events = [
        Event("n1", 1, t0, "alive"),  # observed [t0, t0 + 900 000) exactly: cut by the stop
        Event("n1", 2, t0 + half, "stop"),
        Event("n1", 3, t0, "desk", "d1", "occupied"),
        Event("n1", 4, t0 + half - 1, "desk", "d1", "vacant"),  # occupied 899 999 ms
        Event("n1", 5, ms("2026-03-03T09:00:00+01:00"), "alive"),
        Event("n1", 6, ms("2026-03-03T09:00:00+01:00"), "desk", "d1", "occupied"),
    ]
    t1 = ms("2026-03-03T09:00:00+01:00")
    bookings = [
        # observed 900 000 = half: not unknown; occupied 899 999 < min(900 000, 900 000): no_show.
        Booking("exact-half", "hq", "d1", t0, t0 + 2 * half),
        # observed 899 999 (starts 1 ms later, ends at the stop) < 900 000: unknown.
        Booking("short-observed", "hq", "d1", t0 + 1, t0 + 2 * half + 1),
        # Next day: the alive at 09:00 covers 3 x 600 s = until 09:30, so of [09:15, 09:45)
        # 900 000 ms are observed (= half: not unknown) and occupied (= min(900 000, 900 000):
        # not less): attended.
        Booking("exact-min", "hq", "d1", t1 + half, t1 + 3 * half),
    ]
    _, t = run(inv, events, bookings, dt.date(2026, 3, 2), dt.date(2026, 3, 3), "day")
    assert t["booking_outcomes"] == [
        ["exact-half", "hq", "d1", 900, 899, "no_show"],
        ["short-observed", "hq", "d1", 899, 899, "unknown"],
        ["exact-min", "hq", "d1", 900, 900, "attended"],
    ]


def test_unbooked_is_the_difference_of_floored_seconds() -> None:
    inv = inventory(site("hq", {"n1": ["d1"]}, ALWAYS, heartbeat_s=86_400))
    t0 = ms("2026-03-02T09:00:00+01:00")
    events = [
        Event("n1", 1, t0 - 1, "alive"),
        Event("n1", 2, t0, "desk", "d1", "occupied"),
        Event("n1", 3, t0 + 1_500, "desk", "d1", "vacant"),  # occupied 1.5 s
    ]
    # Booked occupied: [t0 + 500, t0 + 1500) = 1.0 s... and occupied 1.5 s → 1 s floored.
    bookings = [Booking("b", "hq", "d1", t0 + 500, t0 + 10_000)]
    _, t = run(inv, events, bookings, dt.date(2026, 3, 2), dt.date(2026, 3, 3), "day")
    row = t["desk_metrics"][0]
    # occupied_s = floor(1500/1000) = 1; booked_occupied_s = floor(1000/1000) = 1;
    # unbooked = 1 - 1 = 0
    # (not floor(500/1000) computed another way, which would also be 0; see the next case).
    assert row[4:] == [1, 9, 9, 1, 0]
    bookings = [Booking("b", "hq", "d1", t0 + 700, t0 + 10_000)]
    _, t = run(inv, events, bookings, dt.date(2026, 3, 2), dt.date(2026, 3, 3), "day")
    # booked_occupied = 800 ms → 0 s; unbooked = 1 - 0 = 1 (the floor of the 700 ms unbooked
    # would be 0).
    assert t["desk_metrics"][0][4:] == [1, 9, 9, 0, 1]


def test_percentile_is_exact_where_floating_point_is_not() -> None:
    from hubsense.analytics.kernels.percentile import nearest_rank, parse_percentile

    values = list(range(100))
    # 7/100 x 100 = 7 exactly → the 7th value, 6. In floats 0.07 * 100 = 7.000000000000001 → 8th.
    assert nearest_rank(values, Fraction(7)) == 6
    assert nearest_rank(range(20), Fraction(95)) == 18  # ⌈19⌉ = 19th
    assert nearest_rank(range(20), parse_percentile("99.5")) == 19  # ⌈19.9⌉ = 20th
    assert nearest_rank(range(20), Fraction(1)) == 0  # ⌈0.2⌉ = 1st
    assert nearest_rank([], Fraction(95)) == 0
    assert reference.Fraction is Fraction  # the reference ranks with its own loop over Fractions


def test_unknown_is_neither_occupied_nor_observed() -> None:
    # SPEC §6: C = N - U. One alive covers the whole day (heartbeat 1 day); d1 is occupied
    # 09:00-10:00, unknown 10:00-12:00 (its sensor fell silent), vacant from 12:00.
    inv = inventory(site("hq", {"n1": ["d1", "d2"]}, ALWAYS, heartbeat_s=86_400))
    t9 = ms("2026-03-02T09:00:00+01:00")
    h = 3_600_000
    events = [
        Event("n1", 1, ms("2026-03-02T00:00:00+01:00"), "alive"),
        Event("n1", 2, t9, "desk", "d1", "occupied"),
        Event("n1", 3, t9 + h, "desk", "d1", "unknown"),
        Event("n1", 4, t9 + 3 * h, "desk", "d1", "vacant"),
    ]
    bookings = [
        # 09:30-11:30: observed 09:30-10:00 = 1800 s < half (3600 s): unknown, not no_show.
        Booking("half-silent", "hq", "d1", t9 + h // 2, t9 + h // 2 + 2 * h),
        # 09:00-11:00: observed 09:00-10:00 = 3600 s = half: decided; occupied 3600 s: attended.
        Booking("half-seen", "hq", "d1", t9, t9 + 2 * h),
    ]
    for order, path in ((events, "sweep"), (list(reversed(events)), "grouped")):
        r, t = run(inv, order, bookings, dt.date(2026, 3, 2), dt.date(2026, 3, 3), "day")
        assert r.path == path
        # observed 24 h - 2 h unknown = 79 200 s; occupied 3600 s; booked 09:00-11:30 = 9000 s,
        # of which observed 09:00-10:00 = 3600 s, all of it occupied.
        assert rows_of(t["desk_metrics"], "d1") == [
            ["hq", "d1", "2026-03-02T00:00:00+01:00", 79_200, 3600, 9000, 3600, 3600, 0]
        ]
        assert rows_of(t["desk_metrics"], "d2")[0][3] == 86_400  # d2's sensor is fine
        assert t["booking_outcomes"] == [
            ["half-silent", "hq", "d1", 1800, 1800, "unknown"],
            ["half-seen", "hq", "d1", 3600, 3600, "attended"],
        ]


def test_one_person_all_day_is_alone() -> None:
    inv = inventory(site("hub", {"n1": ["d1", "d2"]}, OFFICE, heartbeat_s=86_400))
    events = [
        Event("n1", 1, ms("2026-03-02T00:00:00+01:00"), "alive"),  # covers the whole day
        Event("n1", 2, ms("2026-03-02T07:00:00+01:00"), "desk", "d1", "occupied"),
        Event("n1", 3, ms("2026-03-02T18:00:00+01:00"), "desk", "d1", "vacant"),
    ]
    for bucket in ("hour", "day", "week"):
        _, t = run(inv, events, [], dt.date(2026, 3, 2), dt.date(2026, 3, 3), bucket)
        # Inside opening hours 08-17 one desk is in O ∩ C: 9 h = 32400 s alone, no co-presence,
        # one desk used (32400 >= 1800).
        assert t["site_daily"] == [
            ["hub", "2026-03-02", "true", 1, "2026-03-02T08:00:00+01:00", 0, 32400, 1]
        ], bucket


def test_two_overlapping_are_together_not_alone() -> None:
    inv = inventory(site("hub", {"n1": ["d1", "d2"]}, OFFICE, heartbeat_s=86_400))
    events = [
        Event("n1", 1, ms("2026-03-02T00:00:00+01:00"), "alive"),
        Event("n1", 2, ms("2026-03-02T09:00:00+01:00"), "desk", "d1", "occupied"),
        Event("n1", 3, ms("2026-03-02T11:00:00+01:00"), "desk", "d2", "occupied"),
        Event("n1", 4, ms("2026-03-02T12:00:00+01:00"), "desk", "d1", "vacant"),
        Event("n1", 5, ms("2026-03-02T14:00:00+01:00"), "desk", "d2", "vacant"),
    ]
    _, t = run(inv, events, [], dt.date(2026, 3, 2), dt.date(2026, 3, 3), "day")
    # Together 11-12 = 3600 s; alone 09-11 (d1) + 12-14 (d2) = 14400 s; both used.
    assert t["site_daily"] == [
        ["hub", "2026-03-02", "true", 2, "2026-03-02T11:00:00+01:00", 3600, 14400, 2]
    ]


def test_desks_used_29_against_30_minutes() -> None:
    inv = inventory(site("hub", {"n1": ["d1", "d2", "d3"]}, OFFICE, heartbeat_s=86_400))
    minute = 60_000
    at = ms("2026-03-02T09:45:00+01:00")
    events = [
        Event("n1", 1, ms("2026-03-02T00:00:00+01:00"), "alive"),
        # d1: 29 min = 1740 s, not used.
        Event("n1", 2, at, "desk", "d1", "occupied"),
        Event("n1", 3, at + 29 * minute, "desk", "d1", "vacant"),
        # d2: exactly 30 min = 1800 s, across the 10:00 hour bound: used (equality is not less).
        Event("n1", 4, at + 60 * minute, "desk", "d2", "occupied"),
        Event("n1", 5, at + 90 * minute, "desk", "d2", "vacant"),
        # d3: 1 ms short of 30 min: 1799.999 s, floored 1799 < 1800, not used.
        Event("n1", 6, at + 120 * minute, "desk", "d3", "occupied"),
        Event("n1", 7, at + 150 * minute - 1, "desk", "d3", "vacant"),
    ]
    period = (dt.date(2026, 3, 2), dt.date(2026, 3, 3))
    for bucket in ("hour", "day", "month"):
        _, t = run(inv, events, [], *period, bucket)
        assert t["site_daily"][0][6:] == [1740 + 1800 + 1799, 1], bucket
    # With used_min_s lowered to 29 min, d1 (1740 s) and d3 (1799 s) count too.
    _, t = run(inv, events, [], *period, "day", used_min_s=1740)
    assert t["site_daily"][0][7] == 3
