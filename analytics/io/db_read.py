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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from hubsense.analytics.arrays import BookingArrays, EventArrays, Layout
from hubsense.analytics.io.pgcopy import decode

from hubsense.inventory.model import DEFAULT_USED_MIN_S, Node, Site

# Desk state changes only (a few a desk a day), for the desks of one or more sites at once
# (one statement a chunk of sites: a one-day run is mostly per-statement cost). Each
# desk's last event before its site's window carries its state in (one probe of
# events_desk_ts, migration 0006), then its events in the window, by the same partial
# index. Node and desk come out as index numbers of the chunk's arrays; a node counts only
# for its own site: the site's nodes are [node_lo, node_hi) of `nodes`, and the search
# starts at node_lo (a join to the node list came out as a nested loop, 2 M comparisons).
# Alive rows are never read: coverage stands for them.
DESK_EVENTS_SQL = """
COPY (
    WITH d AS (
             SELECT d.id, d.idx, (%(sites)s::text[])[d.s] AS site_id,
                    (%(from)s::timestamptz[])[d.s] AS f, (%(to)s::timestamptz[])[d.s] AS t,
                    (%(node_lo)s::int4[])[d.s] AS node_lo, (%(node_lo)s::int4[])[d.s + 1] AS node_hi
               FROM unnest(%(desks)s::text[], %(desk_site)s::int4[]) WITH ORDINALITY d(id, s, idx)
         ),
         e AS (
             SELECT d.idx, d.node_lo, d.node_hi, c.* FROM d
              CROSS JOIN LATERAL (
                 SELECT node_id, seq, ts, state
                   FROM events WHERE desk_id = d.id AND type = 'desk'
                    AND site_id = d.site_id AND ts < d.f
                  ORDER BY ts DESC, seq DESC LIMIT 1) c
             UNION ALL
             SELECT d.idx, d.node_lo, d.node_hi, c.* FROM d
              CROSS JOIN LATERAL (
                 SELECT node_id, seq, ts, state
                   FROM events WHERE desk_id = d.id AND type = 'desk'
                    AND site_id = d.site_id AND ts >= d.f AND ts < d.t) c
         )
    SELECT (p.i - 1)::int4, e.seq::int8, e.ts, (e.idx - 1)::int4,
           (CASE e.state WHEN 'occupied' THEN 1 WHEN 'unknown' THEN 2 ELSE 0 END)::int2
      FROM e CROSS JOIN LATERAL (
               SELECT array_position(%(nodes)s::text[], e.node_id, e.node_lo) AS i) p
     WHERE p.i < e.node_hi
) TO STDOUT (FORMAT binary)
"""
DESK_EVENT_COLUMNS = [
    ("node", np.int32),
    ("seq", np.int64),
    ("ts", np.int64),
    ("desk", np.int32),
    ("state", np.int16),
]

# Node coverage N (migration 0010, kept by ingest): the intervals reaching into each
# node's site window.
COVERAGE_SQL = """
COPY (
    SELECT (n.idx - 1)::int4, c.start_ts, c.end_ts
      FROM unnest(%(nodes)s::text[], %(node_site)s::int4[]) WITH ORDINALITY n(id, s, idx)
      JOIN coverage c ON c.site_id = (%(sites)s::text[])[n.s] AND c.node_id = n.id
                     AND c.end_ts > (%(from)s::timestamptz[])[n.s]
                     AND c.start_ts < (%(to)s::timestamptz[])[n.s]
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


# Each site's bookings overlapping its window, by bookings_site_end (migration 0014): a
# lateral kept from being flattened by OFFSET 0, since the join the planner makes of it
# otherwise scans every booking there is (146 ms for 50 sites of a year of bookings).
BOOKINGS_SQL = """
SELECT s.idx::int4, b.booking_id, b.desk_id,
       floor(extract(epoch FROM b.start_at) * 1000)::int8,
       floor(extract(epoch FROM b.end_at) * 1000)::int8
  FROM unnest(%(sites)s::text[], %(from)s::timestamptz[], %(to)s::timestamptz[])
       WITH ORDINALITY s(id, f, t, idx)
 CROSS JOIN LATERAL (
       SELECT booking_id, desk_id, start_at, end_at FROM bookings
        WHERE site_id = s.id AND end_at > s.f AND start_at < s.t
          AND cancelled_at IS NULL  -- cancelled at its source: not a booking (docs/metrics.md)
       OFFSET 0) b
 ORDER BY s.idx, b.desk_id, b.start_at, b.booking_id
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


Window = tuple[int, int]  # [from_ms, to_ms) of one site


@contextmanager
def _index_reads(conn: Any) -> Iterator[None]:
    """A transaction whose statements walk the indexes they were written for.

    The site windows are columns of the statements, not constants, so the planner guesses:
    it took a bitmap scan and sort of every event of a desk for the carry-in's `LIMIT 1`
    (events_desk_ts read backwards stops at the first), 25x slower at a year of data, and
    their inflated costs switch on JIT, which compiles for longer than they run."""
    with conn.transaction():
        conn.execute("SET LOCAL enable_bitmapscan = off")
        conn.execute("SET LOCAL jit = off")
        yield


