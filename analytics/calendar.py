"""Site calendars: opening hours, local days and buckets as UTC millisecond boundaries.

Turns a site's weekly opening hours (site-local wall time), its closed dates and
its IANA time zone into the sorted integer-millisecond arrays the kernels sweep
(SPEC §6). Local times follow RFC 5545 through Python's `fold=0`: a time in the
spring gap takes the offset from before the gap, a time that occurs twice means
its first occurrence, and minute 1440 (`24:00`) is the next local midnight.

Pure: no I/O, no clock. Must not import numba; the arrays it returns are plain numpy.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from hubsense.inventory.model import Site, Weekday

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_DAY_S = 86_400
_UTC_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_MS = dt.timedelta(milliseconds=1)
HOUR_MS = 3_600_000
DAY_MINUTES = 1440
_WEEKDAYS = list(Weekday)

Int64Array = npt.NDArray[np.int64]


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True, slots=True)
class Period:
    """Site-local dates [start, end): the same dates mean different instants per time zone."""

    start: dt.date
    end: dt.date

    def days(self) -> Iterator[dt.date]:
        day = self.start
        while day < self.end:
            yield day
            day += dt.timedelta(days=1)

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days


def local_ms(day: dt.date, minute: int, zone: ZoneInfo) -> int:
    """UTC ms of `minute` minutes after local midnight of `day` (1440 = next midnight), fold=0."""
    if minute == DAY_MINUTES:
        day, minute = day + dt.timedelta(days=1), 0
    local = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone)
    offset = local.utcoffset()
    assert offset is not None  # a ZoneInfo always has an offset
    # Integer arithmetic, no timedelta objects: this runs for every day of every calendar.
    local_s = (day.toordinal() - _EPOCH_ORDINAL) * _DAY_S + minute * 60
    return (local_s - offset.days * _DAY_S - offset.seconds) * 1000


def is_open(site: Site, day: dt.date) -> bool:
    """SPEC §6: a day with opening hours that is not a closed date."""
    return bool(site.opening_hours.get(_WEEKDAYS[day.weekday()])) and day not in site.closed_dates


def opening_toggles(site: Site, period: Period) -> Int64Array:
    """H as sorted toggle times [s0, e0, s1, e1, …]: disjoint, non-touching, non-empty intervals."""
    zone = ZoneInfo(site.timezone)
    closed = set(site.closed_dates)
    spans: list[tuple[int, int]] = []
    for day in period.days():
        if day in closed:
            continue
        for span in site.opening_hours.get(_WEEKDAYS[day.weekday()], []):
            start = local_ms(day, span.start_min, zone)
            end = local_ms(day, span.end_min, zone)
            # A span inside the spring gap (e.g. 02:30-03:00) ends before it starts in real time.
            if end > start:
                spans.append((start, end))
    return _union(spans)


def _union(spans: list[tuple[int, int]]) -> Int64Array:
    """Union of [start, end) spans as toggles; touching spans (24:00 then 00:00) become one."""
    spans.sort()
    toggles: list[int] = []
    for start, end in spans:
        if toggles and start <= toggles[-1]:
            toggles[-1] = max(toggles[-1], end)
        else:
            toggles.extend((start, end))
    return np.asarray(toggles, dtype=np.int64)


def day_bounds(zone: ZoneInfo, period: Period) -> Int64Array:
    """Local midnights of every day of the period and of its end: n_days + 1 boundaries."""
    days = [*period.days(), period.end]
    return np.asarray([local_ms(day, 0, zone) for day in days], dtype=np.int64)


def bucket_bounds(
    zone: ZoneInfo, period: Period, bucket: Bucket, days: Int64Array | None = None
) -> Int64Array:
    """Bucket boundaries [b0 = from, b1, …, bn = to]; bucket k is [b_k, b_{k+1}).

    `days` may be the period's `day_bounds` in the zone, already computed."""
    if days is None:
        days = day_bounds(zone, period)
    if bucket is Bucket.DAY:
        return days
    if bucket is Bucket.HOUR:
        # One real hour each, restarting at every local midnight: 23 or 25 on DST days.
        parts = [np.arange(a, b, HOUR_MS, dtype=np.int64) for a, b in itertools.pairwise(days)]
        return np.concatenate([*parts, days[-1:]])
    starts = [period.start]
    for day in period.days():
        if day == period.start:
            continue
        if (bucket is Bucket.WEEK and day.weekday() == 0) or (
            bucket is Bucket.MONTH and day.day == 1
        ):
            starts.append(day)
    return np.asarray([local_ms(day, 0, zone) for day in [*starts, period.end]], dtype=np.int64)


def format_local(ts_ms: int, zone: ZoneInfo) -> str:
    """ISO-8601 with the site's offset at that instant; milliseconds only when there are some."""
    moment = (_UTC_EPOCH + dt.timedelta(milliseconds=int(ts_ms))).astimezone(zone)
    return moment.isoformat(timespec="milliseconds" if ts_ms % 1000 else "seconds")


def parse_instant_ms(text: str) -> int:
    """UTC ms of an ISO-8601 instant carrying an offset or `Z`; ValueError says what is wrong."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"instant {text!r} has no offset (add Z or +HH:MM)")
    if moment.microsecond % 1000:
        raise ValueError(f"instant {text!r} is more precise than a millisecond")
    return (moment - _UTC_EPOCH) // _ONE_MS
