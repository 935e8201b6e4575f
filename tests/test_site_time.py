"""Site time: the iCalendar rule of docs/metrics.md (fold=0, 24:00 is the next midnight)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.small_org import CLOSED, build_inventory

from hubsense.inventory.model import Inventory
from hubsense.site_time import (
    clip_to_spans,
    format_local,
    local_date,
    local_dates,
    local_ms,
    open_spans_s,
    wall_ms,
    zone,
)


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return build_inventory()


@pytest.fixture(scope="module")
def closed_date() -> dt.date:
    return CLOSED


def _utc_ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)


def test_local_ms_daylight_saving_and_midnight(inventory: Inventory) -> None:
    hq = inventory.site_by_id["hq"]
    # Winter, +01:00.
    assert wall_ms(dt.date(2026, 3, 2), 8 * 3600, hq.zoneinfo) == _utc_ms(2026, 3, 2, 7)
    # Spring gap (02:00-03:00 does not exist on 2026-03-29): 02:30 takes the offset before.
    assert wall_ms(dt.date(2026, 3, 29), 2 * 3600 + 1800, hq.zoneinfo) == _utc_ms(
        2026, 3, 29, 1, 30
    )
    assert wall_ms(dt.date(2026, 3, 29), 4 * 3600, hq.zoneinfo) == _utc_ms(2026, 3, 29, 2)
    # Autumn: 02:30 on 2026-10-25 happens twice; the first (+02:00) is meant.
    assert wall_ms(dt.date(2026, 10, 25), 2 * 3600 + 1800, hq.zoneinfo) == _utc_ms(
        2026, 10, 25, 0, 30
    )
    # 24:00 is the next local midnight.
    assert wall_ms(dt.date(2026, 3, 2), 24 * 3600, hq.zoneinfo) == wall_ms(
        dt.date(2026, 3, 3), 0, hq.zoneinfo
    )
    assert format_local(_utc_ms(2026, 7, 1, 6), hq.zoneinfo) == "2026-07-01T08:00:00+02:00"
    assert format_local(_utc_ms(2026, 7, 1, 6) + 5, hq.zoneinfo) == "2026-07-01T08:00:00.005+02:00"


def test_opening_spans_and_closed_days(inventory: Inventory, closed_date: dt.date) -> None:
    hq = inventory.site_by_id["hq"]
    tuesday = dt.date(2026, 3, 3)
    assert open_spans_s(hq, tuesday) == [(7 * 3600, 12 * 3600), (13 * 3600, 18 * 3600)]
    assert hq.is_open_on(tuesday) and not hq.is_open_on(closed_date)
    assert open_spans_s(hq, closed_date) == [] and open_spans_s(hq, dt.date(2026, 3, 7)) == []
    spans = open_spans_s(hq, tuesday)
    assert clip_to_spans(
        [(6 * 3600, 12 * 3600 + 600), (12 * 3600 + 900, 13 * 3600 + 60)], spans
    ) == [
        (7 * 3600, 12 * 3600),
        (13 * 3600, 13 * 3600 + 60),
    ]
    start = wall_ms(tuesday, 23 * 3600, hq.zoneinfo)
    assert local_dates(start, start + 3600_000, hq.zoneinfo) == [tuesday]
    assert local_dates(start, start + 3600_001, hq.zoneinfo) == [
        tuesday,
        tuesday + dt.timedelta(days=1),
    ]


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2060, 12, 31)),
    seconds=st.integers(min_value=0, max_value=86_400),
    name=st.sampled_from(["Europe/Stockholm", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_wall_ms_is_python_fold_zero(day: dt.date, seconds: int, name: str) -> None:
    # Independent slow reference: Python's own wall-time arithmetic (fold=0 is the default).
    naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)
    expected = int(naive.replace(tzinfo=zone(name)).timestamp()) * 1000
    assert wall_ms(day, seconds, zone(name)) == expected
    if seconds % 60 == 0:
        assert local_ms(day, seconds // 60, zone(name)) == expected
    assert local_date(expected, zone(name)) == naive.date() or seconds == 86_400
