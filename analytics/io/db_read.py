"""Read one site's inventory, events and bookings from PostgreSQL into analytics arrays.

Desk state changes and node coverage intervals (never the alive rows, 98 % of what is
stored) stream out with binary `COPY (SELECT …) TO STDOUT`, every column a fixed-width
integer (node and desk as index numbers of the layout; times as the wire's own
timestamptz, int8 microseconds since 2000-01-01, turned into epoch ms by numpy: no
per-row `extract(epoch …)`, which is numeric arithmetic in SQL), so they are decoded by
numpy in one step: never a Python object per row. Each
desk's state carries in from its last event before the period; events after it are read
as far as the period's bookings reach. Must not compute metrics or write.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
from hubsense.analytics.arrays import BookingArrays, EventArrays, Layout
from hubsense.analytics.io.pgcopy import decode

from hubsense.inventory.model import DEFAULT_USED_MIN_S, Node, Site

EVENT_COLUMNS = [
    ("node", np.int32),
    ("seq", np.int64),
    ("ts", np.int64),
    ("kind", np.int16),
    ("desk", np.int32),
    ("state", np.int16),
]

# Rows of the site's events as the kernels want them; %(…)s are bound client-side by psycopg.
# Each desk's state carries in from its last event before the period: one probe of
# events_desk_ts per desk (migration 0006), however long ago that event was.
# Desk state changes only (a few a desk a day): each desk's last event before the period
# carries its state in (one probe of events_desk_ts, migration 0006), then its events in
# the window, by the same partial index. Alive rows are never read: coverage stands for them.
DESK_EVENTS_SQL = """
COPY (
    WITH e AS (
             SELECT d.idx, c.* FROM unnest(%(desks)s::text[]) WITH ORDINALITY d(id, idx)
              CROSS JOIN LATERAL (
                 SELECT node_id, seq, ts, state
                   FROM events WHERE desk_id = d.id AND type = 'desk'
                    AND site_id = %(site)s AND ts < %(from)s
                  ORDER BY ts DESC, seq DESC LIMIT 1) c
             UNION ALL
             SELECT d.idx, c.* FROM unnest(%(desks)s::text[]) WITH ORDINALITY d(id, idx)
              CROSS JOIN LATERAL (
                 SELECT node_id, seq, ts, state
                   FROM events WHERE desk_id = d.id AND type = 'desk'
                    AND site_id = %(site)s AND ts >= %(from)s AND ts < %(to)s) c
         )
    SELECT (array_position(%(nodes)s::text[], e.node_id) - 1)::int4, e.seq::int8, e.ts,
           (e.idx - 1)::int4,
           (CASE e.state WHEN 'occupied' THEN 1 WHEN 'unknown' THEN 2 ELSE 0 END)::int2
      FROM e
     WHERE e.node_id = ANY(%(nodes)s::text[])
) TO STDOUT (FORMAT binary)
"""
DESK_EVENT_COLUMNS = [
    ("node", np.int32),
    ("seq", np.int64),
    ("ts", np.int64),
    ("desk", np.int32),
    ("state", np.int16),
]

# Node coverage N (migration 0010, kept by ingest): the intervals reaching into the window.
COVERAGE_SQL = """
COPY (
    SELECT (n.idx - 1)::int4, c.start_ts, c.end_ts
      FROM coverage c
      JOIN unnest(%(nodes)s::text[]) WITH ORDINALITY n(id, idx) ON n.id = c.node_id
     WHERE c.site_id = %(site)s AND c.node_id = ANY(%(nodes)s::text[])
       AND c.end_ts > %(from)s AND c.start_ts < %(to)s
) TO STDOUT (FORMAT binary)
"""
COVERAGE_COLUMNS = [("node", np.int32), ("start", np.int64), ("end", np.int64)]

# A coverage interval enters the kernels as an alive at its start and a stop at its end, so
# an alive must cover until the stop: a heartbeat no interval outlasts (3 x it + any ts
# stays below the kernels' FOREVER_MS = 2**62).
COVERAGE_HEARTBEAT_MS = 2**58 // 3
_KIND_DESK, _KIND_ALIVE, _KIND_STOP = 0, 1, 2
# At one instant: an interval's end before a desk change before an interval's start, as the
# kernels apply a silent lapse before the events of its instant.
_TIE_RANK = {_KIND_STOP: 0, _KIND_DESK: 1, _KIND_ALIVE: 2}


def observation_layout(layout: Layout) -> Layout:
    """The layout the kernels need for `copy_events`' stream (see COVERAGE_HEARTBEAT_MS)."""
    beats = np.full(len(layout.node_ids), COVERAGE_HEARTBEAT_MS, dtype=np.int64)
    return dataclasses.replace(layout, node_heartbeat_ms=beats)


BOOKINGS_SQL = """
SELECT booking_id, desk_id,
       floor(extract(epoch FROM start_at) * 1000)::int8,
       floor(extract(epoch FROM end_at) * 1000)::int8
  FROM bookings
 WHERE site_id = %(site)s AND start_at < %(to)s AND end_at > %(from)s
   AND cancelled_at IS NULL  -- cancelled at its source: not a booking (docs/metrics.md)
 ORDER BY desk_id, start_at, booking_id
"""


def stored_used_min_s(conn: Any) -> int:
    """The organisation's `used_min_s` as `inventory apply` stored it (1,800 when none is)."""
    row = conn.execute(
        "SELECT used_min_s FROM organisation WHERE retired_at IS NULL ORDER BY name LIMIT 1"
    ).fetchone()
    return int(row[0]) if row else DEFAULT_USED_MIN_S


