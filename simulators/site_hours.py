"""A site's calendar: local dates, opening spans and closed days as UTC milliseconds.

Pure: no I/O, no clock. Local wall times become instants by the iCalendar rule
of SPEC §6 (Python's `fold=0`: a time in the spring gap takes the offset from
before the gap, a time that occurs twice means its first occurrence), and
`24:00` (1440 minutes) is the next midnight.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from hubsense.inventory.model import Site, Weekday

DAY_S = 24 * 3600
_WEEKDAYS = list(Weekday)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone of a site (cached: ZoneInfo lookups read tzdata)."""
    return ZoneInfo(name)


def local_ms(site: Site, day: dt.date, seconds: int) -> int:
    """The instant (ms since the epoch) of `seconds` after local midnight of `day`, wall time."""
    naive = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)
    return int(naive.replace(tzinfo=zone(site.timezone)).timestamp()) * 1000


def local_date(site: Site, ts_ms: int) -> dt.date:
    """The site-local date of an instant."""
    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=zone(site.timezone)).date()


def is_open(site: Site, day: dt.date) -> bool:
    """True for a day with opening hours that is not a closed date (SPEC §6 `open`)."""
    if day in site.closed_dates:
        return False
    return bool(site.opening_hours.get(_WEEKDAYS[day.weekday()]))


def open_spans_s(site: Site, day: dt.date) -> list[tuple[int, int]]:
    """The day's opening spans in local seconds since midnight; empty when closed."""
    if not is_open(site, day):
        return []
    spans = site.opening_hours[_WEEKDAYS[day.weekday()]]
    return sorted((span.start_min * 60, span.end_min * 60) for span in spans)


def clip_to_spans(
    intervals: list[tuple[int, int]], spans: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Intersect sorted intervals with sorted spans; empty pieces are dropped."""
    out: list[tuple[int, int]] = []
    for start, end in intervals:
        for span_start, span_end in spans:
            lo, hi = max(start, span_start), min(end, span_end)
            if lo < hi:
                out.append((lo, hi))
    return sorted(out)


def local_dates(site: Site, start_ms: int, end_ms: int) -> list[dt.date]:
    """Every site-local date that overlaps [start_ms, end_ms)."""
    first = local_date(site, start_ms)
    last = local_date(site, max(start_ms, end_ms - 1))
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def iso_local(site: Site, ts_ms: int) -> str:
    """An instant as ISO-8601 with the site's offset, e.g. `2026-03-02T08:00:00+01:00`."""
    moment = dt.datetime.fromtimestamp(ts_ms / 1000, tz=zone(site.timezone))
    return moment.isoformat(timespec="milliseconds" if ts_ms % 1000 else "seconds")
