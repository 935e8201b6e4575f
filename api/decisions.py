"""Routes: the region's decision figures (docs/decisions.md) and day passes bought.

`GET /v1/decision` reads the stored inventory, site-day rollups, observed seconds and day
passes and returns `analytics.decision` with the same field names as `hubsense analytics
decision --json` (a site without sensor data in the period: use figures null and
`not_measured`; a main office without: `freed_passes_per_month` null; per site
`commute_by_month` with the same dates a year earlier);
`POST /v1/daypasses` stores passes idempotently by pass_id (counts, never names).
Facilities only: these are the organisation's figures.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Annotated

from fastapi import APIRouter, HTTPException
from hubsense.api import models
from hubsense.api.auth import Conn, Facilities
from hubsense.api.metrics import From, Percentile, To, _period
from pydantic import BaseModel, ConfigDict, Field

from hubsense.errors import ConfigError

router = APIRouter(prefix="/v1", tags=["decisions"], responses=models.ERRORS)


class CommuteMonth(BaseModel):
    month: str = Field(description="The month, e.g. '2026-03' (cut at the period's ends).")
    commute_km_avoided: float | None
    co2_kg_avoided: float | None
    co2_kg_avoided_year_before: float | None = Field(
        description="The same dates a year earlier; null when there was no data then."
    )


class SiteDecision(BaseModel):
    site: str
    kind: str
    desk_days_used: int | None = Field(description="null: not measured (see not_measured)")
    cost: float | None
    cost_per_used_desk_day: float | None
    day_pass_equivalent: float | None
    cheaper_as_day_passes: bool | None
    lone_weeks: list[str]
    community_day: str | None
    commute_km_avoided: float | None
    co2_kg_avoided: float | None
    observed_share: float | None = Field(
        description="Observed seconds / (opening seconds x desks); null for coworking sites."
    )
    not_measured: str | None = Field(
        description="Why the use figures are null, e.g. 'no sensor data in the period'."
    )
    commute_by_month: list[CommuteMonth] = Field(
        description="Per month of the period: commute and CO2 avoided, CO2 a year earlier "
        "(empty for an office)."
    )


class Decision(BaseModel):
    from_: dt.date = Field(alias="from")
    to: dt.date
    currency: str | None
    freed_passes_per_month: float | None
    day_passes_bought: int
    day_pass_budget_month: float | None
    sites: list[SiteDecision]
    observed_share: float | None = Field(
        description="Over the sites with desks: observed / (opening seconds x desks)."
    )
    not_measured: str | None = Field(
        description="Why freed_passes_per_month is null though set up: no sensor data at the "
        "main office in the period."
    )


class DayPassIn(BaseModel):
    model_config = ConfigDict(extra="forbid")  # no other fields: no names
    pass_id: models.BookingId
    site: Annotated[str, Field(min_length=1, max_length=100)]
    date: dt.date


class DayPassesStored(BaseModel):
    added: int
    replaced: int


@router.get(
    "/decision",
    response_model=Decision,
    response_model_by_alias=True,
    summary="The region's decision figures of a period",
)
def get_decision(
    who: Facilities, conn: Conn, start: From, end: To, percentile: Percentile = 95
) -> Decision:
    from hubsense.analytics.decision import decide
    from hubsense.analytics.io.decision_read import period_inputs, stored_inventory

    period = _period(start, end)
    try:
        inventory = stored_inventory(conn)
    except ValueError as error:  # an inventory that no longer validates
        raise HTTPException(422, f"stored inventory: {error}") from None
    days, passes, observed = period_inputs(conn, period.start, period.end)
    result = decide(
        inventory, days, passes, period.start, period.end, Fraction(percentile), observed
    )
    return Decision.model_validate(result.as_json())


@router.post(
    "/daypasses", response_model=DayPassesStored, summary="Store day passes (idempotent by id)"
)
def post_daypasses(
    who: Facilities, conn: Conn, passes: Annotated[list[DayPassIn], Field(max_length=10_000)]
) -> DayPassesStored:
    from hubsense.daypasses import parse_rows, site_kinds, store

    rows = [{"pass_id": p.pass_id, "site": p.site, "date": p.date.isoformat()} for p in passes]
    try:
        valid = parse_rows(rows, "body", site_kinds(conn), first_line=0)
    except ConfigError as error:
        raise HTTPException(422, str(error)) from None
    return DayPassesStored(**store(conn, valid))
