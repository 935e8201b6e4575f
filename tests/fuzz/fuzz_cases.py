"""Fuzz inputs for the ingest decoder: an inventory, payload generators and mutators, and an
independent reference verdict written from SPEC §4 (not from `hubsense.ingest.decode`).

A uniquely named module (not conftest) so `from fuzz_cases import …` never collides.
The reference says, for one message, either the exact rows that must be stored or the
set of dead-letter reasons that would each be a correct answer (a message wrong in two
ways may be rejected for either).
"""

from __future__ import annotations

import json
import math
import random
import re
from typing import Any

from hubsense.ingest.decode import KnownInventory

NOW_MS = 1_764_000_000_000
MAX_FUTURE_MS = 300_000
MAX_BYTES = 256 * 1024
ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
INVENTORY = KnownInventory(
    node_site={"pi-a": "hq", "pi-b": "hq", "pi-h": "hub-1"},
    node_desks={
        "pi-a": frozenset({"d-1", "d-2"}),
        "pi-b": frozenset({"d-3"}),
        "pi-h": frozenset({"h-1"}),
    },
    desks=frozenset({"d-1", "d-2", "d-3", "h-1"}),
    retired_nodes=frozenset({"pi-old"}),
)
NODES = ["pi-a", "pi-b", "pi-h", "pi-old", "pi-z"]
SITES = ["hq", "hub-1", "HQ", "x"]
DESKS = ["d-1", "d-2", "d-3", "h-1", "d-404", "D-1", ""]
JUNK: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    2**63,
    -(2**63),
    1e308,
    "",
    "x",
    "1",
    [],
    {},
    "\u0000",
    "pi-a",
    "occupied",
    "alive",
    10**30,
]

EVENT_KEYS = ("seq", "ts", "type", "desk", "source", "state")
SOURCES = ("pir", "ble", "fused")
STATES = ("occupied", "vacant")


def random_event(rng: random.Random, seq: int) -> dict[str, Any]:
    kind = rng.choice(["desk", "desk", "alive", "stop"])
    event: dict[str, Any] = {"seq": seq, "ts": NOW_MS - rng.randrange(10**9), "type": kind}
    if kind == "desk":
        event |= {
            "desk": rng.choice(["d-1", "d-2"]),
            "source": rng.choice(SOURCES),
            "state": rng.choice(STATES),
        }
    return event


def valid_message(rng: random.Random) -> tuple[str, dict[str, Any]]:
    """A message pi-a may send: 1..20 events with increasing seqs."""
    seq0 = rng.randrange(2**40)
    events = [random_event(rng, seq0 + i) for i in range(rng.randrange(1, 21))]
    return "hubsense/v1/hq/pi-a/events", {"node": "pi-a", "events": events}


def mutate_tree(rng: random.Random, message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """One structural change a buggy or hostile sender could make."""
    topic_parts = ["hubsense", "v1", "hq", "pi-a", "events"]
    events = message["events"]
    choice = rng.randrange(12)
    if choice == 0:  # a field of one event gets a junk value
        event = rng.choice(events)
        event[rng.choice(EVENT_KEYS)] = rng.choice(JUNK)
    elif choice == 1:  # a field goes missing
        event = rng.choice(events)
        event.pop(rng.choice(EVENT_KEYS), None)
    elif choice == 2:  # an extra field
        rng.choice([message, *events])[rng.choice(["x", "extra", "Seq"])] = rng.choice(JUNK)
    elif choice == 3:
        message["node"] = rng.choice([*NODES, *JUNK])
        if rng.random() < 0.5 and message["node"] in NODES:  # a consistent but other node
            topic_parts[3] = message["node"]
    elif choice == 4:
        topic_parts[rng.randrange(5)] = rng.choice([*NODES, *SITES, "status", "config", "+", ""])
    elif choice == 5:  # a desk elsewhere or nowhere
        event = rng.choice(events)
        event |= {"type": "desk", "desk": rng.choice(DESKS), "source": "pir", "state": "vacant"}
    elif choice == 6:  # from the future, or right at the limit
        rng.choice(events)["ts"] = NOW_MS + MAX_FUTURE_MS + rng.choice([-1, 0, 1, 10**6])
    elif choice == 7:  # a seq repeated, with the same or other content
        if len(events) > 1:
            events[-1]["seq"] = events[0]["seq"]
            if rng.random() < 0.5:
                events[-1] = dict(events[0])
    elif choice == 8:
        message["events"] = rng.choice([[], None, {}, "x", events[0]])
    elif choice == 9:  # type unknown
        rng.choice(events)["type"] = rng.choice(["reboot", "DESK", "", 1, None])
    elif choice == 10:  # integers at the edges of their ranges
        event = rng.choice(events)
        event[rng.choice(["seq", "ts"])] = rng.choice([0, -1, 2**53, 2**53 + 1, 2**62, 2**62 + 1])
    else:
        message = rng.choice([[], "x", 1, None])  # type: ignore[assignment]
    return "/".join(str(p) for p in topic_parts), message


def mutate_bytes(rng: random.Random, payload: bytes) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(5)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 1:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5)))
        elif op == 2:
            del data[pos : pos + rng.randrange(1, 8)]
        elif op == 3:
            data = data[:pos]
        else:
            data[pos:pos] = rng.choice(
                [b'"', b"{", b"]", b",", b"\\u0000", b"\xff", b"NaN", b"1e400", b"\xef\xbb\xbf"]
            )
    return bytes(data)


