"""Pure: site-local wall time ↔ UTC instants, the one implementation every component uses.

Local wall times become instants by the rule of RFC 5545 that docs/metrics.md states, which is
Python's `fold=0`: a time in the spring gap takes the offset from before the gap, a time that
occurs twice means its first occurrence, and the end of a day (`24:00`, minute 1440, second
86,400) is the next local midnight. Instants are integer milliseconds since the Unix epoch.
No I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

from hubsense.inventory.model import Site

DAY_S = 86_400
DAY_MINUTES = 1440
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_UTC_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MS = dt.timedelta(milliseconds=1)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone of a site (cached: a ZoneInfo lookup reads tzdata)."""
    return ZoneInfo(name)


def wall_ms(day: dt.date, seconds: int, tz: ZoneInfo) -> int:
    """UTC ms of the wall time `seconds` after local midnight of `day` (86,400 = next midnight)."""
    days, seconds = divmod(seconds, DAY_S)
    if days:
        day += dt.timedelta(days=days)
    hour, rest = divmod(seconds, 3600)
    local = dt.datetime(day.year, day.month, day.day, hour, rest // 60, rest % 60, tzinfo=tz)
    offset = local.utcoffset()
    assert offset is not None  # a ZoneInfo always has an offset
    # Integer arithmetic, no timedelta objects: this runs for every day of every calendar.
    local_s = (day.toordinal() - _EPOCH_ORDINAL) * DAY_S + seconds
    return (local_s - offset.days * DAY_S - offset.seconds) * 1000


def local_ms(day: dt.date, minute: int, tz: ZoneInfo) -> int:
    """UTC ms of `minute` minutes after local midnight of `day` (1440 = next midnight)."""
    return wall_ms(day, minute * 60, tz)


def local_date(ts_ms: int, tz: ZoneInfo) -> dt.date:
    """The local date of an instant."""
    return (_UTC_EPOCH + dt.timedelta(milliseconds=int(ts_ms))).astimezone(tz).date()


def local_dates(start_ms: int, end_ms: int, tz: ZoneInfo) -> list[dt.date]:
    """Every local date that overlaps [start_ms, end_ms)."""
    first = local_date(start_ms, tz)
    last = local_date(max(start_ms, end_ms - 1), tz)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def format_local(ts_ms: int, tz: ZoneInfo) -> str:
    """ISO-8601 with the zone's offset at that instant; milliseconds only when there are some."""
    moment = (_UTC_EPOCH + dt.timedelta(milliseconds=int(ts_ms))).astimezone(tz)
    return moment.isoformat(timespec="milliseconds" if ts_ms % 1000 else "seconds")


def parse_instant_ms(text: str) -> int:
    """UTC ms of an ISO-8601 instant carrying an offset or `Z`; ValueError says what is wrong."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"instant {text!r} has no offset (add Z or +HH:MM)")
    if moment.microsecond % 1000:
        raise ValueError(f"instant {text!r} is more precise than a millisecond")
    return (moment - _UTC_EPOCH) // _ONE_MS


def open_spans_s(site: Site, day: dt.date) -> list[tuple[int, int]]:
    """The day's opening spans in local seconds since midnight, sorted; empty when closed."""
    return sorted((span.start_min * 60, span.end_min * 60) for span in site.spans_on(day))


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
