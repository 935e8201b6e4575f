"""The conclusion paragraph's branches, on figures made by hand (no database)."""

from __future__ import annotations

import datetime as dt

from hubsense.report.conclusion import conclude, number, percent
from hubsense.report.model import Day, SiteFigures

NB = "\u202f"
START, END = dt.date(2026, 3, 2), dt.date(2026, 3, 9)


def _site(**overrides: object) -> SiteFigures:
    values: dict[str, object] = {
        "id": "s", "name": "Site S", "kind": "office", "municipality": None, "capacity": 10,
        "days_open": 5, "desks_needed": 4, "area_m2": None, "cost_per_desk_month": None,
        "observed_s": 1000, "occupied_s": 500, "booked_observed_s": 0, "booked_occupied_s": 0,
        "unbooked_occupied_s": 500, "open_s": 1000, "bookings": 0, "attended": 0, "no_shows": 0,
        "days": [Day(START + dt.timedelta(days=i), True, 4 - (i % 2), 0) for i in range(5)],
    }  # fmt: skip
    values.update(overrides)
    return SiteFigures(**values)  # type: ignore[arg-type]


def test_formats() -> None:
    assert number(1234567.8) == f"1{NB}234{NB}568"
    assert number(12.345, 1) == "12.3"
    assert (percent(0.125), percent(None)) == (f"12{NB}%", "\u2013")


def test_surplus_without_area_or_cost() -> None:
    text = conclude(_site(), START, END, 95)
    assert "4 desks would therefore be enough: 6 fewer than today (60\u202f% of the desks)." in text
    assert "frees" not in text and "bookings" not in text


def test_closed_all_period() -> None:
    text = conclude(_site(days_open=0, days=[]), START, END, 95)
    assert text == (
        "Site S was not open on any day from 2 March 2026 to 8 March 2026, so nothing can be "
        "concluded about its desks for this period."
    )


def test_low_observation_is_a_caution() -> None:
    text = conclude(_site(observed_s=700), START, END, 95)
    assert text.endswith(
        f"The sensors saw only 70{NB}% of the opening hours, so measure longer before acting on "
        "these numbers."
    )
    assert "measure longer" not in conclude(_site(observed_s=800), START, END, 95)


def test_hub_with_little_copresence() -> None:
    days = [Day(START + dt.timedelta(days=i), True, 2, 3600 if i == 0 else 0) for i in range(5)]
    text = conclude(_site(kind="hub", desks_needed=10, days=days), START, END, 95)
    assert "On busy days every desk was needed" in text
    assert f"on 1 of the 5 open days, 1.0{NB}h in all. That is too seldom" in text


def test_names_are_literal_in_charts() -> None:
    """A `$` in a site name is text, not matplotlib mathematics (which would fail to render)."""
    from hubsense.report.charts import capacity_chart, copresence_chart

    site = _site(name=r"Hub $\nosuch$ 2", kind="hub")  # unescaped, mathtext raises ValueError
    for uri in (capacity_chart([site]), copresence_chart([site])):
        assert uri.startswith("data:image/png;base64,")


def test_lone_hub_is_told_to_gather_not_to_shrink() -> None:
    import dataclasses

    from hubsense.report.conclusion import conclude

    days = [Day(START + dt.timedelta(days=i), True, 1, 3600 if i == 0 else 0) for i in range(5)]
    site = _site(kind="hub", capacity=3, desks_needed=1, days=days)
    text = conclude(site, START, END, 95)
    # Three desks, one needed, people met on 1 of 5 days: no cut, gather people instead.
    assert "Do not cut desks here yet" in text and "fewer than today" not in text
    # Two desks: never below two, whatever the percentile says.
    two = dataclasses.replace(site, capacity=2)
    assert "Keep its 2 desks" in conclude(two, START, END, 95)
    # Used often enough together, a 3-desk hub needing 1 may give up one desk, not two.
    busy = [Day(START + dt.timedelta(days=i), True, 1, 3600) for i in range(5)]
    text = conclude(_site(kind="hub", capacity=3, desks_needed=1, days=busy), START, END, 95)
    assert "2 desks would therefore be enough: 1 fewer than today" in text


def test_no_sensor_data_shows_no_saving() -> None:
    text = conclude(_site(observed_s=0, cost_per_desk_month=3000), START, END, 95)
    assert "no saving is shown" in text and "a month" not in text


def test_saving_per_year_beside_per_month() -> None:
    text = conclude(_site(cost_per_desk_month=1000), START, END, 95)
    assert f"about 6{NB}000 a month (72{NB}000 a year) in desk costs" in text