# -- the reference verdict ------------------------------------------------------------


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and ID.fullmatch(value) is not None


def _is_int(value: Any, hi: int) -> bool:
    return type(value) is int and 0 <= value <= hi


def reference(topic: str, payload: bytes) -> tuple[str, Any]:
    """("rows", [rows]) | ("status", None) | ("dead", {acceptable reasons})."""
    if len(payload) > MAX_BYTES:
        return "dead", {"too_large"}
    parts = topic.split("/")
    if (
        len(parts) != 5
        or parts[:2] != ["hubsense", "v1"]
        or not _is_id(parts[2])
        or not _is_id(parts[3])
        or parts[4] not in ("events", "status", "config")
    ):
        return "dead", {"topic_not_ours"}
    site, node, kind = parts[2], parts[3], parts[4]
    if kind == "config":
        return "dead", {"wrong_topic_kind"}
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return "dead", {"invalid_utf8"}
    try:
        message = json.loads(text, parse_constant=lambda _: math.nan)
    except (ValueError, RecursionError):
        return "dead", {"invalid_json"}
    if any(isinstance(x, float) and not math.isfinite(x) for x in _leaves(message)):
        # NaN/Infinity are not JSON; a parser may refuse them or let the schema do it.
        if kind == "status":
            return "dead", {"invalid_json", "invalid_schema"}
        return "dead", {"invalid_json", "invalid_schema", *_events_schema_reasons(message)}
    if kind == "status":
        return _reference_status(message, site, node)
    return _reference_events(message, site, node)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _reference_events(message: Any, site: str, node: str) -> tuple[str, Any]:
    schema = _events_schema_reasons(message)
    if schema:
        return "dead", schema
    return _inventory_verdict(message, site, node)


def _events_schema_reasons(message: Any) -> set[str]:
    if not isinstance(message, dict) or set(message) != {"node", "events"}:
        return {"invalid_schema"}
    events = message["events"]
    if (
        not _is_id(message["node"])
        or not isinstance(events, list)
        or not 1 <= len(events) <= 10_000
    ):
        return {"invalid_schema", *({"unknown_event_type"} if isinstance(events, list) else ())}
    reasons: set[str] = set()
    for event in events:
        if not isinstance(event, dict):
            reasons.add("invalid_schema")
            continue
        kind = event.get("type")
        if kind not in ("desk", "alive", "stop"):
            # A type that is none of ours (a string or not): unknown_event_type, or
            # invalid_schema when the validator names another field first.
            reasons |= (
                {"unknown_event_type", "invalid_schema"} if "type" in event else {"invalid_schema"}
            )
            continue
        keys = (
            {"seq", "ts", "type", "desk", "source", "state"}
            if kind == "desk"
            else {"seq", "ts", "type"}
        )
        ok = (
            set(event) == keys
            and _is_int(event["seq"], 2**62)
            and _is_int(event["ts"], 2**53)
            and (
                kind != "desk"
                or (
                    _is_id(event["desk"])
                    and event["source"] in SOURCES
                    and event["state"] in STATES
                )
            )
        )
        if not ok:
            reasons.add("invalid_schema")
    return reasons


def _inventory_verdict(message: dict[str, Any], site: str, node: str) -> tuple[str, Any]:
    if message["node"] != node:
        return "dead", {"node_mismatch"}
    known_site = INVENTORY.node_site.get(node)
    if known_site is None:
        return "dead", {"retired_node" if node in INVENTORY.retired_nodes else "unknown_node"}
    if known_site != site:
        return "dead", {"site_mismatch"}
    rows: dict[int, tuple[Any, ...]] = {}
    limit = NOW_MS + MAX_FUTURE_MS
    for event in message["events"]:
        if event["ts"] > limit:
            return "dead", {"ts_in_future"}
        if event["type"] == "desk":
            desk = event["desk"]
            if desk not in INVENTORY.node_desks[node]:
                return "dead", {"desk_not_on_node" if desk in INVENTORY.desks else "unknown_desk"}
            row = (
                node,
                event["seq"],
                event["ts"],
                site,
                "desk",
                desk,
                event["source"],
                event["state"],
            )
        else:
            row = (node, event["seq"], event["ts"], site, event["type"], None, None, None)
        if rows.setdefault(event["seq"], row) != row:
            return "dead", {"conflicting_duplicate"}
    return "rows", list(rows.values())


def _reference_status(message: Any, site: str, node: str) -> tuple[str, Any]:
    if (
        not isinstance(message, dict)
        or not _is_id(message.get("node"))
        or type(message.get("online")) is not bool
    ):
        return "dead", {"invalid_schema"}
    if message["node"] != node:
        return "dead", {"node_mismatch", "invalid_schema"}
    return "status", None
