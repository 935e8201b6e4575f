"""Site calendars: opening hours, local days and buckets as UTC millisecond boundaries.

Turns a site's weekly opening hours (site-local wall time), its closed dates and
its IANA time zone into the sorted integer-millisecond arrays the kernels sweep
(docs/metrics.md). Local wall time becomes instants in `hubsense.site_time`, the one
implementation of the fold=0 rule.

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

from hubsense.inventory.hours import Weekday
from hubsense.inventory.model import Site
from hubsense.site_time import local_ms

HOUR_MS = 3_600_000
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