def read_bookings_of(
    conn: Any, layouts: Sequence[Layout], windows: Sequence[Window]
) -> list[BookingArrays]:
    """Each site's bookings overlapping its window, in one statement for all of them."""
    rows: list[list[tuple[Any, ...]]] = [[] for _ in layouts]
    params = {
        "sites": [layout.sites[0].id for layout in layouts],
        "from": [_utc(f) for f, _ in windows],
        "to": [_utc(t) for _, t in windows],
    }
    with _index_reads(conn):
        found = conn.execute(BOOKINGS_SQL, params).fetchall()
    for row in found:
        # A retired desk's bookings have nothing to measure.
        if row[2] in layouts[row[0] - 1].desk_index:
            rows[row[0] - 1].append(row)
    return [
        BookingArrays(
            booking_id=[row[1] for row in site_rows],
            desk=np.asarray([layout.desk_index[row[2]] for row in site_rows], dtype=np.int32),
            start_ms=np.asarray([row[3] for row in site_rows], dtype=np.int64),
            end_ms=np.asarray([row[4] for row in site_rows], dtype=np.int64),
        )
        for layout, site_rows in zip(layouts, rows, strict=True)
    ]


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
    return copy_events_of(conn, [layout], [(from_ms, to_ms)])[0]


def copy_events_of(
    conn: Any, layouts: Sequence[Layout], windows: Sequence[Window]
) -> list[EventArrays]:
    """`copy_events` for several sites, each with its own window, in two statements."""
    desk_site = np.repeat(np.arange(len(layouts)), [len(x.desk_ids) for x in layouts])
    node_site = np.repeat(np.arange(len(layouts)), [len(x.node_ids) for x in layouts])
    desk_off = np.concatenate([[0], np.cumsum([len(x.desk_ids) for x in layouts])])
    node_off = np.concatenate([[0], np.cumsum([len(x.node_ids) for x in layouts])])
    sites = [layout.sites[0].id for layout in layouts]
    froms = [_utc(f) for f, _ in windows]
    tos = [_utc(t) for _, t in windows]
    params = {
        "desks": [d for layout in layouts for d in layout.desk_ids],
        "desk_site": (desk_site + 1).tolist(),
        "nodes": [n for layout in layouts for n in layout.node_ids],
        "node_site": (node_site + 1).tolist(),
        # The sites' node ranges in `nodes`, 1-based: site i's are [node_lo[i], node_lo[i + 1]).
        "node_lo": (node_off + 1).tolist(),
        "sites": sites,
        "from": froms,
        "to": tos,
    }
    with _index_reads(conn):
        desk = _copy(conn, DESK_EVENTS_SQL, params, DESK_EVENT_COLUMNS)
        cover = _copy(conn, COVERAGE_SQL, params, COVERAGE_COLUMNS)
    desk["ts"] = _wire_ms(desk["ts"])
    cover["start"], cover["end"] = _wire_ms(cover["start"]), _wire_ms(cover["end"])
    desk_of = _by_site(desk, node_site[desk["node"]], node_off, desk_off)
    cover_of = _by_site(cover, node_site[cover["node"]], node_off, None)
    return [_stream(desk_of[i], cover_of[i]) for i in range(len(layouts))]


def _by_site(
    rows: dict[str, np.ndarray],
    site: np.ndarray,
    node_off: np.ndarray,
    desk_off: np.ndarray | None,
) -> list[dict[str, np.ndarray]]:
    """The rows split by site, node (and desk) numbered within their own site."""
    order = np.argsort(site, kind="stable")
    bounds = np.searchsorted(site[order], np.arange(len(node_off)))
    out = []
    for i in range(len(node_off) - 1):
        take = order[bounds[i] : bounds[i + 1]]
        part = {name: values[take] for name, values in rows.items()}
        part["node"] = part["node"] - node_off[i]
        if desk_off is not None:
            part["desk"] = part["desk"] - desk_off[i]
        out.append(part)
    return out


def _stream(desk: dict[str, np.ndarray], cover: dict[str, np.ndarray]) -> EventArrays:
    """One site's desk changes and coverage as one (ts, seq) ordered event stream."""
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
        node=np.concatenate([desk["node"], cover["node"], cover["node"]]).astype(np.int32)[order],
        seq=np.arange(1, len(order) + 1, dtype=np.int64),
        ts=ts[order],
        kind=kind[order],
        desk=np.concatenate([desk["desk"], np.full(2 * n_cover, -1, np.int32)]).astype(np.int32)[
            order
        ],
        state=np.concatenate([desk["state"].astype(np.int8), np.zeros(2 * n_cover, np.int8)])[
            order
        ],
    )
