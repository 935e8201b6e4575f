"""Routes: docs/metrics.md metrics per desk, zone or site and period; booking outcomes; daily peaks
and co-presence; right-sizing (desks needed, surplus, area freed).

Periods are site-local dates `from` (inclusive) to `to` (exclusive), as in
`hubsense analytics compute`. The numbers come from the analytics rollups when they cover
the period, else they are computed from the events (`metrics_data`); the
`X-Hubsense-Source` header says which (`rollups` or `events`). Desk rows are the floored
seconds per desk and bucket; zone and site rows are their sums. Must not write anything.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from fractions import Fraction
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from hubsense.api import models
from hubsense.api.auth import Conn, Reader, check_site, visible_sites
from hubsense.api.today import Today

router = APIRouter(prefix="/v1", tags=["metrics"], responses=models.ERRORS)

MAX_DAYS = 400
MAX_HOUR_DAYS = 62
_MS = 1000

_FIRST, _LAST = dt.date(2000, 1, 1), dt.date(2100, 1, 1)
From = Annotated[
    dt.date,
    Query(alias="from", ge=_FIRST, le=_LAST, description="First site-local date, YYYY-MM-DD."),
]
To = Annotated[
    dt.date,
    Query(
        alias="to", ge=_FIRST, le=_LAST, description="Site-local date after the last (exclusive)."
    ),
]
Percentile = Annotated[
    int, Query(ge=1, le=100, description="Nearest-rank percentile of daily peaks (desks needed).")
]


def _period(start: dt.date, end: dt.date, bucket: str = "day") -> Any:
    from hubsense.analytics.calendar import Period

    if end <= start:
        raise HTTPException(422, "to: must be after from")
    limit = MAX_HOUR_DAYS if bucket == "hour" else MAX_DAYS
    if (end - start).days > limit:
        raise HTTPException(422, f"to: at most {limit} days with bucket={bucket}")
    return Period(start, end)


SOURCE_HEADER = "X-Hubsense-Source"


def _site(conn: Any, site: str) -> Any:
    from hubsense.analytics.site import read_layout

    found = read_layout(conn, site)
    if found is None:
        raise HTTPException(404, f"no site {site}")
    return found


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


@router.get(
    "/sites/{site}/metrics",
    response_model=list[models.DeskMetrics],
    summary="Observed, occupied and booked seconds, occupancy rate and true utilisation",
)
def metrics(
    site: models.SitePath,
    who: Reader,
    conn: Conn,
    response: Response,
    start: From,
    end: To,
    bucket: Annotated[Literal["hour", "day", "week", "month"], Query()] = "day",
    level: Annotated[Literal["desk", "zone", "site"], Query()] = "site",
) -> list[models.DeskMetrics]:
    from hubsense.analytics.calendar import Bucket
    from hubsense.api.metrics_data import desk_rows

    check_site(who, site)
    period = _period(start, end, bucket)
    where = _site(conn, site)
    source, rows = desk_rows(conn, where, period, Bucket(bucket))
    response.headers[SOURCE_HEADER] = source
    zones = {desk.id: desk.zone or "(no zone)" for desk in where.layout.sites[0].desks}
    sums: dict[tuple[str, dt.datetime], list[int]] = defaultdict(lambda: [0] * 5)
    for row in rows:
        key = {"desk": row.desk, "zone": zones[row.desk], "site": site}[level]
        acc = sums[(key, row.bucket_start)]
        for i, value in enumerate(row.seconds):
            acc[i] += value
    out = []
    for (key, bucket_start), (obs, occ, bkd, bkd_obs, bkd_occ) in sorted(sums.items()):
        out.append(
            models.DeskMetrics(
                key=key,
                bucket_start=bucket_start.astimezone(where.zone),
                observed_s=obs,
                occupied_s=occ,
                booked_s=bkd,
                booked_observed_s=bkd_obs,
                booked_occupied_s=bkd_occ,
                unbooked_occupied_s=occ - bkd_occ,
                occupancy_rate=_ratio(occ, obs),
                true_utilisation=_ratio(bkd_occ, bkd_obs),
            )
        )
    return out


@router.get(
    "/sites/{site}/booking-outcomes",
    response_model=models.OutcomeSummary,
    summary="Each booking overlapping the period: attended, no_show or unknown",
)
def booking_outcomes(
    site: models.SitePath, who: Reader, conn: Conn, response: Response, start: From, end: To
) -> models.OutcomeSummary:
    from hubsense.api.metrics_data import outcomes

    check_site(who, site)
    source, found = outcomes(conn, _site(conn, site), _period(start, end))
    response.headers[SOURCE_HEADER] = source
    details = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT booking_id, start_at, end_at, released_at FROM bookings"
            " WHERE booking_id = ANY(%s)",
            ([o.booking_id for o in found],),
        ).fetchall()
    }
    rows = [
        models.BookingOutcome(
            booking_id=o.booking_id,
            desk=o.desk,
            start=details[o.booking_id][0],
            end=details[o.booking_id][1],
            observed_s=o.observed_s,
            occupied_s=o.occupied_s,
            outcome=o.outcome,
            released_at=details[o.booking_id][2],
        )
        for o in found
    ]
    tally = {
        name: sum(r.outcome == name for r in rows) for name in ("attended", "no_show", "unknown")
    }
    return models.OutcomeSummary(
        site=site,
        attended=tally["attended"],
        no_show=tally["no_show"],
        unknown=tally["unknown"],
        no_show_rate=_ratio(tally["no_show"], tally["attended"] + tally["no_show"]),
        bookings=rows,
    )


@router.get(
    "/sites/{site}/daily",
    response_model=list[Today],
    summary="Per local day: open, peak desks in use, its first instant, co-presence seconds",
)
def daily(
    site: models.SitePath, who: Reader, conn: Conn, response: Response, start: From, end: To
) -> list[Today]:
    from hubsense.api.metrics_data import days
    from hubsense.api.today import WEEKDAYS

    check_site(who, site)
    where = _site(conn, site)
    source, found = days(conn, where, _period(start, end))
    response.headers[SOURCE_HEADER] = source
    hours = where.layout.sites[0].model_dump(mode="json")["opening_hours"]
    return [
        Today(
            date=d.day,
            open=d.open,
            opening_hours=hours.get(WEEKDAYS[d.day.weekday()], []) if d.open else [],
            open_now=False,
            copresence_s=d.copresence_s,
            peak=d.peak,
            peak_at=d.peak_at,
        )
        for d in found
    ]


def _right_sizing(conn: Any, site: str, period: Any, percentile: int) -> models.RightSizing:
    from hubsense.api.metrics_data import days, desks_needed

    where = _site(conn, site)
    _, found = days(conn, where, period)
    days_open, needed = desks_needed(found, Fraction(percentile))
    capacity = len(where.layout.desk_ids)
    surplus = capacity - needed
    area, cost = where.site.area_m2, where.site.cost_per_desk_month
    return models.RightSizing(
        site=site,
        days_open=days_open,
        capacity=capacity,
        desks_needed=needed,
        surplus=surplus,
        area_m2=area,
        area_freed_m2=round(area * surplus / capacity, 1) if area and capacity else None,
        cost_saved_month=round(cost * surplus, 2) if cost is not None else None,
    )


@router.get(
    "/right-sizing",
    response_model=list[models.RightSizing],
    summary="Every visible site: capacity, desks needed (percentile of daily peaks), surplus",
)
def right_sizing(
    who: Reader, conn: Conn, start: From, end: To, percentile: Percentile = 95
) -> list[models.RightSizing]:
    period = _period(start, end)
    sites = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM sites WHERE retired_at IS NULL"
            " AND (%(only)s::text[] IS NULL OR id = ANY(%(only)s)) ORDER BY id",
            {"only": visible_sites(who)},
        ).fetchall()
    ]
    return [_right_sizing(conn, site, period, percentile) for site in sites]


@router.get(
    "/sites/{site}/right-sizing",
    response_model=models.RightSizing,
    summary="One site: capacity, desks needed, surplus and the area it frees",
)
def site_right_sizing(
    site: models.SitePath,
    who: Reader,
    conn: Conn,
    start: From,
    end: To,
    percentile: Percentile = 95,
) -> models.RightSizing:
    check_site(who, site)
    return _right_sizing(conn, site, _period(start, end), percentile)
