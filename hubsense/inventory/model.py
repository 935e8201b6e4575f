"""The inventory model of docs/inventory.md: what exists (sites, desks, nodes, sensors).

Pure: no I/O. Every validation rule lives here, in the model, so the CLI, the
database loader and the offline analytics agree on what a valid inventory is.
Rules that compare items (unique ids, a sensor's desk, pins) live in
`hubsense.inventory.rules` and are raised by `Inventory` with the path of the
offending item, together with every field error, so a user sees all at once.
Reading YAML with line marks and turning validation errors into
`FILE:LINE: field: message` lives in `hubsense.inventory.file`.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from hubsense.inventory.hours import (
    ClosedDate,
    DayKey,
    DaySpans,
    OpeningSpan,
    Weekday,
    format_span,
)
from hubsense.inventory.rules import Issue, find_issues
from hubsense.wire import Id

# Raspberry Pi header GPIOs in BCM numbering.
GPIO_PINS = range(0, 28)
_BLE_ADDRESS_RE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_BINDKEY_RE = re.compile(r"^[0-9A-Fa-f]{32}$")
# A BLE sensor's default stale_s: this many adverts missed (one lost advert is normal
# radio, three in a row is a sensor gone), and never under ten minutes (issue 16).
STALE_ADVERTS = 3
MIN_DEFAULT_STALE_S = 600
# Defaults (docs/decisions.md): a desk counts as used after 30 min a day; together means 1 h.
DEFAULT_USED_MIN_S = 1800
DEFAULT_TOGETHER_MIN_S = 3600
DEFAULT_CO2_KG_PER_KM = 0.12


class SiteKind(StrEnum):
    OFFICE = "office"
    HUB = "hub"
    # A private co-working space where day passes are bought: no desks or nodes of ours.
    COWORKING = "coworking"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PositiveSeconds = Annotated[StrictInt, Field(gt=0)]
# Money and distances: a number that is not negative (YAML ints and floats both fit).
NonNegative = Annotated[float, Field(ge=0)]


def _iso_currency(code: str) -> str:
    if pycountry.currencies.get(alpha_3=code) is None or code != code.upper():
        raise PydanticCustomError(
            "currency", f"{code!r} is not an ISO 4217 currency code (e.g. SEK, EUR, NOK)"
        )
    return code


Currency = Annotated[str, AfterValidator(_iso_currency)]


class GpioPirSensor(_Model):
    """A PIR motion sensor on a Raspberry Pi GPIO pin (BCM numbering)."""

    type: Literal["gpio_pir"]
    pin: StrictInt
    desk: Id
    # Seconds without motion before the desk counts as vacant.
    hold_s: PositiveSeconds = 600

    @field_validator("pin")
    @classmethod
    def _pin_on_header(cls, pin: int) -> int:
        if pin not in GPIO_PINS:
            raise PydanticCustomError("gpio_pin", "pin {pin} is out of range 0..27", {"pin": pin})
        return pin

    @property
    def key(self) -> str:
        return f"gpio:{self.pin}"


class BthomeSensor(_Model):
    """A BLE sensor sending BTHome v2 advertisements (motion, occupancy or presence)."""

    type: Literal["bthome"]
    address: str
    desk: Id
    # 32 hex digits when the sensor encrypts its advertisements.
    bindkey: str | None = None
    # Used for motion objects; occupancy and presence map directly.
    hold_s: PositiveSeconds = 600
    # How often the sensor advertises (its firmware setting; many BTHome sensors: 60 s).
    advert_interval_s: PositiveSeconds = 60
    # Silent (no decoded advert) this long, its desk is `unknown` (docs/wire.md): a dying
    # battery must not leave a desk occupied. None: see `stale_after_s`.
    stale_s: PositiveSeconds | None = None

    @field_validator("stale_s")
    @classmethod
    def _stale_after_adverts(cls, stale_s: int | None, info: ValidationInfo) -> int | None:
        interval = info.data.get("advert_interval_s")
        if stale_s is not None and interval is not None and stale_s <= interval:
            raise PydanticCustomError(
                "stale_s",
                "stale_s {stale_s} must be longer than advert_interval_s {interval} "
                "(else every pause between two adverts would make the desk unknown)",
                {"stale_s": stale_s, "interval": interval},
            )
        return stale_s

    @property
    def stale_after_s(self) -> int:
        """`stale_s`, or by default three missed adverts and at least ten minutes."""
        if self.stale_s is not None:
            return self.stale_s
        return max(STALE_ADVERTS * self.advert_interval_s, MIN_DEFAULT_STALE_S)

    @field_validator("address")
    @classmethod
    def _ble_address(cls, address: str) -> str:
        if not _BLE_ADDRESS_RE.match(address):
            raise PydanticCustomError(
                "ble_address",
                f"{address!r} is not a BLE address "
                "(6 hex octets with colons, e.g. A4:C1:38:00:00:01)",
            )
        # One spelling, so the sensor key and duplicate checks do not depend on case.
        return address.upper()

    @field_validator("bindkey")
    @classmethod
    def _bindkey(cls, bindkey: str | None) -> str | None:
        if bindkey is not None and not _BINDKEY_RE.match(bindkey):
            raise PydanticCustomError(
                "bindkey", f"bindkey must be 32 hex digits (got {len(bindkey)} characters)"
            )
        return bindkey

    @property
    def key(self) -> str:
        return f"ble:{self.address.upper()}"


Sensor = Annotated[GpioPirSensor | BthomeSensor, Field(discriminator="type")]
SENSOR_TYPES = ("gpio_pir", "bthome")


class Node(_Model):
    """A Raspberry Pi edge agent."""

    id: Id
    heartbeat_s: PositiveSeconds = 60
    sensors: list[Sensor] = Field(default_factory=list)

    @property
    def desk_ids(self) -> list[str]:
        """The desks this node observes, each once, in file order."""
        return list(dict.fromkeys(sensor.desk for sensor in self.sensors))


class Desk(_Model):
    id: Id
    zone: str | None = None


NonEmpty = Annotated[str, Field(min_length=1)]


class Site(_Model):
    id: Id
    name: NonEmpty
    kind: SiteKind
    municipality: str | None = None
    timezone: str
    # Weekday -> spans; a missing day is closed. Written in YAML as ["07:00-18:00", …].
    opening_hours: dict[DayKey, DaySpans] = Field(default_factory=dict)
    closed_dates: list[ClosedDate] = Field(default_factory=list)
    area_m2: Annotated[float, Field(gt=0)] | None = None
    cost_per_desk_month: Annotated[float, Field(ge=0)] | None = None
    # One-way road distance to the main office (0 for the main office itself), in km.
    commute_km: NonNegative | None = None
    # Price of one day pass here; overrides the organisation's `day_pass_price`.
    day_pass_price: NonNegative | None = None
    desks: list[Desk] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _iana_timezone(cls, name: str) -> str:
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone", f"{name!r} is not an IANA time zone (e.g. Europe/Stockholm)"
            ) from None
        return name

    @property
    def capacity(self) -> int:
        """Desks in the inventory (docs/metrics.md `capacity`)."""
        return len(self.desks)

    @cached_property
    def closed_date_set(self) -> frozenset[dt.date]:
        return frozenset(self.closed_dates)

    @property
    def zoneinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def spans_on(self, day: dt.date) -> list[OpeningSpan]:
        """Opening spans of a local date, sorted; empty on a closed date or a closed weekday."""
        if day in self.closed_date_set:
            return []
        return self.opening_hours.get(list(Weekday)[day.weekday()], [])

    def is_open_on(self, day: dt.date) -> bool:
        """docs/metrics.md `open`: the day has opening hours and is not a closed date."""
        return bool(self.spans_on(day))

    def opening_hours_summary(self) -> str:
        """One line, consecutive equal days grouped: "mon-fri 07:00-18:00; sat 10:00-14:00"."""
        groups: list[tuple[list[Weekday], str]] = []
        for day in Weekday:
            spans = self.opening_hours.get(day)
            text = ", ".join(format_span(span) for span in spans) if spans else ""
            if groups and groups[-1][1] == text:
                groups[-1][0].append(day)
            else:
                groups.append(([day], text))
        parts = [
            (days[0].value if len(days) == 1 else f"{days[0].value}-{days[-1].value}") + f" {text}"
            for days, text in groups
            if text
        ]
        return "; ".join(parts) if parts else "closed"


class Inventory(_Model):
    """The whole organisation. Lookups are computed once per (frozen) instance."""

    organisation: NonEmpty
    # docs/decisions.md, all optional: a figure whose input is missing is "not set", never 0.
    currency: Currency | None = None
    main_office: Id | None = None
    day_pass_price: NonNegative | None = None
    day_pass_budget_month: NonNegative | None = None
    co2_kg_per_km: NonNegative = DEFAULT_CO2_KG_PER_KM
    used_min_s: PositiveSeconds = DEFAULT_USED_MIN_S
    together_min_s: PositiveSeconds = DEFAULT_TOGETHER_MIN_S
    sites: list[Site]

    @model_validator(mode="wrap")
    @classmethod
    def _cross_checked(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Inventory:
        # Comparisons between items run on the raw input too, so they are reported
        # together with field errors instead of only after every field is fixed.
        issues = find_issues(data)
        try:
            inventory: Inventory = handler(data)
        except ValidationError as error:
            if not issues:
                raise
            raise ValidationError.from_exception_data(
                cls.__name__, [*_as_details(error), *_issue_details(issues)]
            ) from None
        if issues:
            raise ValidationError.from_exception_data(cls.__name__, _issue_details(issues))
        return inventory

    def is_set(self, name: str) -> bool:
        """Whether the file names the field (a default such as co2_kg_per_km is an assumption)."""
        return name in self.model_fields_set

    def day_pass_price_of(self, site: Site) -> float | None:
        """A site's day-pass price: its own, else the organisation's, else not set."""
        return site.day_pass_price if site.day_pass_price is not None else self.day_pass_price

    @cached_property
    def site_by_id(self) -> dict[str, Site]:
        return {site.id: site for site in self.sites}

    @cached_property
    def site_of_desk(self) -> dict[str, str]:
        return {desk.id: site.id for site in self.sites for desk in site.desks}

    @cached_property
    def site_of_node(self) -> dict[str, str]:
        return {node.id: site.id for site in self.sites for node in site.nodes}

    @cached_property
    def node_by_id(self) -> dict[str, Node]:
        return {node.id: node for site in self.sites for node in site.nodes}

    @cached_property
    def node_of_desk(self) -> dict[str, str]:
        """The one node whose sensors name each desk (docs/metrics.md: one node observes a desk)."""
        return {
            sensor.desk: node.id
            for site in self.sites
            for node in site.nodes
            for sensor in node.sensors
        }

    def counts(self) -> dict[str, int]:
        """Numbers of sites, desks, nodes and sensors."""
        return {
            "sites": len(self.sites),
            "desks": sum(len(site.desks) for site in self.sites),
            "nodes": sum(len(site.nodes) for site in self.sites),
            "sensors": sum(len(node.sensors) for site in self.sites for node in site.nodes),
        }


def _as_details(error: ValidationError) -> list[InitErrorDetails]:
    # Re-raise pydantic's own errors unchanged in meaning: same type name, loc and text.
    return [
        InitErrorDetails(
            type=PydanticCustomError(detail["type"], detail["msg"], detail.get("ctx")),
            loc=detail["loc"],
            input=detail["input"],
        )
        for detail in error.errors()
    ]


def _issue_details(issues: list[Issue]) -> list[InitErrorDetails]:
    return [
        InitErrorDetails(
            type=PydanticCustomError(issue.code, issue.message), loc=issue.loc, input=issue.value
        )
        for issue in issues
    ]
