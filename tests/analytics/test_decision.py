"""Hand-computed SPEC §11 decision figures; the arithmetic is beside every expected number."""

from __future__ import annotations

import datetime as dt

import pytest
from hubsense.analytics.decision import (
    SiteDay,
    community_day,
    decide,
    lone_weeks,
    months,
    year_before,
)

from hubsense.inventory.model import Inventory

WEEKDAYS = {day: ["08:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
MON = dt.date(2026, 3, 2)  # ISO week 2026-W10


def inventory(**org: object) -> Inventory:
    return Inventory.model_validate(
        {
            "organisation": "test",
            "currency": "SEK",
            "main_office": "hq",
            "day_pass_price": 250,
            "day_pass_budget_month": 10000,
            **org,
            "sites": [
                {
                    "id": "hq", "name": "HQ", "kind": "office", "timezone": "Europe/Stockholm",
                    "opening_hours": WEEKDAYS, "cost_per_desk_month": 3000, "commute_km": 0,
                    "desks": [{"id": f"q{i}"} for i in range(10)],
                },
                {
                    "id": "hub", "name": "Hub", "kind": "hub", "timezone": "Europe/Stockholm",
                    "opening_hours": WEEKDAYS, "cost_per_desk_month": 1500, "commute_km": 40,
                    "desks": [{"id": "h1"}, {"id": "h2"}],
                },
                {
                    "id": "cw", "name": "Cowork", "kind": "coworking",
                    "timezone": "Europe/Stockholm", "commute_km": 100, "day_pass_price": 300,
                },
            ],
        }
    )  # fmt: skip


def day(site: str, d: dt.date, used: int, together: int = 0, peak: int = 0) -> SiteDay:
    return SiteDay(site, d, d.weekday() < 5, peak, together, 0, used)


def test_lone_week_needs_half_the_days_with_people_apart() -> None:
    week = [MON + dt.timedelta(days=i) for i in range(5)]
    # Four days with someone there, two of them below 3600 s together: 2 of 4 = half → lone.
    days = [
        day("hub", week[0], 1, 0),
        day("hub", week[1], 2, 3600),
        day("hub", week[2], 2, 3599),
        day("hub", week[3], 2, 7200),
        day("hub", week[4], 0, 0),  # nobody came: does not count either way
    ]
    assert lone_weeks(days, 3600) == ["2026-W10"]
    # One more day together (3 of 5 apart is not the case: 2 of 5 < half): not lone.
    days[4] = day("hub", week[4], 2, 4000)
    assert lone_weeks(days, 3600) == []


def test_community_day_highest_mean_ties_to_the_earlier_day() -> None:
    inv = inventory()
    end = MON + dt.timedelta(days=14)
    days = [day("hub", MON + dt.timedelta(days=i), used) for i, used in enumerate(
        [1, 3, 1, 3, 0, 0, 0,   # week 1: tue 3, thu 3
         1, 1, 1, 1, 0, 0, 0]   # week 2: tue 1, thu 1 → means tue 2, thu 2, mon 1, wed 1
    )]  # fmt: skip
    assert community_day(inv.site_by_id["hub"], days, end) == "tue"
    # A day 57 days before `end` is outside the 56-day window.
    old = day("hub", end - dt.timedelta(days=57), 50)
    assert community_day(inv.site_by_id["hub"], [*days, old], end) == "tue"
    assert community_day(inv.site_by_id["hub"], [], end) is None


def test_decision_figures() -> None:
    inv = inventory()
    start, end = MON, MON + dt.timedelta(days=30)
    dates = [start + dt.timedelta(days=i) for i in range(30)]
    open_dates = [d for d in dates if d.weekday() < 5]
    assert len(open_dates) == 22
    days = [day("hq", d, 6, 9000, peak=6) for d in open_dates]
    days += [day("hub", d, 1) for d in open_dates]  # one person a day, always alone
    passes = {"cw": {start: 3, start + dt.timedelta(days=1): 2, end: 9}}  # the last is after
    decision = decide(inv, days, passes, start, end)
    hq, hub, cw = decision.sites
    # hq: 22 days x 6 desks = 132 desk-days; cost 3000 x 10 x 30/30 = 30000; 30000/132.
    assert (hq.desk_days_used, hq.cost) == (132, 30000)
    assert hq.cost_per_used_desk_day == 30000 / 132
    assert hq.commute_km_avoided is None  # commuting is avoided at hubs, not at the office
    # hub: 22 desk-days; cost 1500 x 2 = 3000; as day passes 22 x 250 = 5500 > 3000: keep.
    assert (hub.desk_days_used, hub.cost, hub.day_pass_equivalent) == (22, 3000, 5500)
    assert hub.cheaper_as_day_passes is False
    # Every week with someone there had nobody together: W10..W14 all lone.
    assert hub.lone_weeks == ["2026-W10", "2026-W11", "2026-W12", "2026-W13", "2026-W14"]
    assert hub.community_day == "mon"  # every weekday mean 1: the tie goes to Monday
    # 22 x 2 x 40 km = 1760 km; x 0.12 kg = 211.2 kg CO2.
    assert hub.commute_km_avoided == 1760 and abs(hub.co2_kg_avoided - 211.2) < 1e-9
    # cw: 3 + 2 passes in the period; 5 x 2 x 100 = 1000 km.
    assert (cw.desk_days_used, cw.commute_km_avoided, cw.cost) == (5, 1000, None)
    # hq peaks all 6: needed 6, surplus 10 - 6 = 4 desks x 3000 = 12000 a month / 250 = 48.
    assert decision.freed_passes_per_month == 48
    assert (decision.day_passes_bought, decision.day_pass_budget_month) == (5, 10000)
    assert decision.currency == "SEK"
    assert set(decision.as_json()) >= {
        "freed_passes_per_month", "day_passes_bought", "day_pass_budget_month", "currency",
    }  # fmt: skip


def test_missing_inputs_are_not_set_never_zero() -> None:
    inv = inventory(day_pass_price=None, currency=None)
    start, end = MON, MON + dt.timedelta(days=7)
    # No rows at all: no savings are presented for a period without data.
    decision = decide(inventory(), [], {}, start, end)
    assert decision.freed_passes_per_month is None
    decision = decide(inv, [day("hub", MON, 1)], {}, start, end)
    hub = decision.sites[1]
    assert hub.day_pass_equivalent is None and hub.cheaper_as_day_passes is None
    assert decision.freed_passes_per_month is None and decision.currency is None


# 30 days from Monday 2 March 2026: 22 open weekdays of 08:00-17:00 (32,400 s).
OPEN_S = {"hq": 22 * 32_400 * 10, "hub": 22 * 32_400 * 2}  # 7,128,000 and 1,425,600


def _month_of_rollups() -> tuple[list[SiteDay], dict[str, dict[dt.date, int]]]:
    dates = [MON + dt.timedelta(days=i) for i in range(30)]
    open_dates = [d for d in dates if d.weekday() < 5]
    days = [day("hq", d, 6, 9000, peak=6) for d in open_dates]
    days += [day("hub", d, 1) for d in open_dates]
    return days, {"cw": {MON: 3, MON + dt.timedelta(days=1): 2}}


def test_open_seconds_are_real_seconds_of_the_opening_hours() -> None:
    from hubsense.analytics.decision import open_seconds

    inv = inventory()
    assert open_seconds(inv.site_by_id["hq"], MON, MON + dt.timedelta(days=30)) == 22 * 32_400
    assert open_seconds(inv.site_by_id["hq"], MON, MON) == 0
    night = Inventory.model_validate({
        "organisation": "t", "sites": [{
            "id": "n", "name": "N", "kind": "hub", "timezone": "Europe/Stockholm",
            "opening_hours": {"sun": ["01:00-04:00"]}, "desks": [{"id": "n1"}]}]})  # fmt: skip
    # Sunday 29 March 2026 the clocks go 02:00 -> 03:00: 01:00-04:00 is two real hours.
    sunday = dt.date(2026, 3, 29)
    assert open_seconds(night.sites[0], sunday, sunday + dt.timedelta(days=1)) == 7200
    assert open_seconds(night.sites[0], sunday - dt.timedelta(days=7), sunday) == 3 * 3600


def test_a_period_without_sensor_data_presents_no_savings() -> None:
    inv = inventory()
    start, end = MON, MON + dt.timedelta(days=30)
    # Rollups computed over a month in which no node sent anything: open days, peak 0, no use.
    empty = [day("hq", d.day, 0) for d in _month_of_rollups()[0] if d.site == "hq"]
    empty += [day("hub", d.day, 0) for d in _month_of_rollups()[0] if d.site == "hub"]
    passes = {"cw": {MON: 3}}
    # Without the observed seconds the empty month reads as "nobody came": the whole office
    # freed, 10 desks x 3000 / 250 = 120 passes a month, and the hub cheaper as passes.
    blind = decide(inv, empty, passes, start, end)
    assert blind.freed_passes_per_month == 120 and blind.sites[1].cheaper_as_day_passes is True
    assert (blind.observed_share, blind.not_measured) == (None, None)
    # With them (nothing observed anywhere): no figure of use, and the reason beside it.
    decision = decide(inv, empty, passes, start, end, observed={})
    hq, hub, cw = decision.sites
    assert decision.freed_passes_per_month is None
    assert decision.not_measured == "no sensor data in the period at the main office"
    assert decision.observed_share == 0.0
    for site in (hq, hub):
        assert site.not_measured == "no sensor data in the period"
        assert site.observed_share == 0.0
        assert site.desk_days_used is None and site.cost_per_used_desk_day is None
    assert (hq.cost, hub.cost) == (30000, 3000)  # what a site costs is known without sensors
    assert hub.day_pass_equivalent is None and hub.cheaper_as_day_passes is None
    assert hub.commute_km_avoided is None and hub.co2_kg_avoided is None
    # Day passes are counted, not sensed: the coworking site is measured all the same.
    assert (cw.desk_days_used, cw.commute_km_avoided, cw.not_measured) == (3, 600, None)
    assert cw.observed_share is None and decision.day_passes_bought == 3
    out = decision.as_json()
    assert out["freed_passes_per_month"] is None and out["observed_share"] == 0.0
    assert out["sites"][1]["desk_days_used"] is None
    assert out["sites"][1]["not_measured"] == "no sensor data in the period"


def test_with_sensor_data_the_figures_are_unchanged_and_the_share_is_given() -> None:
    inv = inventory()
    start, end = MON, MON + dt.timedelta(days=30)
    days, passes = _month_of_rollups()
    before = decide(inv, days, passes, start, end)
    observed = {"hq": {MON: OPEN_S["hq"] // 2}, "hub": {MON: OPEN_S["hub"] // 4},
                "elsewhere": {MON: 99}}  # fmt: skip
    after = decide(inv, days, passes, start, end, observed=observed)
    assert after.freed_passes_per_month == before.freed_passes_per_month == 48
    assert after.not_measured is None
    # (3,564,000 + 356,400) / (7,128,000 + 1,425,600) = 3,920,400 / 8,553,600.
    assert after.observed_share == 3_920_400 / 8_553_600
    shares = [s.observed_share for s in after.sites]
    assert shares == [0.5, 0.25, None]
    for b, a in zip(before.sites, after.sites, strict=True):
        assert a.not_measured is None
        assert {**b.__dict__, "observed_share": None} == {**a.__dict__, "observed_share": None}
    # One hub blind, the office seen: the office's saving stands, the hub is not measured.
    partial = decide(inv, days, passes, start, end, observed={"hq": {MON: 1}})
    assert partial.freed_passes_per_month == 48 and partial.not_measured is None
    assert partial.sites[1].desk_days_used is None
    assert partial.sites[1].not_measured == "no sensor data in the period"
    assert partial.sites[0].desk_days_used == 132


def test_months_and_the_same_dates_a_year_earlier() -> None:
    d = dt.date
    assert months(d(2026, 1, 15), d(2026, 3, 2)) == [
        (d(2026, 1, 15), d(2026, 2, 1)), (d(2026, 2, 1), d(2026, 3, 1)),
        (d(2026, 3, 1), d(2026, 3, 2)),
    ]  # fmt: skip
    assert months(d(2025, 12, 20), d(2026, 1, 5)) == [
        (d(2025, 12, 20), d(2026, 1, 1)), (d(2026, 1, 1), d(2026, 1, 5)),
    ]  # fmt: skip
    assert months(MON, MON) == []
    assert year_before(d(2026, 3, 2)) == d(2025, 3, 2)
    assert year_before(d(2028, 2, 29)) == d(2027, 2, 28)


def _two_months() -> tuple[list[SiteDay], dict[str, dict[dt.date, int]]]:
    d = dt.date
    days = [
        day("hub", d(2026, 2, 17), 2),  # Tue: 2 desk-days in February
        day("hub", d(2026, 3, 2), 3),  # Mon: 3 in March
        day("hub", d(2025, 2, 18), 1),  # a year earlier: February only
        day("hq", d(2026, 2, 17), 4, peak=4),
    ]
    passes = {"cw": {d(2026, 2, 20): 1, d(2026, 3, 3): 2,
                     d(2025, 3, 4): 1,  # in [2025-03-01, 2025-03-09): counts a year earlier
                     d(2025, 3, 20): 5}}  # after the year-earlier dates: does not  # fmt: skip
    return days, passes


def test_commute_by_month_with_a_year_earlier() -> None:
    inv = inventory()  # hub 40 km, cowork 100 km, 0.12 kg/km (the default)
    start, end = dt.date(2026, 2, 16), dt.date(2026, 3, 9)
    days, passes = _two_months()
    hq, hub, cw = decide(inv, days, passes, start, end).sites
    assert hq.commute_by_month == []  # the office is where the commute goes
    # Hub February: 2 x 2 x 40 = 160 km, x 0.12 = 19.2 kg; a year earlier 1 x 80 km = 9.6 kg.
    # March: 3 x 80 = 240 km, 28.8 kg; no hub day in 2025-03-01 .. 2025-03-09: no data.
    assert [(m.month, m.commute_km_avoided) for m in hub.commute_by_month] == [
        ("2026-02", 160), ("2026-03", 240)
    ]  # fmt: skip
    assert [m.co2_kg_avoided for m in hub.commute_by_month] == [
        pytest.approx(19.2), pytest.approx(28.8)
    ]  # fmt: skip
    assert [m.co2_kg_avoided_year_before for m in hub.commute_by_month] == [
        pytest.approx(9.6), None
    ]  # fmt: skip
    # Cowork February: 1 pass x 200 km = 24 kg, no pass in 2025-02-16 .. 2025-03-01: no data;
    # March: 2 x 200 = 400 km, 48 kg; a year earlier the 4 March pass only: 200 km, 24 kg.
    assert [(m.commute_km_avoided, m.co2_kg_avoided, m.co2_kg_avoided_year_before)
            for m in cw.commute_by_month] == [
        (200, pytest.approx(24), None), (400, pytest.approx(48), pytest.approx(24)),
    ]  # fmt: skip
    # The months add up to the period's figure.
    assert sum(m.commute_km_avoided or 0 for m in hub.commute_by_month) == hub.commute_km_avoided
    out = decide(inv, days, passes, start, end).as_json()["sites"][2]["commute_by_month"]
    assert out[0] == {
        "month": "2026-02", "commute_km_avoided": 200, "co2_kg_avoided": pytest.approx(24),
        "co2_kg_avoided_year_before": None,
    }  # fmt: skip


def test_commute_by_month_is_not_measured_where_nothing_was_observed() -> None:
    inv = inventory()
    start, end = dt.date(2026, 2, 16), dt.date(2026, 3, 9)
    days, passes = _two_months()
    d = dt.date
    # The hub's sensors saw February 2026 and February 2025, nothing in March 2026.
    seen = {"hub": {d(2026, 2, 17): 3600, d(2025, 2, 18): 3600}, "hq": {d(2026, 2, 17): 1}}
    hub = decide(inv, days, passes, start, end, observed=seen).sites[1]
    assert (hub.desk_days_used, hub.not_measured) == (5, None)  # the period was seen
    assert [(m.commute_km_avoided, m.co2_kg_avoided) for m in hub.commute_by_month] == [
        (160, pytest.approx(19.2)), (None, None)  # March: not measured, not 0
    ]  # fmt: skip
    assert hub.commute_by_month[0].co2_kg_avoided_year_before == pytest.approx(9.6)
    # Nothing observed a year earlier: that February is not measured either, so no change.
    seen["hub"] = {d(2026, 2, 17): 3600}
    hub = decide(inv, days, passes, start, end, observed=seen).sites[1]
    assert hub.commute_by_month[0].co2_kg_avoided_year_before is None
    # Seconds outside the period do not make it measured.
    seen["hub"] = {d(2026, 3, 20): 3600}
    hub = decide(inv, days, passes, start, end, observed=seen).sites[1]
    assert hub.not_measured == "no sensor data in the period"
    assert [m.commute_km_avoided for m in hub.commute_by_month] == [None, None]
