"""Turn one MQTT message into rows to store, or into a dead letter with a reason.

Pure: no I/O, no clock (`now_ms` is a parameter), no paho or psycopg types. The
service feeds it (topic, payload) pairs and the known inventory; it returns
event rows, a status row or a dead letter. A message is the unit of validity:
if anything in it is wrong, none of it is written as data (docs/wire.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import TypeVar, cast

from pydantic import TypeAdapter, ValidationError

from hubsense import wire

# The longest `detail` we store; a validation message quoting a 256 KiB input is no help.
MAX_DETAIL_CHARS = 500
# What a `too_large` dead letter keeps of its payload: enough to see whose and what it
# was, never the whole of it (a broker may pass up to 1 MiB; a table of such rows
# is a disk filled by one misbehaving node). The full size goes in `detail`.
MAX_DEAD_PAYLOAD_BYTES = 64 * 1024

_T = TypeVar("_T")


class Reason(StrEnum):
    """Stable codes stored in `dead_letters.reason`; operators filter and alert on them."""

    TOO_LARGE = "too_large"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    INVALID_SCHEMA = "invalid_schema"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    TOPIC_NOT_OURS = "topic_not_ours"
    WRONG_TOPIC_KIND = "wrong_topic_kind"
    NODE_MISMATCH = "node_mismatch"
    UNKNOWN_NODE = "unknown_node"
    RETIRED_NODE = "retired_node"
    SITE_MISMATCH = "site_mismatch"
    UNKNOWN_DESK = "unknown_desk"
    DESK_NOT_ON_NODE = "desk_not_on_node"
    TS_IN_FUTURE = "ts_in_future"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    # Valid by the contract but refused by the database (set by the writer, not here).
    DB_REJECTED = "db_rejected"


# Reasons a newer inventory could cure: the service refreshes its cache and decodes again.
INVENTORY_REASONS = frozenset(
    {
        Reason.UNKNOWN_NODE,
        Reason.RETIRED_NODE,
        Reason.SITE_MISMATCH,
        Reason.UNKNOWN_DESK,
        Reason.DESK_NOT_ON_NODE,
    }
)

# Enum members to plain str by dict lookup: `.value` is a slow property in the hot loop.
_TEXT: dict[object, str] = {
    member: member.value
    for enum in (wire.EventType, wire.Source, wire.DeskState)
    for member in enum
}

# Topics repeat (a few per node): memoised parsing, bounded so junk topics cannot grow it.
_parse_topic = lru_cache(maxsize=65_536)(wire.parse_topic)

# (node_id, seq, ts_ms, site_id, type, desk_id, source, state): the staging table's columns.
EventRow = tuple[str, int, int, str, str, str | None, str | None, str | None]


@dataclass(frozen=True, slots=True)
class KnownInventory:
    """What ingest needs to know of the inventory: active nodes, their sites and desks."""

    node_site: Mapping[str, str] = field(default_factory=dict)
    node_desks: Mapping[str, frozenset[str]] = field(default_factory=dict)
    desks: frozenset[str] = frozenset()
    retired_nodes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SeqConflict:
    """A node sent a seq it had already used for other content (docs/wire.md)."""

    node_id: str
    site_id: str
    seq: int  # the highest conflicting seq of the message


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    payload: bytes
    reason: Reason
    detail: str
    conflict: SeqConflict | None = None  # set for conflicting_duplicate


@dataclass(frozen=True, slots=True)
class StatusRow:
    node_id: str
    site_id: str
    online: bool
    version: str | None
    uptime_s: float | None
    outbox_depth: int | None
    last_reading_age_json: str
    cpu_temp_c: float | None
    clock_synced: bool | None
    disk_full: bool | None
    reported_ms: int | None


@dataclass(frozen=True, slots=True)
class Decoded:
    """Exactly one of: events (non-empty), status, dead."""

    events: list[EventRow] = field(default_factory=list)
    status: StatusRow | None = None
    dead: DeadLetter | None = None


def decode_message(
    topic: str, payload: bytes, inventory: KnownInventory, now_ms: int, max_future_ms: int
) -> Decoded:
    """Validate one message against the wire contract and the inventory."""
    try:
        return _decode(topic, payload, inventory, now_ms + max_future_ms)
    except _Rejected as rejected:
        if rejected.reason is Reason.TOO_LARGE:
            payload = payload[:MAX_DEAD_PAYLOAD_BYTES]
        letter = DeadLetter(topic, payload, rejected.reason, rejected.detail, rejected.conflict)
        return Decoded(dead=letter)


class _Rejected(Exception):
    def __init__(self, reason: Reason, detail: str, conflict: SeqConflict | None = None) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        # PostgreSQL text cannot hold NUL; a sender's bytes quoted in a message may contain it.
        self.detail = clip_detail(detail)
        self.conflict = conflict


def clip_detail(detail: str) -> str:
    """What a dead letter's `detail` may hold: no NUL, at most MAX_DETAIL_CHARS."""
    return detail.replace("\x00", "\\x00")[:MAX_DETAIL_CHARS]


