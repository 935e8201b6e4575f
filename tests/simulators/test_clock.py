"""The demo's clock: where its live day starts and how simulated time runs (no waiting)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hubsense.simulators.clock import SimClock, clock_site, describe, working_morning

from hubsense.inventory.model import Inventory, Site

STOCKHOLM = ZoneInfo("Europe/Stockholm")
WEEKDAYS = {day: ["07:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def _site(site_id: str = "hq", kind: str = "office", **extra: object) -> dict[str, object]:
    return {
        "id": site_id,
        "name": site_id,
        "kind": kind,
        "timezone": "Europe/Stockholm",
        "opening_hours": WEEKDAYS,
        **extra,
    }


def _ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=STOCKHOLM).timestamp() * 1000)


def _local(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, STOCKHOLM)


@pytest.mark.parametrize(
    ("now", "morning"),
    [
        # Monday 07:03 (this session's morning): Friday's day is the last one behind us.
        ((2026, 12, 7, 7, 3), (2026, 12, 4, 8, 0)),
        # Tuesday 19:00: today's day (08:00-18:00) is over.
        ((2026, 12, 8, 19, 0), (2026, 12, 8, 8, 0)),
        # Tuesday 17:59: today's is not over yet, so Monday's.
        ((2026, 12, 8, 17, 59), (2026, 12, 7, 8, 0)),
        # Tuesday 18:00 exactly: today's is.
        ((2026, 12, 8, 18, 0), (2026, 12, 8, 8, 0)),
        # Sunday afternoon: Friday.
        ((2026, 12, 13, 15, 0), (2026, 12, 11, 8, 0)),
        # Monday after the spring change (29 March 2026): Friday 08:00 in winter time.
        ((2026, 3, 30, 9, 0), (2026, 3, 27, 8, 0)),
    ],
)
def test_the_live_day_starts_on_the_last_working_morning_with_a_whole_day_behind_it(
    now: tuple[int, ...], morning: tuple[int, ...]
) -> None:
    site = Site.model_validate(_site())
    assert _local(working_morning(site, _ms(*now))) == dt.datetime(*morning, tzinfo=STOCKHOLM)


def test_closed_dates_are_skipped_like_weekends() -> None:
    site = Site.model_validate(_site(closed_dates=["2026-12-04", "2026-12-03"]))
    # Monday morning; Friday and Thursday closed: Wednesday.
    got = _local(working_morning(site, _ms(2026, 12, 7, 7, 3)))
    assert got == dt.datetime(2026, 12, 2, 8, 0, tzinfo=STOCKHOLM)


def test_the_clock_follows_the_main_office_else_an_office() -> None:
    sites = [_site("hub-a", "hub"), _site("office-b"), _site("office-c")]
    assert clock_site(Inventory.model_validate({"organisation": "o", "sites": sites})).id == (
        "office-b"
    )
    inv = Inventory.model_validate({"organisation": "o", "sites": sites, "main_office": "office-c"})
    assert clock_site(inv).id == "office-c"


class _Time:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall_ms = _ms(2026, 12, 7, 7, 3)


def test_sim_clock_stands_until_started_runs_at_speed_and_never_passes_the_wall() -> None:
    source = _Time()
    start = _ms(2026, 12, 4, 8, 0)
    clock = SimClock(start, 60.0, wall_ms_now=lambda: source.wall_ms, monotonic=lambda: source.mono)
    source.mono += 500  # backfill running: the live day has not begun
    assert clock.now_ms() == start
    clock.start()
    source.mono += 90  # 90 real seconds = 90 simulated minutes
    assert _local(clock.now_ms()) == dt.datetime(2026, 12, 4, 9, 30, tzinfo=STOCKHOLM)
    assert clock.now() == dt.datetime(2026, 12, 4, 8, 30, tzinfo=dt.UTC)
    clock.start()  # a second start changes nothing
    assert _local(clock.now_ms()).hour == 9
    # 71 h 3 min behind the wall at 59x net gain: caught up after 4263 / 59 real seconds.
    assert clock.real_s_to_catch_up() == pytest.approx((source.wall_ms - start) / 1000 / 59)
    source.mono += 10_000
    assert clock.now_ms() == source.wall_ms


def test_the_screen_says_which_day_and_how_fast() -> None:
    site = Site.model_validate(_site())
    assert describe(site, _ms(2026, 12, 8, 8, 0), 60.0) == "simulated Tuesday 08:00, 60× real time"  # noqa: RUF001
