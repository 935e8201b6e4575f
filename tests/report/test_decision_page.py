"""Pure pieces of the Decision section: the day profile's means and each hub verdict."""

from __future__ import annotations

import datetime as dt

from hubsense.analytics.decision import ProfileCell, SiteDecision, day_profile
from hubsense.report.decision_page import money, verdict
from hubsense.report.model import SiteFigures

MON, TUE, NEXT_MON = dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 9)


def test_day_profile_is_a_mean_over_open_days() -> None:
    # Two open Mondays: 2 desk-hours at 09 on one, none on the other -> 1.0; a closed
    # Tuesday's row does not count and Tuesday gets no cells.
    cells = day_profile([(MON, 9, 7200), (NEXT_MON, 10, 1800), (TUE, 9, 3600)], [MON, NEXT_MON])
    assert len(cells) == 24
    assert cells[9] == ProfileCell("mon", 9, 1.0)
    assert cells[10] == ProfileCell("mon", 10, 0.25)
    assert sum(c.desks for c in cells) == 1.25


def _hub(**overrides: object) -> SiteFigures:
    values: dict[str, object] = {
        "id": "h", "name": "H", "kind": "hub", "municipality": None, "capacity": 3,
        "days_open": 5, "desks_needed": 2, "area_m2": None, "cost_per_desk_month": 1000,
        "observed_s": 100, "occupied_s": 50, "booked_observed_s": 0, "booked_occupied_s": 0,
        "unbooked_occupied_s": 50, "open_s": 100, "bookings": 0, "attended": 0, "no_shows": 0,
    }  # fmt: skip
    values.update(overrides)
    return SiteFigures(**values)  # type: ignore[arg-type]


def _figures(**overrides: object) -> SiteDecision:
    values: dict[str, object] = {
        "site": "h", "kind": "hub", "desk_days_used": 4, "cost": 100.0,
        "cost_per_used_desk_day": 25.0, "day_pass_equivalent": 200.0,
        "cheaper_as_day_passes": False,
    }  # fmt: skip
    values.update(overrides)
    return SiteDecision(**values)  # type: ignore[arg-type]


def test_verdicts() -> None:
    assert verdict(_hub(), _figures()) == "keep"
    assert verdict(_hub(desks_needed=3), _figures()) == "grow"
    cheaper = _figures(day_pass_equivalent=80.0, cheaper_as_day_passes=True)
    assert verdict(_hub(), cheaper) == "cheaper as day passes"
    # A lone hub gathers people, even when day passes would be cheaper: never fewer desks.
    lone = _figures(lone_weeks=["2026-W10"], community_day="tue", cheaper_as_day_passes=True)
    assert verdict(_hub(), lone) == "gather people on Tuesdays, keep the desks"
    assert verdict(_hub(observed_s=0), _figures()) == "no sensor data: measure before deciding"


def test_money_has_its_currency_or_says_it_is_not_set() -> None:
    assert money(2000, "SEK") == "2\u202f000\u202fSEK"
    assert money(5, None) == "5 (currency not set: set <code>currency</code> in the inventory)"