def _decode(topic: str, payload: bytes, inventory: KnownInventory, ts_limit_ms: int) -> Decoded:
    # Size first: a 10 MiB message must not cost a JSON parse.
    if len(payload) > wire.MAX_MESSAGE_BYTES:
        raise _Rejected(
            Reason.TOO_LARGE,
            f"{len(payload)} bytes > {wire.MAX_MESSAGE_BYTES} bytes"
            f"; payload keeps the first {MAX_DEAD_PAYLOAD_BYTES} bytes",
        )
    parsed = _parse_topic(topic)
    if parsed is None:
        raise _Rejected(
            Reason.TOPIC_NOT_OURS, f"topic {topic!r} is not hubsense/v1/{{site}}/{{node}}/{{kind}}"
        )
    if parsed.kind is wire.TopicKind.EVENTS:
        message = _validate(wire.EVENTS_ADAPTER, payload)
        site = _check_node(parsed, message.node, inventory)
        return Decoded(events=_event_rows(message, site, inventory, ts_limit_ms))
    if parsed.kind is wire.TopicKind.STATUS:
        status = _validate(wire.STATUS_ADAPTER, payload)
        site = _check_node(parsed, status.node, inventory)
        if status.ts is not None and status.ts > ts_limit_ms:
            raise _Rejected(Reason.TS_IN_FUTURE, f"ts {status.ts} > {ts_limit_ms}")
        return Decoded(status=_status_row(status, site))
    raise _Rejected(Reason.WRONG_TOPIC_KIND, f"ingest does not take {parsed.kind.value!r} messages")


def _validate(adapter: TypeAdapter[_T], payload: bytes) -> _T:
    try:
        return adapter.validate_json(payload)
    except ValidationError as error:
        raise _Rejected(*_classify(error, payload)) from None


def _classify(error: ValidationError, payload: bytes) -> tuple[Reason, str]:
    first = error.errors(include_url=False, include_input=False)[0]
    kind = first["type"]
    where = ".".join(str(part) for part in first["loc"]) or "message"
    detail = f"{where}: {first['msg']}"
    if error.error_count() > 1:
        detail += f" (and {error.error_count() - 1} more)"
    if kind == "json_invalid":
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as bad:
            return Reason.INVALID_UTF8, f"byte {bad.start}: {bad.reason}"
        return Reason.INVALID_JSON, first["msg"]
    if kind == "union_tag_invalid":
        return Reason.UNKNOWN_EVENT_TYPE, detail
    return Reason.INVALID_SCHEMA, detail


