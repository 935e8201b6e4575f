"""Write one site's results into the rollup tables, replacing exactly the rows of its period.

A desk's hours go into its desk-day row as int4[] (migration 0013: one element a real
hour, from the day's first hour with anything in it to its last), and only desk-days
where something was observed, occupied or booked are written: a missing row or hour is
zeros, and closed days, closed hours and unobserved desks cost nothing. The view
`analytics_desk_hour` unnests the arrays.
Desk-days go up as one binary COPY straight into the table, ids and dates encoded on the
wire by numpy (no Python object per row, no staging); booking outcomes as a binary COPY
into a temporary table and an upsert that maps index numbers back to ids. Everything of a
site (or of a chunk of sites, `write_sites`) is one transaction, so readers see the old
rows or the new ones, never a mix.
Must not compute metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
from hubsense.analytics.arrays import BookingArrays
from hubsense.analytics.calendar import Period
from hubsense.analytics.compute import Results
from hubsense.analytics.io.pgcopy import HEADER, TRAILER, encode, encode_rows
from hubsense.analytics.kernels.bookings import OUTCOME_NAMES

_MS_PER_S = 1000
MEASURES = ("observed_s", "occupied_s", "booked_s", "booked_observed_s", "booked_occupied_s")

_TEMP = """
CREATE TEMP TABLE IF NOT EXISTS _rollup_booking (
    booking int4, observed_s int8, occupied_s int8, outcome int2
) ON COMMIT DELETE ROWS;
"""
# The columns of `desk_day_rows`' groups once `_final` has given them their ids and dates.
_DESK_DAY_COLUMNS = (
    "site_id, desk_id, day, bucket_start, observed_s, occupied_s, booked_s, booked_observed_s, "
    "booked_occupied_s, unbooked_occupied_s, first_hour, hour_observed_s, hour_occupied_s, "
    "hour_booked_s, hour_booked_observed_s, hour_booked_occupied_s"
)
# Binary date and timestamptz count from 2000-01-01 00:00 UTC (in days; in microseconds).
_PG_EPOCH = dt.date(2000, 1, 1)
_PG_EPOCH_MS = 946_684_800_000
_UPSERT_BOOKINGS = """
INSERT INTO analytics_booking_outcome (booking_id, site_id, desk_id, start_at, observed_s,
                                       occupied_s, outcome)
SELECT b.booking_id, b.site_id, b.desk_id, b.start_at, r.observed_s, r.occupied_s,
       (%(names)s::text[])[r.outcome + 1]
  FROM _rollup_booking r
  JOIN unnest(%(ids)s::text[]) WITH ORDINALITY i(id, idx) ON i.idx - 1 = r.booking
  JOIN bookings b ON b.booking_id = i.id
ON CONFLICT (booking_id) DO UPDATE SET
    site_id = EXCLUDED.site_id, desk_id = EXCLUDED.desk_id, start_at = EXCLUDED.start_at,
    observed_s = EXCLUDED.observed_s, occupied_s = EXCLUDED.occupied_s,
    outcome = EXCLUDED.outcome, computed_at = now()
