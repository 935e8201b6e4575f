"""Pure: opening hours as the inventory writes them — weekdays, "HH:MM-HH:MM" spans, closed dates.

The spans are site-local wall time; turning them into instants is `hubsense.site_time`'s job.
Errors are pydantic custom errors, so `hubsense.inventory.file` reports them as
`FILE:LINE: field: message` like every other inventory field.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StrictInt,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

MINUTES_PER_DAY = 24 * 60
_SPAN_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def index(self) -> int:  # type: ignore[override]  # shadows str.index on purpose
        """Monday is 0, as in `datetime.date.weekday()`."""
        return list(Weekday).index(self)


class OpeningSpan(BaseModel):
    """One span of opening hours in site-local wall time, minutes since midnight (1440 = 24:00)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_min: StrictInt
    end_min: StrictInt

    @model_validator(mode="after")
    def _ordered(self) -> OpeningSpan:
        if not 0 <= self.start_min < MINUTES_PER_DAY:
            raise PydanticCustomError("opening_span", "a span must start between 00:00 and 23:59")
        if self.end_min > MINUTES_PER_DAY:
            raise PydanticCustomError("opening_span", "a span must end by 24:00")
        if self.end_min <= self.start_min:
            raise PydanticCustomError(
                "opening_span",
                f"span {format_span(self)} ends before it starts (no overnight spans)",
            )
        return self

    def __str__(self) -> str:
        return format_span(self)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_span(span: OpeningSpan) -> str:
    """`OpeningSpan(420, 1080)` -> "07:00-18:00" (the YAML and database form)."""
    return f"{_clock(span.start_min)}-{_clock(span.end_min)}"


def parse_span(text: str) -> OpeningSpan:
    """ "07:00-18:00" -> `OpeningSpan(420, 1080)`; 24:00 is allowed only as an end."""
    match = _SPAN_RE.match(text.strip())
    if not match:
        raise PydanticCustomError("opening_span", f"{text!r} is not a span of the form HH:MM-HH:MM")
    start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
    if start_h > 23 or start_m > 59:
        raise PydanticCustomError("opening_span", f"{text!r}: start must be 00:00..23:59")
    if end_m > 59 or end_h > 24 or (end_h == 24 and end_m != 0):
        raise PydanticCustomError("opening_span", f"{text!r}: end must be 00:01..24:00")
    start_min, end_min = start_h * 60 + start_m, end_h * 60 + end_m
    if end_min <= start_min:
        raise PydanticCustomError(
            "opening_span", f"span {text!r} ends before it starts (no overnight spans)"
        )
    return OpeningSpan(start_min=start_min, end_min=end_min)


def _span_before(value: Any) -> Any:
    return parse_span(value) if isinstance(value, str) else value


def _weekday_before(value: Any) -> Any:
    if isinstance(value, Weekday):
        return value
    if not isinstance(value, str) or value not in Weekday.__members__.values():
        raise PydanticCustomError(
            "weekday", f"unknown weekday {value!r}; use mon, tue, wed, thu, fri, sat or sun"
        )
    return Weekday(value)


def _sorted_disjoint(spans: list[OpeningSpan]) -> list[OpeningSpan]:
    ordered = sorted(spans, key=lambda span: span.start_min)
    for before, after in itertools.pairwise(ordered):
        if after.start_min < before.end_min:
            raise PydanticCustomError("opening_overlap", f"spans {before} and {after} overlap")
    return ordered


def _date_before(value: Any) -> Any:
    # Only a plain calendar date: "2026-12-24", not a datetime or a number of days.
    if isinstance(value, dt.datetime | int | float):
        raise PydanticCustomError("closed_date", f"{value!r} is not a date (YYYY-MM-DD)")
    if isinstance(value, str):
        if not _DATE_RE.match(value):
            raise PydanticCustomError("closed_date", f"{value!r} is not a date (YYYY-MM-DD)")
        try:
            return dt.date.fromisoformat(value)
        except ValueError as error:
            raise PydanticCustomError("closed_date", f"{value!r} is not a date: {error}") from None
    return value


# YAML and JSON carry a span as "HH:MM-HH:MM"; Python code gets an OpeningSpan.
Span = Annotated[
    OpeningSpan,
    BeforeValidator(_span_before),
    PlainSerializer(format_span, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _SPAN_RE.pattern, "examples": ["07:00-18:00"]}),
]
DayKey = Annotated[Weekday, BeforeValidator(_weekday_before)]
DaySpans = Annotated[list[Span], AfterValidator(_sorted_disjoint)]
ClosedDate = Annotated[dt.date, BeforeValidator(_date_before)]
