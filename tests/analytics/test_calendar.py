"""`local_ms` (integer arithmetic over zoneinfo offsets) against the reference's datetime path.

The zones are the awkward ones: 45- and 30-minute offsets, a 30-minute DST (Lord Howe),
a day skipped across the date line (Apia, 2011-12-30), Ramadan suspensions of DST
(Casablanca), and local mean time before 1900 (offsets in seconds: Amsterdam +00:19:32).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import reference
from hypothesis import given, settings
from hypothesis import strategies as st

from hubsense.site_time import DAY_MINUTES, local_ms

ZONES = [
    "Europe/Stockholm",
    "Europe/Amsterdam",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Apia",
    "Africa/Casablanca",
    "UTC",
]


@settings(max_examples=500, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    day=st.dates(min_value=dt.date(1880, 1, 1), max_value=dt.date(2040, 12, 31)),
    minute=st.integers(min_value=0, max_value=DAY_MINUTES),
)
def test_local_ms_is_the_reference_wall_time(zone: str, day: dt.date, minute: int) -> None:
    tz = ZoneInfo(zone)
    assert local_ms(day, minute, tz) == reference.to_utc_ms(day, minute // 60, minute % 60, tz)


def test_local_ms_in_the_gap_and_the_overlap() -> None:
    # Stockholm 2026-03-29: 02:00-03:00 does not exist; fold=0 reads 02:30 with +01:00,
    # so 02:30 - 1 h = 01:30 UTC. 2026-10-25: 02:30 happens twice; the first (+02:00) is
    # 00:30 UTC.
    tz = ZoneInfo("Europe/Stockholm")
    assert local_ms(dt.date(2026, 3, 29), 150, tz) == reference.to_utc_ms(
        dt.date(2026, 3, 29), 1, 30, ZoneInfo("UTC")
    )
    assert local_ms(dt.date(2026, 10, 25), 150, tz) == reference.to_utc_ms(
        dt.date(2026, 10, 25), 0, 30, ZoneInfo("UTC")
    )
    # Amsterdam in 1900 kept local mean time, +00:19:32: midnight is 23:40:28 UTC before.
    assert local_ms(dt.date(1900, 6, 1), 0, ZoneInfo("Europe/Amsterdam")) == (
        reference.to_utc_ms(dt.date(1900, 5, 31), 23, 40, ZoneInfo("UTC")) + 28_000
    )
