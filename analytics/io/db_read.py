"""Read one site's inventory, events and bookings from PostgreSQL into analytics arrays.

Events stream out with one binary `COPY (SELECT …) TO STDOUT`, every column cast to a
fixed-width integer in SQL (node and desk as index numbers of the layout, ts as epoch
ms), so the whole stream is decoded by numpy in one step: never a Python object per
event. Events before the period are reduced in SQL to what carries into it (each
desk's last state, each node's last alive/stop); events after it are read as far as
the period's bookings reach. Must not compute metrics or write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from hubsense.analytics.arrays import BookingArrays, EventArrays, Layout
from hubsense.analytics.io.pgcopy import decode
from psycopg.types.json import Jsonb

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
EVENTS_SQL = """
COPY (
    WITH e AS (
             SELECT c.* FROM unnest(%(desks)s::text[]) d(id) CROSS JOIN LATERAL (
                 SELECT node_id, seq, ts, type, desk_id, state
                   FROM events WHERE desk_id = d.id AND type = 'desk'
                    AND site_id = %(site)s AND ts < %(from)s
                  ORDER BY ts DESC, seq DESC LIMIT 1) c
             UNION ALL
             -- An alive older than 3 heartbeats before the period cannot cover any of it.
             (SELECT DISTINCT ON (node_id) node_id, seq, ts, type, desk_id, state
                FROM events WHERE site_id = %(site)s AND type <> 'desk'
                 AND ts >= %(beats)s AND ts < %(from)s
               ORDER BY node_id, ts DESC, seq DESC)
             UNION ALL
             SELECT node_id, seq, ts, type, desk_id, state
               FROM events WHERE site_id = %(site)s AND ts >= %(from)s AND ts < %(to)s
         )
    SELECT (%(node_index)s::jsonb ->> e.node_id)::int4, e.seq::int8,
           floor(extract(epoch FROM e.ts) * 1000)::int8,
           (CASE e.type WHEN 'desk' THEN 0 WHEN 'alive' THEN 1 ELSE 2 END)::int2,
           coalesce((%(desk_index)s::jsonb ->> e.desk_id)::int4, -1),
           (CASE WHEN e.state = 'occupied' THEN 1 ELSE 0 END)::int2
      FROM e
     WHERE %(node_index)s::jsonb ? e.node_id
       AND (e.type <> 'desk' OR %(desk_index)s::jsonb ? e.desk_id)
     ORDER BY e.ts, e.seq
) TO STDOUT (FORMAT binary)
"""

BOOKINGS_SQL = """
SELECT booking_id, desk_id,
       floor(extract(epoch FROM start_at) * 1000)::int8,
       floor(extract(epoch FROM end_at) * 1000)::int8
  FROM bookings
 WHERE site_id = %(site)s AND start_at < %(to)s AND end_at > %(from)s
   AND cancelled_at IS NULL  -- cancelled at its source: not a booking (SPEC §6, §7)
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


def copy_events(conn: Any, layout: Layout, from_ms: int, to_ms: int) -> EventArrays:
    """The site's events for [from, to) plus what carries in from before, by binary COPY."""
    longest_cover_ms = 3 * int(layout.node_heartbeat_ms.max()) if len(layout.node_ids) else 0
    params = {
        "site": layout.sites[0].id,
        "nodes": layout.node_ids,
        "desks": layout.desk_ids,
        "node_index": Jsonb(layout.node_index),
        "desk_index": Jsonb(layout.desk_index),
        "from": _utc(from_ms),
        "to": _utc(to_ms),
        "beats": _utc(from_ms - longest_cover_ms),
    }
    payload = bytearray()
    with conn.cursor() as cur, cur.copy(EVENTS_SQL, params) as copy:
        for chunk in copy:
            payload += chunk
    columns = decode(payload, EVENT_COLUMNS)
    return EventArrays(
        node=columns["node"],
        seq=columns["seq"],
        ts=columns["ts"],
        kind=columns["kind"].astype(np.int8),
        desk=columns["desk"],
        state=columns["state"].astype(np.int8),
    )