def load_sites(conn: Any, site_ids: list[str] | None = None) -> tuple[list[Site], dict[str, str]]:
    """Active sites with their desks and nodes, and each desk's node, from the inventory tables."""
    rows = conn.execute(
        # Co-working sites have no desks of ours: their use is the day passes bought there.
        "SELECT id, name, kind, timezone, opening_hours, closed_dates,"
        " municipality, area_m2, cost_per_desk_month FROM sites "
        "WHERE retired_at IS NULL AND kind <> 'coworking' "
        "AND (%(ids)s::text[] IS NULL OR id = ANY(%(ids)s)) ORDER BY id",
        {"ids": site_ids},
    ).fetchall()
    desks: dict[str, list[dict[str, Any]]] = {}
    for desk_id, site_id, zone in conn.execute(
        "SELECT id, site_id, zone FROM desks WHERE retired_at IS NULL ORDER BY site_id, id"
    ):
        desks.setdefault(site_id, []).append({"id": desk_id, "zone": zone})
    nodes: dict[str, list[Node]] = {}
    for node_id, site_id, heartbeat_s in conn.execute(
        "SELECT id, site_id, heartbeat_s FROM nodes WHERE retired_at IS NULL ORDER BY site_id, id"
    ):
        nodes.setdefault(site_id, []).append(Node(id=node_id, heartbeat_s=heartbeat_s))
    node_of_desk = {
        desk_id: node_id
        for node_id, desk_id in conn.execute(
            "SELECT node_id, desk_id FROM sensors WHERE retired_at IS NULL ORDER BY node_id, key"
        )
    }
    sites = [
        Site.model_validate(
            {
                "id": site_id,
                "name": name,
                "kind": kind,
                "timezone": timezone,
                "opening_hours": opening_hours,
                "closed_dates": list(closed_dates),
                "desks": desks.get(site_id, []),
                "nodes": nodes.get(site_id, []),
                "municipality": municipality,
                "area_m2": area_m2,
                "cost_per_desk_month": cost_per_desk_month,
            }
        )
        for (
            site_id,
            name,
            kind,
            timezone,
            opening_hours,
            closed_dates,
            municipality,
            area_m2,
            cost_per_desk_month,
        ) in rows
    ]
    return sites, node_of_desk


def _utc(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)


def read_bookings(conn: Any, layout: Layout, from_ms: int, to_ms: int) -> BookingArrays:
    """The site's bookings overlapping [from, to), by desk (bookings are few: rows are fine)."""
    site = layout.sites[0].id
    rows = [
        row
        for row in conn.execute(
            BOOKINGS_SQL, {"site": site, "from": _utc(from_ms), "to": _utc(to_ms)}
        )
        if row[1] in layout.desk_index  # a retired desk's bookings have nothing to measure
    ]
    return BookingArrays(
        booking_id=[row[0] for row in rows],
        desk=np.asarray([layout.desk_index[row[1]] for row in rows], dtype=np.int32),
        start_ms=np.asarray([row[2] for row in rows], dtype=np.int64),
        end_ms=np.asarray([row[3] for row in rows], dtype=np.int64),
    )


# Binary timestamptz: microseconds since 2000-01-01 00:00 UTC (integer datetimes).
_PG_EPOCH_MS = 946_684_800_000


def _wire_ms(wire_us: np.ndarray) -> np.ndarray:
    """Epoch milliseconds of binary timestamptz values, floored (as floor(epoch * 1000))."""
    return wire_us // 1000 + _PG_EPOCH_MS


def _copy(conn: Any, sql: str, params: dict[str, Any], columns: Any) -> dict[str, Any]:
    payload = bytearray()
    with conn.cursor() as cur, cur.copy(sql, params) as copy:
        for chunk in copy:
            payload += chunk
    return decode(payload, columns)


def copy_events(conn: Any, layout: Layout, from_ms: int, to_ms: int) -> EventArrays:
    """The site's desk changes for [from, to) with the states carried in, and its nodes'
    coverage as alive/stop pairs, in (ts, seq) order; compute with `observation_layout`.

    seq is renumbered to the stream's order (it only orders ties; coverage has none of its
    own), which keeps each desk's (ts, seq) order and makes (node, seq) unique.
    """
    params = {
        "site": layout.sites[0].id,
        "nodes": layout.node_ids,
        "desks": layout.desk_ids,
        "from": _utc(from_ms),
        "to": _utc(to_ms),
    }
    desk = _copy(conn, DESK_EVENTS_SQL, params, DESK_EVENT_COLUMNS)
    cover = _copy(conn, COVERAGE_SQL, params, COVERAGE_COLUMNS)
    desk["ts"] = _wire_ms(desk["ts"])
    cover["start"], cover["end"] = _wire_ms(cover["start"]), _wire_ms(cover["end"])
    n_desk, n_cover = len(desk["ts"]), len(cover["start"])
    kind = np.concatenate(
        [
            np.full(n_desk, _KIND_DESK, np.int8),
            np.full(n_cover, _KIND_ALIVE, np.int8),
            np.full(n_cover, _KIND_STOP, np.int8),
        ]
    )
    ts = np.concatenate([desk["ts"], cover["start"], cover["end"]])
    rank = np.asarray([_TIE_RANK[k] for k in range(3)], np.int8)[kind]
    tie_seq = np.concatenate([desk["seq"], np.zeros(2 * n_cover, np.int64)])
    order = np.lexsort((tie_seq, rank, ts))
    return EventArrays(
        node=np.concatenate([desk["node"], cover["node"], cover["node"]])[order],
        seq=np.arange(1, len(order) + 1, dtype=np.int64),
        ts=ts[order],
        kind=kind[order],
        desk=np.concatenate([desk["desk"], np.full(2 * n_cover, -1, np.int32)])[order],
        state=np.concatenate([desk["state"].astype(np.int8), np.zeros(2 * n_cover, np.int8)])[
            order
        ],
    )
