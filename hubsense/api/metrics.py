"""Routes: SPEC §6 metrics per desk, zone or site and period; booking outcomes; daily peaks
and co-presence; right-sizing (desks needed, surplus, area freed).

Periods are site-local dates `from` (inclusive) to `to` (exclusive), as in
`hubsense analytics compute`. Seconds are summed milliseconds floored (zone and site
rows sum their desks' milliseconds first). Must not write anything.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from fractions import Fraction
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from hubsense.api import models
from hubsense.api.auth import Conn, Reader, check_site, visible_sites

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


def _compute(conn: Any, site: str, period: Any, bucket: str = "day", percentile: int = 95) -> Any:
    from hubsense.analytics.calendar import Bucket
    from hubsense.api.metrics_data import read_layout, site_metrics

    layout = read_layout(conn, site)
    if layout is None:
        raise HTTPException(404, f"no site {site}")
    return site_metrics(conn, layout, period, Bucket(bucket), percentile=Fraction(percentile))


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
    start: From,
    end: To,
    bucket: Annotated[Literal["hour", "day", "week", "month"], Query()] = "day",
    level: Annotated[Literal["desk", "zone", "site"], Query()] = "site",
) -> list[models.DeskMetrics]:
    from hubsense.analytics.calendar import format_local

    check_site(who, site)
    data = _compute(conn, site, _period(start, end, bucket), bucket)
    results, layout = data.results, data.results.layout
    starts = results.calendars.buckets(0).tolist()
    zone = results.calendars.zones[0]
    columns = (
        results.observed_ms,
        results.occupied_ms,
        results.booked_ms,
        results.booked_observed_ms,
        results.booked_occupied_ms,
    )
    sums: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0] * 5)
    zones = {desk.id: desk.zone or "(no zone)" for desk in data.site.desks}
    for d, desk in enumerate(layout.desk_ids):
        key = {"desk": desk, "zone": zones[desk], "site": site}[level]
        row0 = int(results.row_off[d])
        for j in range(len(starts)):
            acc = sums[(key, j)]
            for c, column in enumerate(columns):
                acc[c] += int(column[row0 + j])
    out = []
    for (key, j), ms in sorted(sums.items()):
        observed, occupied, booked, booked_observed, booked_occupied = (v // _MS for v in ms)
        out.append(
            models.DeskMetrics(
                key=key,
                bucket_start=dt.datetime.fromisoformat(format_local(starts[j], zone)),
                observed_s=observed,
                occupied_s=occupied,
                booked_s=booked,
                booked_observed_s=booked_observed,
                booked_occupied_s=booked_occupied,
                unbooked_occupied_s=occupied - booked_occupied,
                occupancy_rate=_ratio(ms[1], ms[0]),
                true_utilisation=_ratio(ms[4], ms[3]),
            )
        )
    return out


@router.get(
    "/sites/{site}/booking-outcomes",
    response_model=models.OutcomeSummary,
    summary="Each booking overlapping the period: attended, no_show or unknown",
)
def booking_outcomes(
    site: models.SitePath, who: Reader, conn: Conn, start: From, end: To
) -> models.OutcomeSummary:
    from hubsense.analytics.kernels.bookings import OUTCOME_NAMES

    check_site(who, site)
    data = _compute(conn, site, _period(start, end))
    results = data.results
    rows = []
    for b, (booking_id, b_start, b_end, released) in enumerate(data.booking_rows):
        rows.append(
            models.BookingOutcome(
                booking_id=booking_id,
                desk=results.layout.desk_ids[int(data.bookings.desk[b])],
                start=b_start,
                end=b_end,
                observed_s=int(results.booking_observed_ms[b]) // _MS,
                occupied_s=int(results.booking_occupied_ms[b]) // _MS,
                outcome=OUTCOME_NAMES[int(results.booking_outcome[b])],
                released_at=released,
            )
        )
    tally = {
        name: sum(r.outcome == name for r in rows) for name in ("attended", "no_show", "unknown")
    }
    return models.OutcomeSummary(
        site=site,
        **tally,
        no_show_rate=_ratio(tally["no_show"], tally["attended"] + tally["no_show"]),
        bookings=rows,
    )


@router.get(
    "/sites/{site}/daily",
    response_model=list[models.TodaySummary],
    summary="Per local day: open, peak desks in use, its first instant, co-presence seconds",
)
def daily(
    site: models.SitePath, who: Reader, conn: Conn, start: From, end: To
) -> list[models.TodaySummary]:
    from hubsense.api.today import WEEKDAYS

    check_site(who, site)
    period = _period(start, end)
    data = _compute(conn, site, period)
    results, site_model = data.results, data.site
    hours = site_model.model_dump(mode="json")["opening_hours"]
    out = []
    for i, r in enumerate(results.calendars.day_rows(0)):
        day = period.start + dt.timedelta(days=i)
        at = int(results.peak_at_ms[r])
        is_open = bool(results.calendars.open_day[r])
        out.append(
            models.TodaySummary(
                date=day,
                open=is_open,
                opening_hours=hours.get(WEEKDAYS[day.weekday()], []) if is_open else [],
                open_now=False,
                copresence_s=int(results.copresence_ms[r]) // _MS,
                peak=int(results.peak[r]),
                peak_at=dt.datetime.fromtimestamp(at / _MS, dt.UTC) if at >= 0 else None,
            )
        )
    return out


def _right_sizing(data: Any) -> models.RightSizing:
    results, site = data.results, data.site
    capacity, needed = results.capacity[0], results.desks_needed[0]
    surplus = capacity - needed
    return models.RightSizing(
        site=site.id,
        days_open=results.days_open[0],
        capacity=capacity,
        desks_needed=needed,
        surplus=surplus,
        area_m2=site.area_m2,
        area_freed_m2=round(site.area_m2 * surplus / capacity, 1)
        if site.area_m2 and capacity
        else None,
        cost_saved_month=(
            round(site.cost_per_desk_month * surplus, 2)
            if site.cost_per_desk_month is not None
            else None
        ),
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
    only = visible_sites(who)
    sites = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM sites WHERE retired_at IS NULL"
            " AND (%(only)s::text[] IS NULL OR id = ANY(%(only)s)) ORDER BY id",
            {"only": only},
        ).fetchall()
    ]
    return [_right_sizing(_compute(conn, site, period, percentile=percentile)) for site in sites]


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
    return _right_sizing(_compute(conn, site, _period(start, end), percentile=percentile))
