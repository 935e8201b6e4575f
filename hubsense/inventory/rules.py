"""Inventory rules that compare items with each other (docs/inventory.md, docs/metrics.md).

Pure: no I/O. `find_issues` walks the *raw* inventory input (dicts and lists
from YAML or JSON, or already-built models) leniently: it skips whatever is
malformed, because field errors are reported by the model itself, and it must
still find cross-reference errors in a file that also has field errors, so a
user sees every error at once. Each issue carries the path (pydantic `loc`)
of the offending item, so a file loader can map it to a line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Issue:
    """One broken rule: where (a pydantic-style loc), a stable code, and a readable message."""

    loc: Loc
    code: str
    message: str
    value: Any = None


def format_loc(loc: Loc) -> str:
    """("sites", 0, "nodes", 1, "pin") -> "sites[0].nodes[1].pin"."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _field(item: Any, name: str) -> Any:
    if isinstance(item, dict):
        return item.get(name)
    return getattr(item, name, None)


def _items(item: Any, name: str) -> Iterator[tuple[int, Any]]:
    value = _field(item, name)
    if isinstance(value, list | tuple):
        yield from enumerate(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _pin(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sensors(data: Any) -> Iterator[tuple[Loc, str | None, str | None, Any]]:
    """Every sensor as (loc, site id, node id, sensor)."""
    for s, site in _items(data, "sites"):
        for n, node in _items(site, "nodes"):
            for k, sensor in _items(node, "sensors"):
                loc: Loc = ("sites", s, "nodes", n, "sensors", k)
                yield loc, _text(_field(site, "id")), _text(_field(node, "id")), sensor


def _duplicate_ids(data: Any) -> list[Issue]:
    issues: list[Issue] = []
    first: dict[tuple[str, str], Loc] = {}

    def check(kind: str, loc: Loc, item: Any) -> None:
        ident = _text(_field(item, "id"))
        if ident is None:
            return
        seen = first.setdefault((kind, ident), loc)
        if seen != loc:
            issues.append(
                Issue(
                    (*loc, "id"),
                    f"duplicate_{kind}_id",
                    f"duplicate {kind} id {ident!r} (first at {format_loc(seen)}); "
                    f"{kind} ids must be unique across the organisation",
                    ident,
                )
            )

    for s, site in _items(data, "sites"):
        check("site", ("sites", s), site)
        for d, desk in _items(site, "desks"):
            check("desk", ("sites", s, "desks", d), desk)
        for n, node in _items(site, "nodes"):
            check("node", ("sites", s, "nodes", n), node)
    return issues


def _desk_references(data: Any) -> list[Issue]:
    desks_of_site: dict[int, set[str]] = {}
    site_of_desk: dict[str, str] = {}
    for s, site in _items(data, "sites"):
        ids = {d for _, desk in _items(site, "desks") if (d := _text(_field(desk, "id")))}
        desks_of_site[s] = ids
        for desk_id in ids:
            site_of_desk.setdefault(desk_id, _text(_field(site, "id")) or f"sites[{s}]")
    issues: list[Issue] = []
    observer: dict[str, tuple[str | None, Loc]] = {}
    for loc, site_id, node_id, sensor in _sensors(data):
        desk = _text(_field(sensor, "desk"))
        if desk is None:
            continue
        if desk not in desks_of_site.get(int(loc[1]), set()):
            elsewhere = site_of_desk.get(desk)
            why = f"; it is a desk of site {elsewhere!r}" if elsewhere else ""
            issues.append(
                Issue(
                    (*loc, "desk"),
                    "unknown_desk",
                    f"desk {desk!r} is not a desk of site {site_id or loc[1]!r}{why}",
                    desk,
                )
            )
            continue
        node_loc = loc[:4]
        seen_node, seen_loc = observer.setdefault(desk, (node_id, node_loc))
        if seen_loc != node_loc:
            issues.append(
                Issue(
                    (*loc, "desk"),
                    "desk_on_two_nodes",
                    f"desk {desk!r} is already observed by node {seen_node!r} "
                    f"({format_loc(seen_loc)}); a desk is observed through one node",
                    desk,
                )
            )
    return issues


def _sensor_keys(data: Any) -> list[Issue]:
    issues: list[Issue] = []
    pins: dict[tuple[Loc, int], Loc] = {}
    addresses: dict[str, Loc] = {}
    for loc, _site, node_id, sensor in _sensors(data):
        kind = _field(sensor, "type")
        pin = _pin(_field(sensor, "pin"))
        if kind == "gpio_pir" and pin is not None:
            seen = pins.setdefault((loc[:4], pin), loc)
            if seen != loc:
                issues.append(
                    Issue(
                        (*loc, "pin"),
                        "pin_in_use",
                        f"pin {pin} is already used by {format_loc(seen)} of node {node_id!r}",
                        pin,
                    )
                )
        address = _text(_field(sensor, "address"))
        if kind == "bthome" and address is not None:
            seen = addresses.setdefault(address.upper(), loc)
            if seen != loc:
                issues.append(
                    Issue(
                        (*loc, "address"),
                        "address_in_use",
                        f"BLE address {address} is already used by {format_loc(seen)}",
                        address,
                    )
                )
    return issues


def _decision_references(data: Any) -> list[Issue]:
    """`main_office` names an office site; a co-working site has no desks or nodes of ours."""
    issues: list[Issue] = []
    kinds = {
        ident: _field(site, "kind")
        for _, site in _items(data, "sites")
        if (ident := _text(_field(site, "id")))
    }
    main = _text(_field(data, "main_office"))
    if main is not None and kinds.get(main) != "office":
        why = f"site {main!r} is a {kinds[main]}" if main in kinds else f"there is no site {main!r}"
        issues.append(
            Issue(
                ("main_office",), "main_office", f"{why}; main_office must be an office site", main
            )
        )
    for s, site in _items(data, "sites"):
        if _field(site, "kind") != "coworking":
            continue
        for name in ("desks", "nodes"):
            if list(_items(site, name)):
                issues.append(
                    Issue(
                        ("sites", s, name),
                        "coworking_inventory",
                        f"a coworking site has no {name} of ours (its use is the day passes "
                        "bought there)",
                    )
                )
    return issues


def find_issues(data: Any) -> list[Issue]:
    """Every cross-reference error of a raw inventory, in a stable order."""
    return [
        *_duplicate_ids(data),
        *_desk_references(data),
        *_sensor_keys(data),
        *_decision_references(data),
    ]
