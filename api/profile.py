"""Routes: a site's day profile (weekday x hour) and its bookings of the next 7 days.

`GET /v1/sites/{site}/profile?from&to`: `analytics.decision.day_profile` over the period's
open days, from the rollups (`analytics_site_day` for the open days, the desk-hour rollups
for occupied seconds; an absent desk-hour row counts as zero). `GET
/v1/sites/{site}/upcoming`: bookings starting on each of the next 7 site-local days from now
on the app's clock (the demo's simulated one, or the wall's), counts only (cancelled ones
left out); `upcoming_counts` is the same read for other routes (the hub page's week). Field
names as in `hubsense.analytics.decision`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from hubsense.api import models
from hubsense.api.auth import Conn, Reader, check_site
from hubsense.api.metrics import From, To, _period
from pydantic import BaseModel, Field

router = APIRouter(prefix="/v1", tags=["decisions"], responses=models.ERRORS)

UPCOMING_DAYS = 7


class ProfileCell(BaseModel):
    weekday: str = Field(description="mon … sun")
    hour: int = Field(ge=0, le=23, description="Local hour of day.")
    desks: float = Field(description="Mean desks in use in that hour over the open days.")


class Profile(BaseModel):
    site: str
    from_: dt.date = Field(alias="from")
    to: dt.date
    open_days: int
    profile: list[ProfileCell]


class UpcomingDay(BaseModel):
    date: dt.date
    weekday: str
    bookings: int


class Upcoming(BaseModel):
    site: str
    days: list[UpcomingDay]


_OPEN_DAYS = """
SELECT day FROM analytics_site_day WHERE site_id = %s AND open AND day >= %s AND day < %s
"""
_HOURS = """
SELECT (h.bucket_start AT TIME ZONE s.timezone)::date,
       extract(hour FROM h.bucket_start AT TIME ZONE s.timezone)::int, sum(h.occupied_s)
  FROM analytics_desk_hour h JOIN sites s ON s.id = h.site_id
 WHERE h.site_id = %s AND h.day >= %s AND h.day < %s  -- a local day's hours nest in it
 GROUP BY 1, 2
"""
_UPCOMING = """
SELECT g.day, count(b.booking_id)
  FROM sites s
 CROSS JOIN LATERAL (
       SELECT (%s::timestamptz AT TIME ZONE s.timezone)::date + k AS day
         FROM generate_series(0, %s) AS k
 ) g
  LEFT JOIN bookings b
    ON b.site_id = s.id AND b.cancelled_at IS NULL
   AND b.start_at >= g.day::timestamp AT TIME ZONE s.timezone
   AND b.start_at < (g.day + 1)::timestamp AT TIME ZONE s.timezone
 WHERE s.id = %s
 GROUP BY g.day ORDER BY g.day
"""


def upcoming_counts(
    conn: Any, site: str, now: dt.datetime, days: int = UPCOMING_DAYS
) -> list[tuple[dt.date, int]]:
    """(site-local date, bookings starting that day, cancelled left out) for the `days` local
    dates from `now`'s, in order; an unknown site gives []."""
    if now.tzinfo is None:
        raise ValueError("upcoming_counts: now must be timezone-aware")
    rows = conn.execute(_UPCOMING, (now, days - 1, site)).fetchall()
    return [(day, int(n)) for day, n in rows]


def _known(conn: Any, site: str) -> None:
    if (
        conn.execute("SELECT 1 FROM sites WHERE id = %s AND retired_at IS NULL", (site,)).fetchone()
        is None
    ):
        raise HTTPException(404, f"no site {site}")


@router.get(
    "/sites/{site}/profile",
    response_model=Profile,
    response_model_by_alias=True,
    summary="Mean desks in use per weekday and hour over the period's open days",
)
def get_profile(who: Reader, conn: Conn, site: str, start: From, end: To) -> Profile:
    from hubsense.analytics.decision import day_profile

    check_site(who, site)
    period = _period(start, end)
    _known(conn, site)
    open_days = [row[0] for row in conn.execute(_OPEN_DAYS, (site, period.start, period.end))]
    occupied = [
        (day, int(hour), int(seconds))
        for day, hour, seconds in conn.execute(_HOURS, (site, period.start, period.end))
    ]
    cells = day_profile(occupied, open_days)
    return Profile.model_validate({
        "site": site, "from": period.start, "to": period.end, "open_days": len(open_days),
        "profile": [{"weekday": c.weekday, "hour": c.hour, "desks": c.desks} for c in cells],
    })  # fmt: skip


@router.get(
    "/sites/{site}/upcoming",
    response_model=Upcoming,
    summary="Bookings starting on each of the next 7 local days (counts only)",
)
def get_upcoming(request: Request, who: Reader, conn: Conn, site: str) -> Upcoming:
    from hubsense.analytics.decision import WEEKDAYS

    check_site(who, site)
    _known(conn, site)
    return Upcoming(
        site=site,
        days=[
            UpcomingDay(date=day, weekday=WEEKDAYS[day.weekday()], bookings=n)
            for day, n in upcoming_counts(conn, site, request.app.state.clock())
        ],
    )
