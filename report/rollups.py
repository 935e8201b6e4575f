"""The report's figures of one site read from the analytics rollups, when they cover the period.

The rollups (migration 0005, written by `hubsense analytics run` and its scheduler) cover
a site's period when every day of it has an `analytics_site_day` row; the analytics
writes a site's day, desk and booking rows of a period in one transaction, so then the
desk days and booking outcomes are there too. Desks needed is recomputed from the days'
peaks with the analytics' own nearest-rank percentile, so any period can be reported.
Reads only.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

from hubsense.analytics.calendar import Period, opening_toggles
from hubsense.analytics.decision import ProfileCell, day_profile
from hubsense.analytics.kernels.percentile import nearest_rank
from hubsense.report.model import Day, SiteFigures, Week, open_seconds

from hubsense.inventory.model import Site

_MEASURES = "observed_s, occupied_s, booked_observed_s, booked_occupied_s"


def rollup_figures(
    conn: Any, site: Site, period: Period, percentile: Fraction
) -> tuple[SiteFigures, dt.datetime] | None:
    """The site's figures and when the rollups were computed; None when they do not cover it."""
    days_rows = conn.execute(
        """SELECT day, open, peak, copresence_s, computed_at, coalesce(alone_s, 0),
                  coalesce(desks_used, 0) FROM analytics_site_day
           WHERE site_id = %s AND day >= %s AND day < %s ORDER BY day""",
        (site.id, period.start, period.end),
    ).fetchall()
    if len(days_rows) != period.n_days:
        return None
    days = [Day(r[0], r[1], r[2], r[3], int(r[5]), int(r[6])) for r in days_rows]
    computed_at = max(r[4] for r in days_rows)
    weeks = _weeks(conn, site.id, period, days)
    totals = conn.execute(
        f"""SELECT {", ".join(f"coalesce(sum({m}), 0)" for m in _MEASURES.split(", "))}
            FROM analytics_desk_day WHERE site_id = %s AND day >= %s AND day < %s""",
        (site.id, period.start, period.end),
    ).fetchone()
    observed_s, occupied_s, booked_observed_s, booked_occupied_s = (int(v) for v in totals)
    bookings, attended, no_shows = conn.execute(
        """SELECT count(*), count(*) FILTER (WHERE outcome = 'attended'),
                  count(*) FILTER (WHERE outcome = 'no_show')
           FROM analytics_booking_outcome o JOIN sites s ON s.id = o.site_id
           WHERE o.site_id = %s
             AND o.start_at >= (%s::date)::timestamp AT TIME ZONE s.timezone
             AND o.start_at < (%s::date)::timestamp AT TIME ZONE s.timezone""",
        (site.id, period.start, period.end),
    ).fetchone()
    open_days = [d.peak for d in days if d.open]
    figures = SiteFigures(
        id=site.id, name=site.name, kind=str(site.kind), municipality=site.municipality,
        capacity=len(site.desks), days_open=len(open_days),
        desks_needed=nearest_rank(open_days, percentile), area_m2=site.area_m2,
        cost_per_desk_month=site.cost_per_desk_month, observed_s=observed_s,
        occupied_s=occupied_s, booked_observed_s=booked_observed_s,
        booked_occupied_s=booked_occupied_s, unbooked_occupied_s=occupied_s - booked_occupied_s,
        open_s=open_seconds(opening_toggles(site, period)) * len(site.desks),
        bookings=bookings, attended=attended, no_shows=no_shows, days=days, weeks=weeks,
        profile=_profile(conn, site.id, period, days),
    )  # fmt: skip
    return figures, computed_at


def _weeks(conn: Any, site_id: str, period: Period, days: list[Day]) -> list[Week]:
    rows = conn.execute(
        f"""SELECT date_trunc('week', day)::date AS monday,
                   {", ".join(f"sum({m})" for m in _MEASURES.split(", "))}
            FROM analytics_desk_day WHERE site_id = %s AND day >= %s AND day < %s
            GROUP BY 1 ORDER BY 1""",
        (site_id, period.start, period.end),
    ).fetchall()
    copresence: dict[dt.date, int] = {}
    for day in days:
        monday = day.date - dt.timedelta(days=day.date.weekday())
        copresence[monday] = copresence.get(monday, 0) + day.copresence_s
    return [
        Week(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4]), copresence.get(r[0], 0))
        for r in rows
    ]


def _profile(conn: Any, site_id: str, period: Period, days: list[Day]) -> list[ProfileCell]:
    """Weekday x hour from the desk-hour rollups: summed occupied seconds per local hour (rows
    that are absent count as zero, so a sparse table gives the same profile)."""
    rows = conn.execute(
        """SELECT (h.bucket_start AT TIME ZONE s.timezone)::date,
                  extract(hour FROM h.bucket_start AT TIME ZONE s.timezone)::int,
                  sum(h.occupied_s)
             FROM analytics_desk_hour h JOIN sites s ON s.id = h.site_id
            WHERE h.site_id = %s AND h.day >= %s AND h.day < %s
            GROUP BY 1, 2""",
        (site_id, period.start, period.end),
    ).fetchall()
    occupied = [(r[0], int(r[1]), int(r[2])) for r in rows]
    return day_profile(occupied, [d.date for d in days if d.open])