def _check_node(topic: wire.Topic, node: str, inventory: KnownInventory) -> str:
    """The node's site after checking it against the topic and the inventory."""
    if node != topic.node:
        raise _Rejected(Reason.NODE_MISMATCH, f"payload node {node!r} != topic node {topic.node!r}")
    site = inventory.node_site.get(node)
    if site is None:
        if node in inventory.retired_nodes:
            raise _Rejected(Reason.RETIRED_NODE, f"node {node!r} is retired in the inventory")
        raise _Rejected(Reason.UNKNOWN_NODE, f"node {node!r} is not in the inventory")
    if site != topic.site:
        raise _Rejected(
            Reason.SITE_MISMATCH,
            f"node {node!r} belongs to site {site!r}, topic says {topic.site!r}",
        )
    return site


def _event_rows(
    message: wire.EventsMessage, site: str, inventory: KnownInventory, ts_limit_ms: int
) -> list[EventRow]:
    node = message.node
    desks = inventory.node_desks.get(node, frozenset())
    rows: dict[int, EventRow] = {}
    desk_kind = wire.EventType.DESK
    text = _TEXT
    # Hot loop (every event of every message): attribute access only, no getattr defaults.
    for event in message.events:
        if event.ts > ts_limit_ms:
            raise _Rejected(
                Reason.TS_IN_FUTURE, f"event seq {event.seq}: ts {event.ts} > {ts_limit_ms}"
            )
        if event.type is desk_kind:
            desk_event = cast(wire.DeskEvent, event)
            desk = desk_event.desk
            if desk not in desks:
                _reject_desk(node, event.seq, desk, inventory)
            row: EventRow = (
                node,
                event.seq,
                event.ts,
                site,
                "desk",
                desk,
                text[desk_event.source],
                text[desk_event.state],
            )
        else:
            row = (node, event.seq, event.ts, site, text[event.type], None, None, None)
        seen = rows.setdefault(event.seq, row)
        if seen != row:
            raise _Rejected(
                Reason.CONFLICTING_DUPLICATE,
                "within one message: " + describe_conflict(seen, row, "first"),
                SeqConflict(node, site, event.seq),
            )
    return list(rows.values())


def event_content(row: EventRow) -> str:
    """An event row as the compact JSON of the wire (without node and seq), for details."""
    _node, _seq, ts_ms, _site, kind, desk, source, state = row
    content: dict[str, object] = {"ts": ts_ms, "type": kind}
    if desk is not None:
        content.update(desk=desk, source=source, state=state)
    return json.dumps(content, separators=(",", ":"))


def describe_conflict(held: EventRow, received: EventRow, held_as: str = "stored") -> str:
    """Both contents of one (node, seq): what is held and what arrived again."""
    return f"seq {received[1]}: {held_as} {event_content(held)} received {event_content(received)}"


def _reject_desk(node: str, seq: int, desk: str, inventory: KnownInventory) -> None:
    if desk in inventory.desks:
        raise _Rejected(
            Reason.DESK_NOT_ON_NODE,
            f"event seq {seq}: desk {desk!r} is not sensed by node {node!r}",
        )
    raise _Rejected(Reason.UNKNOWN_DESK, f"event seq {seq}: desk {desk!r} is not in the inventory")


def _status_row(status: wire.StatusMessage, site: str) -> StatusRow:
    # PostgreSQL text and jsonb refuse NUL; the contract allows it, so it is caught here.
    texts = [status.version or "", *status.last_reading_age_s]
    if any("\x00" in text for text in texts):
        raise _Rejected(Reason.INVALID_SCHEMA, "version or last_reading_age_s key contains NUL")
    return StatusRow(
        node_id=status.node,
        site_id=site,
        online=status.online,
        version=status.version,
        uptime_s=status.uptime_s,
        outbox_depth=status.outbox_depth,
        last_reading_age_json=json.dumps(status.last_reading_age_s, sort_keys=True),
        cpu_temp_c=status.cpu_temp_c,
        clock_synced=status.clock_synced,
        disk_full=status.disk_full,
        reported_ms=status.ts,
    )
