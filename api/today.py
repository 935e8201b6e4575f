"""A site's day so far, live: opening hours today, co-presence and peak (as docs/metrics.md).

The rollups give finished days; the hub page needs *today*, up to now, every few
seconds, for one site: a few thousand events, so plain Python over spans suffices.
Opening hours follow docs/metrics.md (local time, fold=0 for gaps and repeats, 24:00 is the
next midnight). The computation is pure; `read_today` does the one read. Must not write.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hubsense.bookings.release import (
    DeskChange,
    NodeBeat,
    Span,
    clip,
    observed_spans,
    occupied_spans,
)

from hubsense.site_time import local_ms

if TYPE_CHECKING:
    import psycopg

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MS = 1000


@dataclass(frozen=True, slots=True)
class Today:
    date: dt.date
    open: bool
    opening_hours: list[str]
    open_now: bool
    copresence_s: int
    peak: int
    peak_at: dt.datetime | None


def _local_ms(day: dt.date, hhmm: str, zone: ZoneInfo) -> int:
    """UTC ms of a wall time "HH:MM" (24:00 is the next midnight) on `day`, fold=0."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return int(local_ms(day, hours * 60 + minutes, zone))


def opening_spans(
    hours: dict[str, list[str]], closed: set[dt.date], day: dt.date, zone: ZoneInfo
) -> list[Span]:
    """The day's opening hours as UTC millisecond spans (none on a closed date)."""
    if day in closed:
        return []
    spans = []
    for text in hours.get(WEEKDAYS[day.weekday()], []):
        start, end = text.split("-")
        spans.append((_local_ms(day, start, zone), _local_ms(day, end, zone)))
    return sorted(spans)


