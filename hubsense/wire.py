"""The MQTT wire contract of docs/wire.md: topics and message models.

Pure: no I/O, no clock. Every component imports this module; it imports
nothing else of hubsense. Models are strict (an int is an int, not "12" or
12.0) and forbid unknown fields, so a message either means exactly one thing
or is rejected with the field that is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, TypeAdapter

API_VERSION = "v1"
TOPIC_ROOT = f"hubsense/{API_VERSION}"
# docs/wire.md: a message larger than this is never written as data.
MAX_MESSAGE_BYTES = 256 * 1024
# Largest MQTT packet the broker accepts (whole packet: header, topic, payload); a
# client sending a larger one is disconnected (mosquitto.conf(5), 2.0.11; MQTT 5
# clients learn the limit from CONNACK and get DISCONNECT 0x95 "packet too large").
# 1 MiB: above the contract's 256 KiB (MAX_MESSAGE_BYTES), so ingest still sees
# and dead-letters 256 KiB..1 MiB messages as `too_large`; far below what costs the
# broker memory (it buffers a whole packet before routing it).
MAX_PACKET_BYTES = 1024 * 1024
# Ids travel in topics, so they must not contain MQTT wildcards or separators.
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
# fullmatch, not match: with `$`, re.match would accept an id ending in "\n".
_ID_RE = re.compile(ID_PATTERN.removeprefix("^").removesuffix("$"))

Id = Annotated[str, Field(pattern=ID_PATTERN, strict=True)]
# Integer milliseconds since the Unix epoch, UTC, taken when the thing happened.
TimestampMs = Annotated[StrictInt, Field(ge=0, le=2**53)]
Seq = Annotated[StrictInt, Field(ge=0, le=2**62)]


class TopicKind(StrEnum):
    EVENTS = "events"
    STATUS = "status"
    CONFIG = "config"


class DeskState(StrEnum):
    OCCUPIED = "occupied"
    VACANT = "vacant"
    # The node cannot tell (a BLE sensor silent for its stale_s, a sensor that fails to
    # read): the desk is neither occupied nor observed until its next occupied/vacant.
    UNKNOWN = "unknown"


class Source(StrEnum):
    PIR = "pir"
    BLE = "ble"
    FUSED = "fused"


class EventType(StrEnum):
    DESK = "desk"
    ALIVE = "alive"
    STOP = "stop"


class _Strict(BaseModel):
    # NaN and infinity are not measurements: a status with them is rejected, not stored.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class DeskEvent(_Strict):
    """A desk changed state (or its current state right after the agent started)."""

    seq: Seq
    ts: TimestampMs
    type: Literal[EventType.DESK] = EventType.DESK
    desk: Id
    source: Source
    state: DeskState


class AliveEvent(_Strict):
    """The agent is sensing; covers [ts, ts + 3 x heartbeat_s) of observation (docs/metrics.md)."""

    seq: Seq
    ts: TimestampMs
    type: Literal[EventType.ALIVE] = EventType.ALIVE


class StopEvent(_Strict):
    """The agent stops sensing, on a clean shutdown; ends the observed set."""

    seq: Seq
    ts: TimestampMs
    type: Literal[EventType.STOP] = EventType.STOP


Event = Annotated[DeskEvent | AliveEvent | StopEvent, Field(discriminator="type")]


class EventsMessage(_Strict):
    """Payload of `hubsense/v1/{site}/{node}/events` (QoS 1): one or more events of one node."""

    node: Id
    events: Annotated[list[Event], Field(min_length=1, max_length=10_000)]


class StatusMessage(_Strict):
    """Retained `…/status` payload, sent every heartbeat; the last will sets online false."""

    node: Id
    online: StrictBool
    ts: TimestampMs | None = None
    version: str | None = None
    uptime_s: Annotated[float, Field(ge=0, strict=False)] | None = None
    outbox_depth: Annotated[StrictInt, Field(ge=0)] | None = None
    # Seconds since each sensor was last heard, by sensor key (e.g. "gpio:17", "ble:A4:C1:…").
    last_reading_age_s: dict[str, Annotated[float, Field(strict=False)] | None] = Field(
        default_factory=dict
    )
    cpu_temp_c: Annotated[float, Field(strict=False)] | None = None
    clock_synced: StrictBool | None = None
    disk_full: StrictBool | None = None


class SensorConfig(_Strict):
    """Desired settings of one sensor inside a `config` message (server → node)."""

    key: str
    hold_s: Annotated[StrictInt, Field(gt=0)] | None = None


class ConfigMessage(_Strict):
    """Payload of the retained `…/config` topic: the node's desired configuration."""

    node: Id
    heartbeat_s: Annotated[StrictInt, Field(gt=0)] | None = None
    sensors: list[SensorConfig] = Field(default_factory=list)


class BookingReleaseMessage(_Strict):
    """Sent (QoS 1, not retained) on `hubsense/v1/{site}/bookings` when a booking is released."""

    booking_id: Annotated[str, Field(min_length=1, max_length=200)]
    site: Id
    desk: Id
    start_ms: TimestampMs
    end_ms: TimestampMs
    released_at_ms: TimestampMs
    reason: Literal["no_show"] = "no_show"


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed node topic."""

    site: str
    node: str
    kind: TopicKind


def node_topic(site: str, node: str, kind: TopicKind) -> str:
    """Build `hubsense/v1/{site}/{node}/{kind}`; ids are checked so no wildcard slips in."""
    for what, value in (("site", site), ("node", node)):
        if not _ID_RE.fullmatch(value):
            raise ValueError(f"{what} id {value!r} does not match {ID_PATTERN}")
    return f"{TOPIC_ROOT}/{site}/{node}/{kind.value}"


def bookings_topic(site: str) -> str:
    """Build `hubsense/v1/{site}/bookings`."""
    if not _ID_RE.fullmatch(site):
        raise ValueError(f"site id {site!r} does not match {ID_PATTERN}")
    return f"{TOPIC_ROOT}/{site}/bookings"


def subscription(kind: TopicKind, site: str = "+", node: str = "+") -> str:
    """A subscription filter for one kind of node topic (wildcards by default)."""
    return f"{TOPIC_ROOT}/{site}/{node}/{kind.value}"


def parse_topic(topic: str) -> Topic | None:
    """Parse a node topic; None when it is not one of ours (wrong root, shape, kind or ids)."""
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        return None
    _, _, site, node, kind = parts
    if not (_ID_RE.fullmatch(site) and _ID_RE.fullmatch(node)):
        return None
    try:
        return Topic(site=site, node=node, kind=TopicKind(kind))
    except ValueError:
        return None


EVENTS_ADAPTER: TypeAdapter[EventsMessage] = TypeAdapter(EventsMessage)
STATUS_ADAPTER: TypeAdapter[StatusMessage] = TypeAdapter(StatusMessage)
CONFIG_ADAPTER: TypeAdapter[ConfigMessage] = TypeAdapter(ConfigMessage)


def encode(message: BaseModel) -> bytes:
    """Serialise a message to its compact JSON payload."""
    return message.model_dump_json(exclude_none=True).encode()
