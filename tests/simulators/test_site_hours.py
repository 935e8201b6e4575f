"""Local wall time to instants: the iCalendar rule of SPEC §6 (fold=0, 24:00 is next midnight)."""

from __future__ import annotations

import datetime as dt

from hubsense.simulators.site_hours import (
    clip_to_spans,
    is_open,
    iso_local,
    local_dates,
    local_ms,
    open_spans_s,
)

from hubsense.inventory.model import Inventory


def _utc_ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)


def test_local_ms_daylight_saving_and_midnight(inventory: Inventory) -> None:
    hq = inventory.site_by_id["hq"]
    # Winter, +01:00.
    assert local_ms(hq, dt.date(2026, 3, 2), 8 * 3600) == _utc_ms(2026, 3, 2, 7)
    # Spring gap (02:00-03:00 does not exist on 2026-03-29): 02:30 takes the offset before.
    assert local_ms(hq, dt.date(2026, 3, 29), 2 * 3600 + 1800) == _utc_ms(2026, 3, 29, 1, 30)
    assert local_ms(hq, dt.date(2026, 3, 29), 4 * 3600) == _utc_ms(2026, 3, 29, 2)
    # Autumn: 02:30 on 2026-10-25 happens twice; the first (+02:00) is meant.
    assert local_ms(hq, dt.date(2026, 10, 25), 2 * 3600 + 1800) == _utc_ms(2026, 10, 25, 0, 30)
    # 24:00 is the next local midnight.
    assert local_ms(hq, dt.date(2026, 3, 2), 24 * 3600) == local_ms(hq, dt.date(2026, 3, 3), 0)
    assert iso_local(hq, _utc_ms(2026, 7, 1, 6)) == "2026-07-01T08:00:00+02:00"
    assert iso_local(hq, _utc_ms(2026, 7, 1, 6) + 5) == "2026-07-01T08:00:00.005+02:00"


def test_opening_spans_and_closed_days(inventory: Inventory, closed_date: dt.date) -> None:
    hq = inventory.site_by_id["hq"]
    tuesday = dt.date(2026, 3, 3)
    assert open_spans_s(hq, tuesday) == [(7 * 3600, 12 * 3600), (13 * 3600, 18 * 3600)]
    assert is_open(hq, tuesday) and not is_open(hq, closed_date)
    assert open_spans_s(hq, closed_date) == [] and open_spans_s(hq, dt.date(2026, 3, 7)) == []
    spans = open_spans_s(hq, tuesday)
    assert clip_to_spans(
        [(6 * 3600, 12 * 3600 + 600), (12 * 3600 + 900, 13 * 3600 + 60)], spans
    ) == [
        (7 * 3600, 12 * 3600),
        (13 * 3600, 13 * 3600 + 60),
    ]
    start = local_ms(hq, tuesday, 23 * 3600)
    assert local_dates(hq, start, start + 3600_000) == [tuesday]
    assert local_dates(hq, start, start + 3600_001) == [tuesday, tuesday + dt.timedelta(days=1)]
