"""The API's request and response shapes (they are its OpenAPI schema).

Pure data: no I/O. Times are ISO-8601 with an offset; durations carry their unit.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Path
from hubsense.api.today import Today
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from hubsense.wire import ID_PATTERN

SiteId = Annotated[str, Field(pattern=ID_PATTERN)]
# Instants outside these years are typing errors, and far ones overflow time zone arithmetic.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


class Problem(BaseModel):
    detail: str


class ValidationProblem(BaseModel):
    detail: list[dict[str, Any]]


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No API key, or a wrong or revoked one"},
    403: {"model": Problem, "description": "The key's role or sites do not allow this"},
    404: {"model": Problem, "description": "No such site or booking"},
    422: {"model": Problem | ValidationProblem, "description": "Invalid parameters or body"},
}
BookingId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^/\x00-\x1f]+$")]
# Path and query forms: PostgreSQL text cannot hold NUL, and ids never contain "/".
SitePath = Annotated[str, Path(pattern=ID_PATTERN, description="A site id.")]
BookingPath = Annotated[
    str,
    Path(min_length=1, max_length=200, pattern=r"^[^/\x00-\x1f]+$", description="A booking id."),
]


class Site(BaseModel):
    id: str
    name: str
    kind: Literal["office", "hub", "coworking"]
    municipality: str | None
    timezone: str
    opening_hours: dict[str, list[str]]
    closed_dates: list[dt.date]
    area_m2: float | None
    capacity: int = Field(description="Desks in the inventory.")
    zones: list[str]


class Desk(BaseModel):
    id: str
    site: str
    zone: str | None
    node: str | None = Field(description="The node whose sensor names the desk.")


class DeskNow(BaseModel):
    desk: str
    zone: str | None
    status: Literal["free", "occupied", "booked", "unknown"]
    walk_in: bool = Field(description="Occupied while no booking runs.")
    booking_id: str | None
    booking_end: dt.datetime | None
    since: dt.datetime | None = Field(description="When the desk's last state began.")


class OccupancyNow(BaseModel):
    site: str
    at: dt.datetime
    counts: dict[str, int]
    desks: list[DeskNow]


class NodeStatus(BaseModel):
    node: str
    site: str
    online: bool | None
    last_seen: dt.datetime | None = Field(description="The node's last event or status.")
    version: str | None
    uptime_s: float | None
    outbox_depth: int | None
    last_reading_age_s: dict[str, float | None]
    cpu_temp_c: float | None
    desks: int


class BookingIn(BaseModel):
    """A booking from a booking tool; its id makes every write idempotent."""

    model_config = ConfigDict(extra="forbid")

    site: SiteId
    desk: SiteId
    start: AwareDatetime
    end: AwareDatetime
    booker: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="Stored only as a salted hash."
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> BookingIn:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if not (self.start >= EARLIEST and self.end <= LATEST):
            raise ValueError("start and end must lie in the years 2000 to 2099")
        return self


class BookingNew(BookingIn):
    booking_id: BookingId


class Booking(BaseModel):
    booking_id: str
    site: str
    desk: str
    start: dt.datetime
    end: dt.datetime
    origin: str
    booker_hashed: bool
    released_at: dt.datetime | None
    cancelled_at: dt.datetime | None = Field(
        default=None, description="Gone from its calendar or cancelled; kept, not counted."
    )


class ImportResult(BaseModel):
    rows: int = Field(description="Bookings in the file.")
    created: int
    updated: int
    unchanged: int
    cancelled: int = Field(
        default=0, description="The source's bookings in the window the file no longer holds."
    )
    dry_run: bool = False


class DeskMetrics(BaseModel):
    key: str = Field(description="Desk id, zone name or site id, per `level`.")
    bucket_start: dt.datetime
    observed_s: int
    occupied_s: int
    booked_s: int
    booked_observed_s: int
    booked_occupied_s: int
    unbooked_occupied_s: int
    occupancy_rate: float | None
    true_utilisation: float | None


class BookingOutcome(BaseModel):
    booking_id: str
    desk: str
    start: dt.datetime
    end: dt.datetime
    observed_s: int
    occupied_s: int
    outcome: Literal["attended", "no_show", "unknown"]
    released_at: dt.datetime | None


class OutcomeSummary(BaseModel):
    site: str
    attended: int
    no_show: int
    unknown: int
    no_show_rate: float | None = Field(description="no_show / (attended + no_show).")
    bookings: list[BookingOutcome]


class RightSizing(BaseModel):
    site: str
    days_open: int
    capacity: int
    desks_needed: int
    surplus: int
    area_m2: float | None
    area_freed_m2: float | None = Field(description="area_m2 x surplus / capacity.")
    cost_saved_month: float | None = Field(description="cost_per_desk_month x surplus.")


class WeekDay(BaseModel):
    """One day of the hub's current ISO week (Monday to Sunday, site-local)."""

    date: dt.date
    weekday: str = Field(description="mon … sun")
    open: bool = Field(description="The day has opening hours and is not a closed date.")
    source: Literal["rollup", "live", "not_measured", "future"] = Field(
        description="rollup: a finished day from the analytics rollups (`analytics_site_day`);"
        " live: today so far, from the events (as `today`); not_measured: a past day without a"
        " rollup row yet; future: not yet come. Only rollup and live days carry numbers."
    )
    desks_used: int | None = Field(
        description="Desks occupied at least `used_min_s` (default 30 min) that day"
        " (docs/metrics.md `desks_used`); today: so far. None when there is no number."
    )
    copresence_s: int | None = Field(
        description="Seconds inside opening hours with two or more desks in use at once"
        " (time together); today: so far. None when there is no number."
    )


