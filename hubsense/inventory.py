"""The inventory model of SPEC §5: what exists (sites, desks, nodes, sensors).

Pure: no I/O. Every validation rule lives here, in the model, so the CLI, the
database loader and the offline analytics agree on what a valid inventory is.
Reading YAML with line marks and turning validation errors into
`FILE:LINE: field: message` lives in `hubsense.inventory_file`.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from hubsense.wire import Id


class SiteKind(StrEnum):
    OFFICE = "office"
    HUB = "hub"


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def index(self) -> int:
        """Monday is 0, as in `datetime.date.weekday()`."""
        return list(Weekday).index(self)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GpioPirSensor(_Model):
    """A PIR motion sensor on a Raspberry Pi GPIO pin (BCM numbering)."""

    type: Literal["gpio_pir"]
    pin: int
    desk: Id
    # Seconds without motion before the desk counts as vacant.
    hold_s: Annotated[int, Field(gt=0)] = 600

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
    hold_s: Annotated[int, Field(gt=0)] = 600

    @property
    def key(self) -> str:
        return f"ble:{self.address.upper()}"


Sensor = Annotated[GpioPirSensor | BthomeSensor, Field(discriminator="type")]


class Node(_Model):
    """A Raspberry Pi edge agent."""

    id: Id
    heartbeat_s: Annotated[int, Field(gt=0)] = 60
    sensors: list[Sensor] = Field(default_factory=list)


class Desk(_Model):
    id: Id
    zone: str | None = None


class OpeningSpan(_Model):
    """One span of opening hours in site-local wall time, minutes since midnight (1440 = 24:00)."""

    start_min: int
    end_min: int


class Site(_Model):
    id: Id
    name: str
    kind: SiteKind
    municipality: str | None = None
    timezone: str
    # Weekday -> spans; a missing day is closed. Written in YAML as ["07:00-18:00", …].
    opening_hours: dict[Weekday, list[OpeningSpan]] = Field(default_factory=dict)
    closed_dates: list[dt.date] = Field(default_factory=list)
    area_m2: Annotated[float, Field(gt=0)] | None = None
    cost_per_desk_month: Annotated[float, Field(ge=0)] | None = None
    desks: list[Desk] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list)


class Inventory(_Model):
    """The whole organisation. Lookups are computed once per (frozen) instance."""

    organisation: str
    sites: list[Site]

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
        """The one node whose sensors name each desk (SPEC §6: a desk is observed through one node)."""
        return {
            sensor.desk: node.id
            for site in self.sites
            for node in site.nodes
            for sensor in node.sensors
        }