def intersect(a: list[Span], b: list[Span]) -> list[Span]:
    """Both span lists' common parts (each sorted and merged)."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return out


def copresence(desk_spans: list[list[Span]]) -> tuple[int, int, int | None]:
    """(ms with at least two desks at once, peak count, first instant of the peak)."""
    edges = sorted(
        (t, delta) for spans in desk_spans for s, e in spans for t, delta in ((s, 1), (e, -1))
    )
    # Half-open spans: at one instant, leaving (-1) sorts before arriving (+1).
    together_ms, level, peak, peak_at, since = 0, 0, 0, None, 0
    for t, delta in edges:
        if level >= 2:
            together_ms += t - since
        level += delta
        since = t
        if level > peak:
            peak, peak_at = level, t
    return together_ms, peak, peak_at


def desk_spans(
    day: dt.date,
    zone: ZoneInfo,
    hours: dict[str, list[str]],
    closed: set[dt.date],
    desk_changes: dict[str, list[DeskChange]],
    desk_node: dict[str, str],
    node_beats: dict[str, list[NodeBeat]],
    heartbeat_ms: dict[str, int],
    now_ms: int,
) -> dict[str, list[Span]]:
    """Per desk, O ∩ C ∩ H of `day` up to `now_ms` (what the day's metrics are made of)."""
    opening = opening_spans(hours, closed, day, zone)
    day_start = _local_ms(day, "00:00", zone)
    window = clip(opening, day_start, now_ms)
    observed = {
        node: observed_spans(beats, heartbeat_ms[node]) for node, beats in node_beats.items()
    }
    per_desk = {}
    for desk, node in desk_node.items():
        seen = intersect(occupied_spans(desk_changes.get(desk, [])), observed.get(node, []))
        per_desk[desk] = intersect(seen, window)
    return per_desk


def desks_used(per_desk: dict[str, list[Span]], used_min_s: int) -> int:
    """docs/metrics.md `desks_used` so far: desks occupied for at least `used_min_s`."""
    return sum(sum(e - s for s, e in spans) >= used_min_s * _MS for spans in per_desk.values())


def summarise(
    day: dt.date,
    zone: ZoneInfo,
    hours: dict[str, list[str]],
    closed: set[dt.date],
    desk_changes: dict[str, list[DeskChange]],
    desk_node: dict[str, str],
    node_beats: dict[str, list[NodeBeat]],
    heartbeat_ms: dict[str, int],
    now_ms: int,
) -> Today:
    """Today's co-presence and peak so far, inside opening hours, from O ∩ C per desk."""
    opening = opening_spans(hours, closed, day, zone)
    per_desk = desk_spans(
        day, zone, hours, closed, desk_changes, desk_node, node_beats, heartbeat_ms, now_ms
    )
    together_ms, peak, peak_at = copresence(list(per_desk.values()))
    return Today(
        date=day,
        open=bool(opening),
        opening_hours=hours.get(WEEKDAYS[day.weekday()], []) if day not in closed else [],
        open_now=any(start <= now_ms < end for start, end in opening),
        copresence_s=together_ms // _MS,
        peak=peak,
        peak_at=dt.datetime.fromtimestamp(peak_at / _MS, dt.UTC) if peak_at is not None else None,
    )


_SITE = "SELECT timezone, opening_hours, closed_dates FROM sites WHERE id = %s"
_DESK_NODES = """
SELECT DISTINCT ON (d.id) d.id, s.node_id, n.heartbeat_s
FROM desks d JOIN sensors s ON s.desk_id = d.id AND s.retired_at IS NULL
JOIN nodes n ON n.id = s.node_id
WHERE d.site_id = %s AND d.retired_at IS NULL ORDER BY d.id, s.node_id
"""
# The day's events plus what carries into it: each desk's and node's last event before.
_EVENTS = """
SELECT node_id, seq, (extract(epoch FROM ts) * 1000)::bigint, type, desk_id, state
FROM events WHERE site_id = %(site)s AND ts >= %(from)s AND ts < %(to)s
UNION ALL
SELECT e.node_id, e.seq, (extract(epoch FROM e.ts) * 1000)::bigint, e.type, e.desk_id, e.state
FROM unnest(%(nodes)s::text[]) AS n(id)
CROSS JOIN LATERAL (
    SELECT * FROM events WHERE node_id = n.id AND type IN ('alive', 'stop') AND ts < %(from)s
    ORDER BY seq DESC LIMIT 1
) e
UNION ALL
SELECT e.node_id, e.seq, (extract(epoch FROM e.ts) * 1000)::bigint, e.type, e.desk_id, e.state
FROM unnest(%(desks)s::text[], %(desk_nodes)s::text[]) AS d(id, node)
CROSS JOIN LATERAL (
    SELECT * FROM events
    WHERE node_id = d.node AND desk_id = d.id AND type = 'desk' AND ts < %(from)s
    ORDER BY seq DESC LIMIT 1
) e
"""


def _read_day(conn: psycopg.Connection[Any], site: str, now: dt.datetime) -> tuple[Any, ...] | None:
    """The arguments of `summarise` / `desk_spans` for the site's local day of `now`."""
    row = conn.execute(_SITE, (site,)).fetchone()
    if row is None:
        return None
    zone = ZoneInfo(row[0])
    day = now.astimezone(zone).date()
    day_start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    desks = conn.execute(_DESK_NODES, (site,)).fetchall()
    desk_node = {desk: node for desk, node, _ in desks}
    heartbeat_ms = {node: hb * _MS for _, node, hb in desks}
    params = {
        "site": site,
        "from": day_start,
        "to": now,
        "nodes": sorted(heartbeat_ms),
        "desks": list(desk_node),
        "desk_nodes": list(desk_node.values()),
    }
    changes: dict[str, list[DeskChange]] = defaultdict(list)
    beats: dict[str, list[NodeBeat]] = defaultdict(list)
    for node, seq, ts_ms, kind, desk, state in conn.execute(_EVENTS, params):
        if kind == "desk":
            changes[desk].append(DeskChange(ts_ms, seq, state == "occupied"))
        else:
            beats[node].append(NodeBeat(ts_ms, seq, kind == "alive"))
    hours, closed = row[1], set(row[2])
    now_ms = int(now.timestamp() * _MS)
    return (day, zone, hours, closed, changes, desk_node, beats, heartbeat_ms, now_ms)


def read_today(conn: psycopg.Connection[Any], site: str, now: dt.datetime) -> Today | None:
    """Today (site-local) so far; None when the site does not exist."""
    found = _read_day(conn, site, now)
    return None if found is None else summarise(*found)


def read_desks_used(
    conn: psycopg.Connection[Any], site: str, now: dt.datetime, used_min_s: int
) -> int | None:
    """Today's `desks_used` so far (site-local day of `now`); None when the site does not exist."""
    found = _read_day(conn, site, now)
    return None if found is None else desks_used(desk_spans(*found), used_min_s)