class UpcomingBookings(BaseModel):
    date: dt.date
    weekday: str = Field(description="mon … sun")
    bookings: int = Field(
        description="Bookings starting that local day, cancelled ones left out (counts only,"
        " as `GET /v1/sites/{site}/upcoming`)."
    )


class HubWeek(BaseModel):
    """This week at the hub, the next 7 days' bookings and the day most people come.

    Day-level counts, no desk and no person: the same in every view (docs/api.md)."""

    week: str = Field(description="The current ISO week, e.g. 2026-W10.")
    days: list[WeekDay] = Field(description="Monday to Sunday of the current ISO week.")
    upcoming: list[UpcomingBookings] = Field(description="Today and the 6 days after it.")
    used_min_s: int = Field(
        description="A desk counts as used that day from this many occupied seconds (the"
        " inventory's `used_min_s`, default 1,800)."
    )
    community_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = Field(
        description="The weekday with the highest mean `desks_used` over the open days of"
        " the 56 days before today (docs/decisions.md community day); None when fewer than"
        " `community_min_weeks` weeks were measured or nobody came."
    )
    community_weeks: int = Field(
        description="ISO weeks with at least one measured open day in those 56 days."
    )
    community_min_weeks: int = Field(
        description="Weeks needed before the page names a day (fewer say not enough)."
    )
    community_line: str = Field(
        description='The sentence the page shows, e.g. "Most people come on Tuesdays".'
    )


class HubState(BaseModel):
    site: str
    name: str
    timezone: str = Field(description="The site's IANA time zone; show times in it.")
    at: dt.datetime
    view: Literal["counts", "desks", "closed"] = Field(
        description="desks: every desk; counts: numbers only; closed: outside opening hours,"
        " the public view shows no numbers."
    )
    counts: dict[str, int] | None
    desks: list[DeskNow] | None
    # The one `Today` (a dataclass, which pydantic validates and documents as it is).
    today: Today
    simulated: bool = Field(
        False, description="The server runs on a simulated clock (the demo): `at` is not now."
    )
    week: HubWeek = Field(
        description="This week per day, the next 7 days' booking counts and the community day"
        " (day-level counts: shown in every view, also when closed)."
    )