"""


def _copy(cur: Any, table: str, columns: dict[str, np.ndarray]) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(encode(columns))


def desk_day_rows(
    ms: dict[str, np.ndarray], n_desks: int, hours: np.ndarray, midnights: np.ndarray
) -> list[dict[str, np.ndarray]]:
    """The desk-day rows worth storing, as COPY columns: one group an array width, since an
    array column has one width a COPY row layout.

    `ms` holds each measure's milliseconds per desk and hour bucket (desk-major). A day's
    figure is its hours' milliseconds summed, then floored to seconds (as the files path);
    each hour is floored on its own in the arrays. A desk-day is kept when its observed,
    occupied or booked seconds are > 0. Its arrays run from its first to its last hour with
    any second in it (`first_hour` says where that is in the day): outside opening hours
    every figure is 0, so a working day stores about half of its hours.
    """
    n_hours = len(hours)
    seconds = {name: (values // _MS_PER_S).reshape(n_desks, n_hours) for name, values in ms.items()}
    starts = np.searchsorted(hours, midnights[:-1])
    days = {
        name: np.add.reduceat(values.reshape(n_desks, n_hours), starts, axis=1) // _MS_PER_S
        for name, values in ms.items()
    }
    keep = (days["observed_s"] > 0) | (days["occupied_s"] > 0) | (days["booked_s"] > 0)
    carries = np.logical_or.reduce([seconds[name] > 0 for name in MEASURES])
    index = np.arange(n_hours)
    first = np.minimum.reduceat(np.where(carries, index, n_hours), starts, axis=1)
    last = np.maximum.reduceat(np.where(carries, index, -1), starts, axis=1)
    desk, day = np.nonzero(keep)
    f, lst = first[desk, day], last[desk, day]
    width = np.where(lst >= f, lst - f + 1, 0)
    f = np.where(width > 0, f, starts[day])
    groups: list[dict[str, np.ndarray]] = []
    for w in np.unique(width):
        rows = np.flatnonzero(width == w)
        d = desk[rows]
        hour = f[rows][:, None] + np.arange(w)
        groups.append(
            {
                "desk": d.astype(np.int32),
                "slot": day[rows].astype(np.int64),
                **{name: days[name][d, day[rows]].astype(np.int64) for name in MEASURES},
                "first_hour": (f[rows] - starts[day[rows]]).astype(np.int16),
                **{
                    f"h_{name}": seconds[name][d[:, None], hour].astype(np.int32)
                    for name in MEASURES
                },
            }
        )
    return groups


def _final(
    group: dict[str, np.ndarray],
    site: str,
    desk_ids: list[str],
    start: dt.date,
    midnights: np.ndarray,
) -> list[dict[str, np.ndarray]]:
    """A group's rows as `analytics_desk_day` columns on the wire, split by the byte length
    of their desk ids (a text column of one width a row layout): COPY straight into the
    table, no staging and no INSERT … SELECT to map index numbers to ids."""
    ids = [desk_id.encode() for desk_id in desk_ids]
    length = np.asarray([len(i) for i in ids])[group["desk"]]
    slot = group["slot"]
    parts = []
    for n in np.unique(length):
        rows = np.flatnonzero(length == n)
        desk = group["desk"][rows]
        parts.append(
            {
                "site_id": np.full(len(rows), site.encode(), dtype=f"S{len(site.encode())}"),
                "desk_id": np.asarray(ids, dtype=f"S{n}")[desk],
                "day": (start.toordinal() - _PG_EPOCH.toordinal() + slot[rows]).astype(np.int32),
                "bucket_start": (midnights[slot[rows]] - _PG_EPOCH_MS) * 1000,
                **{name: group[name][rows] for name in MEASURES},
                "unbooked_occupied_s": group["occupied_s"][rows] - group["booked_occupied_s"][rows],
                "first_hour": group["first_hour"][rows],
                **{f"hour_{name}": group[f"h_{name}"][rows] for name in MEASURES},
            }
        )
    return parts


def write_sites(
    conn: Any,
    computed: Sequence[tuple[Results, BookingArrays]],
    period: Period,
    percentile: str,
) -> list[dict[str, int]]:
    """Replace the rollups of several sites for the period in one transaction: each table's
    rows of all of them in one statement (a one-day run is mostly per-statement cost)."""
    sites = [results.layout.sites[0].id for results, _ in computed]
    groups = [_desk_day_groups(results) for results, _ in computed]
    common = {"sites": sites, "start": period.start, "end": period.end}
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_TEMP)
        cur.execute(
            "DELETE FROM analytics_desk_day WHERE site_id = ANY(%(sites)s) "
            "AND day >= %(start)s AND day < %(end)s",
            common,
        )
        with cur.copy(
            f"COPY analytics_desk_day ({_DESK_DAY_COLUMNS}) FROM STDIN (FORMAT binary)"
        ) as copy:
            copy.write(HEADER)
            for (results, _), site_groups in zip(computed, groups, strict=True):
                cal = results.calendars
                midnights = cal.d_bounds[cal.d_off[0] : cal.d_off[1]]
                for group in site_groups:
                    for part in _final(
                        group,
                        results.layout.sites[0].id,
                        results.layout.desk_ids,
                        period.start,
                        midnights,
                    ):
                        copy.write(encode_rows(part))
            copy.write(TRAILER)
        _write_booking_outcomes(cur, computed)
        cur.execute(
            "DELETE FROM analytics_site_day WHERE site_id = ANY(%(sites)s) "
            "AND day >= %(start)s AND day < %(end)s",
            common,
        )
        cur.executemany(
            "INSERT INTO analytics_site_day (site_id, day, open, peak, peak_at, copresence_s, "
            "alone_s, desks_used) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [row for results, _ in computed for row in _site_day_rows(results, period)],
        )
        cur.executemany(
            "INSERT INTO analytics_site_summary (site_id, period_from, period_to, percentile, "
            "days_open, "
            "capacity, desks_needed, surplus) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (site_id, period_from, period_to) DO UPDATE SET "
            "percentile = EXCLUDED.percentile, days_open = EXCLUDED.days_open, "
            "capacity = EXCLUDED.capacity, desks_needed = EXCLUDED.desks_needed, "
            "surplus = EXCLUDED.surplus, computed_at = now()",
            [
                (
                    site,
                    period.start,
                    period.end,
                    percentile,
                    results.days_open[0],
                    results.capacity[0],
                    results.desks_needed[0],
                    results.surplus(0),
                )
                for site, (results, _) in zip(sites, computed, strict=True)
            ],
        )
    return [
        {
            "desk_days": sum(len(group["desk"]) for group in site_groups),
            "desk_hours": sum(group["h_observed_s"].size for group in site_groups),
            "bookings": len(bookings),
        }
        for site_groups, (_, bookings) in zip(groups, computed, strict=True)
    ]


def _desk_day_groups(results: Results) -> list[dict[str, np.ndarray]]:
    layout, cal = results.layout, results.calendars
    ms = {
        "observed_s": results.observed_ms,
        "occupied_s": results.occupied_ms,
        "booked_s": results.booked_ms,
        "booked_observed_s": results.booked_observed_ms,
        "booked_occupied_s": results.booked_occupied_ms,
    }
    midnights = cal.d_bounds[cal.d_off[0] : cal.d_off[1]]
    return desk_day_rows(ms, len(layout.desk_ids), cal.buckets(0), midnights)


def _write_booking_outcomes(cur: Any, computed: Sequence[tuple[Results, BookingArrays]]) -> None:
    """All sites' booking outcomes: one COPY numbered across the sites, one upsert."""
    with_bookings = [(results, bookings) for results, bookings in computed if len(bookings)]
    if not with_bookings:
        return
    _copy(
        cur,
        "_rollup_booking",
        {
            "booking": np.arange(sum(len(b) for _, b in with_bookings), dtype=np.int32),
            "observed_s": np.concatenate([r.booking_observed_ms for r, _ in with_bookings])
            // _MS_PER_S,
            "occupied_s": np.concatenate([r.booking_occupied_ms for r, _ in with_bookings])
            // _MS_PER_S,
            "outcome": np.concatenate([r.booking_outcome for r, _ in with_bookings]).astype(
                np.int16
            ),
        },
    )
    ids = [booking_id for _, bookings in with_bookings for booking_id in bookings.booking_id]
    cur.execute(_UPSERT_BOOKINGS, {"ids": ids, "names": list(OUTCOME_NAMES)})


def _site_day_rows(results: Results, period: Period) -> list[tuple[Any, ...]]:
    cal = results.calendars
    site = results.layout.sites[0].id
    return [
        (
            site,
            period.start + dt.timedelta(days=i),
            bool(cal.open_day[r]),
            int(results.peak[r]),
            None
            if results.peak_at_ms[r] < 0
            else dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
            + dt.timedelta(milliseconds=int(results.peak_at_ms[r])),
            int(results.copresence_ms[r]) // _MS_PER_S,
            int(results.alone_ms[r]) // _MS_PER_S,
            int(results.desks_used[r]),
        )
        for i, r in enumerate(cal.day_rows(0))
    ]
