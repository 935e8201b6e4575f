"""docs/metrics.md numbers of one site and period for the API: from the rollups when they cover it,
else computed from the events on request.

The rollups (migration 0005, written by `hubsense analytics run` and its scheduler) cover
a period when every day of it has an `analytics_site_day` row (the analytics writes a
site's period in one transaction; desk rows are stored only where something was
measured). Otherwise the site's events and bookings are read and computed here with the
analytics' own database reader and kernels, so both ways give the same numbers. Each
answer says which way it came (`source`). Desk rows carry seconds floored per desk and
bucket, as stored; zone and site rows are their sums. Must not write anything.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal
from zoneinfo import ZoneInfo

from hubsense.analytics.calendar import Bucket, Period
from hubsense.analytics.compute import Results
from hubsense.analytics.io.rollups_read import covers
from hubsense.analytics.kernels.bookings import OUTCOME_NAMES
from hubsense.analytics.kernels.percentile import nearest_rank
from hubsense.analytics.site import SiteLayout, compute_site, period_ms

Source = Literal["rollups", "events"]
_MS = 1000
_MEASURES = "observed_s, occupied_s, booked_s, booked_observed_s, booked_occupied_s"


@dataclass(frozen=True)
class DeskRow:
    desk: str
    bucket_start: dt.datetime
    seconds: tuple[
        int, int, int, int, int
    ]  # observed, occupied, booked, booked_observed, booked_occupied


@dataclass(frozen=True)
class Outcome:
    booking_id: str
    desk: str
    observed_s: int
    occupied_s: int
    outcome: str


@dataclass(frozen=True)
class DayRow:
    day: dt.date
    open: bool
    peak: int
    peak_at: dt.datetime | None
    copresence_s: int


def _utc(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)


def _midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone)


# -- computed from the events ---------------------------------------------------------


def _computed_desk_rows(results: Results) -> list[DeskRow]:
    layout, starts = results.layout, results.calendars.buckets(0).tolist()
    columns = [
        (column // _MS).tolist()
        for column in (
            results.observed_ms,
            results.occupied_ms,
            results.booked_ms,
            results.booked_observed_ms,
            results.booked_occupied_ms,
        )
    ]
    rows = []
    for d, desk in enumerate(layout.desk_ids):
        row0 = int(results.row_off[d])
        for j, start in enumerate(starts):
            r = row0 + j
            seconds = (columns[0][r], columns[1][r], columns[2][r], columns[3][r], columns[4][r])
            rows.append(DeskRow(desk, _utc(start), seconds))
    return rows


# -- read from the rollups ------------------------------------------------------------


def _rollup_desk_rows(conn: Any, site: SiteLayout, period: Period, bucket: Bucket) -> list[DeskRow]:
    """Every live desk's rows of the period (the caller checked that the rollups cover it).

    Desk-days are stored only where something was observed, occupied or booked (migration
    0013), so an absent desk-day or hour is zeros: a desk added after the run had no
    events in the period (unknown sensors' messages are dead letters, docs/ingest.md).
    """
    desks = sorted(site.layout.desk_ids)
    zeros = (0, 0, 0, 0, 0)
    if bucket is Bucket.HOUR:
        found = conn.execute(
            f"""SELECT desk_id, bucket_start, {_MEASURES} FROM analytics_desk_hour
                WHERE site_id = %s AND day >= %s AND day < %s""",
            (site.site_id, period.start, period.end),
        ).fetchall()
        stored = {(r[0], r[1]): tuple(int(v) for v in r[2:7]) for r in found}
        starts = _hour_starts(site, period)
        return [
            DeskRow(desk, start, stored.get((desk, start), zeros))  # type: ignore[arg-type]
            for desk in desks
            for start in starts
        ]
    found = conn.execute(
        f"""SELECT desk_id, day, {_MEASURES} FROM analytics_desk_day
            WHERE site_id = %s AND day >= %s AND day < %s""",
        (site.site_id, period.start, period.end),
    ).fetchall()
    by_day = {(r[0], r[1]): r[2:7] for r in found}
    sums: dict[tuple[str, dt.date], list[int]] = defaultdict(lambda: [0] * 5)
    for desk in desks:
        for day in period.days():
            acc = sums[(desk, _bucket_day(day, bucket, period))]
            for i, value in enumerate(by_day.get((desk, day), zeros)):
                acc[i] += int(value)
    return [
        DeskRow(desk, _midnight(day, site.zone).astimezone(dt.UTC), tuple(acc))  # type: ignore[arg-type]
        for (desk, day), acc in sorted(sums.items())
    ]


def _hour_starts(site: SiteLayout, period: Period) -> list[dt.datetime]:
    """Real hours from each local midnight (23/25 a day across DST changes), as the
    analytics buckets them."""
    starts = []
    for day in period.days():
        begin = _midnight(day, site.zone).astimezone(dt.UTC)
        end = _midnight(day + dt.timedelta(days=1), site.zone).astimezone(dt.UTC)
        while begin < end:
            starts.append(begin)
            begin += dt.timedelta(hours=1)
    return starts


def _bucket_day(day: dt.date, bucket: Bucket, period: Period) -> dt.date:
    """The first day of the day's bucket, cut to the period (docs/metrics.md)."""
    if bucket is Bucket.WEEK:
        first = day - dt.timedelta(days=day.weekday())
    elif bucket is Bucket.MONTH:
        first = day.replace(day=1)
    else:
        first = day
    start: dt.date = period.start
    return max(first, start)


# -- what the routes call ---------------------------------------------------------------


def desk_rows(
    conn: Any, site: SiteLayout, period: Period, bucket: Bucket
) -> tuple[Source, list[DeskRow]]:
    if covers(conn, site.site_id, period):
        return "rollups", _rollup_desk_rows(conn, site, period, bucket)
    results, _ = compute_site(conn, site, period, bucket)
    return "events", _computed_desk_rows(results)


def outcomes(conn: Any, site: SiteLayout, period: Period) -> tuple[Source, list[Outcome]]:
    """Every booking of the site overlapping the period, with its outcome."""
    from_ms, to_ms = period_ms(site, period)
    if covers(conn, site.site_id, period):
        found = conn.execute(
            """SELECT b.booking_id, b.desk_id, o.observed_s, o.occupied_s, o.outcome
               FROM bookings b LEFT JOIN analytics_booking_outcome o USING (booking_id)
               WHERE b.site_id = %s AND b.start_at < %s AND b.end_at > %s
                 AND b.cancelled_at IS NULL
               ORDER BY b.start_at, b.booking_id""",
            (site.site_id, _utc(to_ms), _utc(from_ms)),
        ).fetchall()
        mine = [r for r in found if r[1] in site.layout.desk_index]
        if all(r[4] is not None for r in mine):
            return "rollups", [Outcome(r[0], r[1], int(r[2]), int(r[3]), r[4]) for r in mine]
    results, bookings = compute_site(conn, site, period, Bucket.DAY)
    ids = list(bookings.booking_id)
    order = conn.execute(
        "SELECT booking_id, desk_id FROM bookings WHERE booking_id = ANY(%s)"
        " ORDER BY start_at, booking_id",
        (ids,),
    ).fetchall()
    index = {booking_id: b for b, booking_id in enumerate(ids)}
    return "events", [
        Outcome(
            booking_id,
            desk,
            int(results.booking_observed_ms[index[booking_id]]) // _MS,
            int(results.booking_occupied_ms[index[booking_id]]) // _MS,
            OUTCOME_NAMES[int(results.booking_outcome[index[booking_id]])],
        )
        for booking_id, desk in order
    ]


def days(conn: Any, site: SiteLayout, period: Period) -> tuple[Source, list[DayRow]]:
    if covers(conn, site.site_id, period):
        found = conn.execute(
            """SELECT day, open, peak, peak_at, copresence_s FROM analytics_site_day
               WHERE site_id = %s AND day >= %s AND day < %s ORDER BY day""",
            (site.site_id, period.start, period.end),
        ).fetchall()
        return "rollups", [DayRow(r[0], r[1], r[2], r[3], int(r[4])) for r in found]
    results, _ = compute_site(conn, site, period, Bucket.DAY)
    cal, rows = results.calendars, []
    for i, r in enumerate(cal.day_rows(0)):
        at = int(results.peak_at_ms[r])
        rows.append(
            DayRow(
                period.start + dt.timedelta(days=i),
                bool(cal.open_day[r]),
                int(results.peak[r]),
                _utc(at) if at >= 0 else None,
                int(results.copresence_ms[r]) // _MS,
            )
        )
    return "events", rows


def desks_needed(day_rows: list[DayRow], percentile: Fraction) -> tuple[int, int]:
    """(days open, desks needed): the nearest-rank percentile of the open days' peaks."""
    peaks = [d.peak for d in day_rows if d.open]
    return len(peaks), nearest_rank(peaks, percentile)
