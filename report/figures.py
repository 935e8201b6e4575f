"""The report's numbers per site and period, from the database through the analytics.

From the analytics rollups when they cover the site's period (`rollups.py`); otherwise the
site is read and computed by `hubsense.analytics.site`, as `hubsense analytics run` does:
either way the numbers are the analytics' numbers (docs/metrics.md). Reads only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from hubsense.analytics.calendar import Bucket, Period
from hubsense.analytics.compute import DEFAULT_NOSHOW_MIN_S
from hubsense.analytics.decision import ProfileCell, day_profile
from hubsense.analytics.kernels.bookings import OUTCOME_ATTENDED, OUTCOME_NO_SHOW
from hubsense.report.model import Day, SiteFigures, Week, open_seconds

from hubsense.errors import InputError
from hubsense.inventory.model import Site

_MS_PER_S = 1000


def _weeks(results: Any, days: list[Day], zone: ZoneInfo) -> list[Week]:
    buckets = results.calendars.buckets(0)
    n_b = len(buckets)
    n_desks = len(results.layout.desk_ids)

    def per_day(values: np.ndarray) -> np.ndarray:
        return values.reshape(n_desks, n_b).sum(axis=0) if n_desks else np.zeros(n_b, np.int64)

    columns = [per_day(getattr(results, name)) for name in (
        "observed_ms", "occupied_ms", "booked_observed_ms", "booked_occupied_ms",
    )]  # fmt: skip
    copresence = {d.date: d.copresence_s for d in days}
    sums: dict[dt.date, list[int]] = {}
    for i, start_ms in enumerate(buckets):
        date = dt.datetime.fromtimestamp(int(start_ms) / 1000, zone).date()
        monday = date - dt.timedelta(days=date.weekday())
        row = sums.setdefault(monday, [0, 0, 0, 0, 0])
        for c, column in enumerate(columns):
            row[c] += int(column[i])
        row[4] += copresence.pop(date, 0) * _MS_PER_S  # once a day, not once an hour bucket
    return [Week(monday, *(v // _MS_PER_S for v in row)) for monday, row in sorted(sums.items())]


def _profile(results: Any, days: list[Day], zone: ZoneInfo) -> list[ProfileCell]:
    """Weekday x hour of the open days, from the hour buckets' occupied time of all desks."""
    buckets = results.calendars.buckets(0)
    n_desks = len(results.layout.desk_ids)
    if n_desks:
        per_hour = results.occupied_ms.reshape(n_desks, len(buckets)).sum(axis=0)
    else:
        per_hour = np.zeros(len(buckets), np.int64)
    occupied = []
    for start_ms, ms in zip(buckets, per_hour, strict=True):
        local = dt.datetime.fromtimestamp(int(start_ms) / 1000, zone)
        occupied.append((local.date(), local.hour, int(ms) // _MS_PER_S))
    return day_profile(occupied, [d.date for d in days if d.open])


def _open_s(results: Any) -> int:
    """Opening-hours seconds of the period times the desks: the most that could be observed."""
    toggles = results.calendars.h_tog[results.calendars.h_off[0] : results.calendars.h_off[1]]
    return open_seconds(toggles) * len(results.layout.desk_ids)


def site_figures(
    conn: Any,
    site: Site,
    node_of_desk: dict[str, str],
    period: Period,
    percentile: Fraction,
    noshow_min_s: int,
    use_rollups: bool = True,
) -> SiteFigures:
    """All the report's numbers of one site: from the rollups when they cover the period."""
    from hubsense.analytics.io.rollups_read import rollups_exist
    from hubsense.report.rollups import rollup_figures

    # The rollups know nothing of --noshow-min-s: outcomes come from the analytics' setting.
    if use_rollups and noshow_min_s == DEFAULT_NOSHOW_MIN_S and rollups_exist(conn):
        found = rollup_figures(conn, site, period, percentile)
        if found is not None:
            figures, computed_at = found
            stamp = computed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            return replace(figures, source=f"from the analytics rollups computed {stamp}")
    return _computed(conn, site, node_of_desk, period, percentile, noshow_min_s)


def _computed(conn: Any, site: Site, node_of_desk: dict[str, str], period: Period,
              percentile: Fraction, noshow_min_s: int) -> SiteFigures:  # fmt: skip
    """Read the site's events and bookings and compute, as `hubsense analytics run` does."""
    from hubsense.analytics.site import SiteLayout, compute_site, period_ms

    where = SiteLayout.of(site, node_of_desk)
    start_ms, end_ms = period_ms(where, period)
    # Hour buckets: the weeks sum them, the day profile needs them; days come per site-day row.
    results, bookings = compute_site(conn, where, period, Bucket.HOUR, noshow_min_s, percentile)
    zone = where.zone
    days = [
        Day(
            date=period.start + dt.timedelta(days=i),
            open=bool(results.calendars.open_day[r]),
            peak=int(results.peak[r]),
            copresence_s=int(results.copresence_ms[r]) // _MS_PER_S,
            alone_s=int(results.alone_ms[r]) // _MS_PER_S,
            desks_used=int(results.desks_used[r]),
        )
        for i, r in enumerate(results.calendars.day_rows(0))
    ]
    outcome = results.booking_outcome
    booked_observed_s = int(results.booked_observed_ms.sum()) // _MS_PER_S
    occupied_s = int(results.occupied_ms.sum()) // _MS_PER_S
    booked_occupied_s = int(results.booked_occupied_ms.sum()) // _MS_PER_S
    # Bookings count when they start inside the period (docs/metrics.md outcomes need no hours).
    in_period = (bookings.start_ms >= start_ms) & (bookings.start_ms < end_ms)
    return SiteFigures(
        id=site.id, name=site.name, kind=str(site.kind), municipality=site.municipality,
        capacity=len(site.desks), days_open=results.days_open[0],
        desks_needed=results.desks_needed[0], area_m2=site.area_m2,
        cost_per_desk_month=site.cost_per_desk_month,
        observed_s=int(results.observed_ms.sum()) // _MS_PER_S, occupied_s=occupied_s,
        booked_observed_s=booked_observed_s, booked_occupied_s=booked_occupied_s,
        unbooked_occupied_s=occupied_s - booked_occupied_s, open_s=_open_s(results),
        bookings=int(in_period.sum()),
        attended=int((in_period & (outcome == OUTCOME_ATTENDED)).sum()),
        no_shows=int((in_period & (outcome == OUTCOME_NO_SHOW)).sum()),
        days=days, weeks=_weeks(results, days, zone), profile=_profile(results, days, zone),
    )  # fmt: skip


def gather(
    dsn: str,
    period: Period,
    site_ids: list[str] | None = None,
    percentile: Fraction = Fraction(95),
    noshow_min_s: int = DEFAULT_NOSHOW_MIN_S,
    use_rollups: bool = True,
) -> list[SiteFigures]:
    """Figures of the given sites (default: every live site), offices first."""
    from hubsense.analytics.io.db_read import load_sites

    from hubsense.db.connect import connect

    with connect(dsn) as conn:
        live = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM sites WHERE retired_at IS NULL AND kind <> 'coworking' "
                "ORDER BY kind <> 'office', id"
            )
        ]
        if site_ids:
            unknown = [s for s in site_ids if s not in live]
            if unknown:
                raise InputError(f"--site {unknown[0]}: no such site in the database")
            live = [s for s in live if s in site_ids]
        if not live:
            raise InputError("sites: the database has no sites (run `hubsense inventory apply`)")
        loaded, node_of_desk = load_sites(conn, live)
        by_id = {site.id: site for site in loaded}
        return [
            site_figures(
                conn, by_id[s], node_of_desk, period, percentile, noshow_min_s, use_rollups
            )
            for s in live
        ]
