"""Day plans: opening hours, closed dates, no-shows, determinism."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hubsense.simulators.bookings import bookings_of
from hubsense.simulators.people import DayKind, plan_day, population, subtract

from hubsense.inventory.model import Inventory
from hubsense.site_time import wall_ms, zone

MONDAY = dt.date(2026, 3, 2)
DAYS = [MONDAY + dt.timedelta(days=i) for i in range(28)]


def _local(ts_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=zone("Europe/Stockholm"))


def test_presence_only_inside_opening_hours(inventory: Inventory) -> None:
    people = population(inventory, 11)
    visits = [v for day in DAYS for v in plan_day(inventory, people, day, 11).visits]
    assert len(visits) > 150
    for visit in visits:
        for start, end in visit.presence_ms:
            a, b = _local(start), _local(end)
            assert a.date() == b.date() == visit.day
            assert start < end
            if visit.site == "hq" and visit.day.weekday() == 1:  # tue 07-12, 13-18
                assert (dt.time(7) <= a.time() and b.time() <= dt.time(12)) or (
                    dt.time(13) <= a.time() and b.time() <= dt.time(18)
                ), (a, b)
            elif visit.site == "hq":
                assert dt.time(7) <= a.time() and b.time() <= dt.time(18)
            else:
                assert dt.time(8) <= a.time() and b.time() <= dt.time(17)
        if visit.presence_ms:
            # Arrivals ~07:30-09:30 (or opening time), leaving ~15:30-17:30.
            first = _local(visit.presence_ms[0][0]).time()
            last = _local(visit.presence_ms[-1][1]).time()
            assert dt.time(7, 30) <= first <= dt.time(13, 0), first
            assert last <= dt.time(17, 30)


def test_nothing_on_closed_dates_or_weekends(inventory: Inventory, closed_date: dt.date) -> None:
    people = population(inventory, 5)
    closed = plan_day(inventory, people, closed_date, 5)
    assert [v.site for v in closed.visits] == ["hub-a"] * len(closed.visits)
    assert DayKind.OFFICE not in closed.kinds.values()  # office-goers worked from home
    next_day = plan_day(inventory, people, closed_date + dt.timedelta(days=1), 5)
    assert sum(v.site == "hq" for v in next_day.visits) >= 4
    for weekend in (dt.date(2026, 3, 7), dt.date(2026, 3, 8)):
        plan = plan_day(inventory, people, weekend, 5)
        assert plan.visits == ()
        assert set(plan.kinds.values()) == {DayKind.HOME}
        assert bookings_of(inventory, plan) == []


def test_no_show_rate_walk_ins_and_remote_share(inventory: Inventory) -> None:
    people = population(inventory, 3)
    plans = [plan_day(inventory, people, day, 3) for day in DAYS]
    visits = [v for p in plans for v in p.visits]
    booked = [v for v in visits if v.booked]
    no_shows = [v for v in booked if v.no_show]
    assert 0.08 <= len(no_shows) / len(booked) <= 0.25
    assert all(v.presence_ms == () for v in no_shows)
    assert all(v.presence_ms for v in visits if not v.no_show)
    walk_ins = [v for v in visits if not v.booked]
    assert 0.05 <= len(walk_ins) / len(visits) <= 0.35
    assert not any(v.no_show for v in walk_ins)
    workdays = Counter(k for p in plans if p.day.weekday() < 5 for k in p.kinds.values())
    # About half remote: home and hub days together are 40-70% of workdays.
    remote = (workdays[DayKind.HOME] + workdays[DayKind.HUB]) / sum(workdays.values())
    assert 0.4 <= remote <= 0.7, workdays
    # One person per desk and day; one visit per person and day.
    for plan in plans:
        assert len({v.desk for v in plan.visits}) == len(plan.visits)
        assert len({v.person for v in plan.visits}) == len(plan.visits)


def test_hub_has_fewer_people_and_some_empty_days(
    inventory: Inventory, closed_date: dt.date
) -> None:
    people = population(inventory, 9)
    per_day = [
        Counter(v.site for v in plan_day(inventory, people, day, 9).visits if v.presence_ms)
        for day in DAYS
        if day.weekday() < 5 and day != closed_date
    ]
    hub_share = sum(c["hub-a"] for c in per_day) / 3  # per desk
    office_share = sum(c["hq"] for c in per_day) / 12
    assert hub_share < office_share
    assert any(c["hub-a"] == 0 for c in per_day) or min(c["hub-a"] for c in per_day) <= 1


def test_bookings_cover_the_planned_stay_inside_opening(inventory: Inventory) -> None:
    people = population(inventory, 4)
    plan = plan_day(inventory, people, MONDAY, 4)
    bookings = bookings_of(inventory, plan)
    booked_visits = {(v.site, v.desk): v for v in plan.visits if v.booked}
    assert {(b.site, b.desk) for b in bookings} == set(booked_visits)
    for booking in bookings:
        visit = booked_visits[(booking.site, booking.desk)]
        assert booking.booking_id == f"sim-{booking.site}-20260302-{booking.desk}"
        assert booking.start_ms % (30 * 60_000) == 0 and booking.end_ms % (30 * 60_000) == 0
        assert booking.start_ms <= visit.planned_ms[0] < visit.planned_ms[1] <= booking.end_ms
        opens = wall_ms(MONDAY, 7 * 3600, inventory.site_by_id[booking.site].zoneinfo)
        assert booking.start_ms >= opens
        assert booking.no_show == visit.no_show


def test_deterministic_by_seed(inventory: Inventory) -> None:
    first = [plan_day(inventory, population(inventory, 42), d, 42) for d in DAYS[:5]]
    again = [plan_day(inventory, population(inventory, 42), d, 42) for d in DAYS[:5]]
    other = [plan_day(inventory, population(inventory, 43), d, 43) for d in DAYS[:5]]
    assert first == again
    assert first != other


def test_subtract_cuts_holes() -> None:
    assert subtract([(0, 100)], [(10, 20), (15, 30), (90, 120)]) == [(0, 10), (30, 90)]
    assert subtract([(0, 100)], []) == [(0, 100)]
    assert subtract([(0, 10)], [(0, 10)]) == []


def test_day_passes_at_open_coworking_sites_only() -> None:
    from hubsense.simulators.people import day_passes

    from hubsense.inventory.file import load_inventory

    example = load_inventory(
        __import__("pathlib").Path(__file__).resolve().parents[2]
        / "firmware-config/examples/inventory.yaml"
    )
    people = population(example, 3)
    monday = plan_day(example, people, MONDAY, 3)
    passes = day_passes(example, monday, 3)
    home = sum(1 for kind in monday.kinds.values() if kind is DayKind.HOME)
    # About 5 % of the people at home buy one: some, never more than were at home.
    assert 0 < len(passes) <= home
    assert {site for _, site, _ in passes} <= {"cowork-stromsund", "cowork-sveg"}
    assert len({pass_id for pass_id, _, _ in passes}) == len(passes)  # unique ids
    assert all(not any(p.id in pass_id for p in people) for pass_id, _, _ in passes)
    assert day_passes(example, monday, 3) == passes  # the same for the same seed
    sunday = plan_day(example, people, MONDAY + dt.timedelta(days=6), 3)
    assert day_passes(example, sunday, 3) == []  # the coworking sites are closed on Sundays
