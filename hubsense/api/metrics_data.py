"""SPEC §6 metrics of one site and period for the API, computed from the database on request.

No rollup tables exist yet, so this reads the site's inventory, events and bookings and
hands them to the analytics (`hubsense.analytics.compute`, the same kernels as
`hubsense analytics compute`): the numbers are exactly the files' numbers. Events are
read from the period's start minus three heartbeats (an alive's cover reaches into the
period) up to the last booking end (events after the period count for bookings), plus
each desk's and node's last event before that (state carries into the period).
Must not write anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

from hubsense.analytics.arrays import BookingArrays, EventArrays, Layout
from hubsense.analytics.calendar import Bucket, Period
from hubsense.analytics.compute import Results, compute
from hubsense.inventory import Desk, Site

if TYPE_CHECKING:
    import psycopg

_KIND = {"desk": 0, "alive": 1, "stop": 2}
_OBSERVED_HEARTBEATS = 3


@dataclass(frozen=True)
class SiteMetrics:
    site: Site
    period: Period
    results: Results
    bookings: BookingArrays
    booking_rows: list[
        tuple[str, dt.datetime, dt.datetime, dt.datetime | None]
    ]  # id, start, end, released


def read_layout(conn: psycopg.Connection[Any], site_id: str) -> Layout | None:
    """A one-site layout from the database's inventory (live rows only)."""
    row = conn.execute(
        """SELECT id, name, kind, municipality, timezone, opening_hours, closed_dates, area_m2,
                  cost_per_desk_month FROM sites WHERE id = %s""",
        (site_id,),
    ).fetchone()
    if row is None:
        return None
    desks = conn.execute(
        "SELECT id, zone FROM desks WHERE site_id = %s AND retired_at IS NULL ORDER BY id",
        (site_id,),
    ).fetchall()
    nodes = conn.execute(
        "SELECT id, heartbeat_s FROM nodes WHERE site_id = %s AND retired_at IS NULL ORDER BY id",
        (site_id,),
    ).fetchall()
    desk_node = dict(
        conn.execute(
            """SELECT DISTINCT ON (s.desk_id) s.desk_id, s.node_id FROM sensors s
               JOIN nodes n ON n.id = s.node_id
               WHERE n.site_id = %s AND s.retired_at IS NULL AND n.retired_at IS NULL
               ORDER BY s.desk_id, s.node_id""",
            (site_id,),
        ).fetchall()
    )
    site = Site(
        id=row[0],
        name=row[1],
        kind=row[2],
        municipality=row[3],
        timezone=row[4],
        opening_hours=row[5],
        closed_dates=row[6],
        area_m2=row[7],
        cost_per_desk_month=row[8],
        desks=[Desk(id=d, zone=z) for d, z in desks],
    )
    node_ids = [n for n, _ in nodes]
    node_index = {n: i for i, n in enumerate(node_ids)}
    desk_ids = [d for d, _ in desks]
    return Layout(
        sites=[site],
        desk_ids=desk_ids,
        node_ids=node_ids,
        desk_index={d: i for i, d in enumerate(desk_ids)},
        node_index=node_index,
        site_index={site.id: 0},
        desk_site=np.zeros(len(desk_ids), dtype=np.int32),
        desk_node=np.asarray(
            [node_index.get(desk_node.get(d, ""), -1) for d in desk_ids], dtype=np.int32
        ),
        node_heartbeat_ms=np.asarray([hb * 1000 for _, hb in nodes], dtype=np.int64),
        site_desk_off=np.asarray([0, len(desk_ids)], dtype=np.int64),
    )


_EVENTS = """
SELECT node_id, seq, (extract(epoch FROM ts) * 1000)::bigint, type, desk_id, state = 'occupied'
FROM events WHERE site_id = %(site)s AND ts >= %(lo)s AND ts < %(hi)s
UNION ALL
SELECT e.node_id, e.seq, (extract(epoch FROM e.ts) * 1000)::bigint, e.type, e.desk_id,
       e.state = 'occupied'
FROM unnest(%(nodes)s::text[]) AS n(id)
CROSS JOIN LATERAL (
    SELECT * FROM events WHERE site_id = %(site)s AND node_id = n.id AND type IN ('alive', 'stop')
      AND ts < %(lo)s ORDER BY ts DESC, seq DESC LIMIT 1
) e
UNION ALL
SELECT e.node_id, e.seq, (extract(epoch FROM e.ts) * 1000)::bigint, e.type, e.desk_id,
       e.state = 'occupied'
FROM unnest(%(desks)s::text[]) AS d(id)
CROSS JOIN LATERAL (
    SELECT * FROM events WHERE site_id = %(site)s AND desk_id = d.id AND type = 'desk'
      AND ts < %(lo)s ORDER BY ts DESC, seq DESC LIMIT 1
) e
"""


def read_events(
    conn: psycopg.Connection[Any], layout: Layout, lo: dt.datetime, hi: dt.datetime
) -> EventArrays:
    params = {
        "site": layout.sites[0].id,
        "lo": lo,
        "hi": hi,
        "nodes": layout.node_ids,
        "desks": layout.desk_ids,
    }
    node, seq, ts, kind, desk, state = [], [], [], [], [], []
    for node_id, s, t, k, desk_id, occupied in conn.execute(_EVENTS, params):
        n = layout.node_index.get(node_id)
        d = layout.desk_index.get(desk_id, -1) if desk_id is not None else -1
        if n is None or (k == "desk" and d < 0):
            continue  # a retired node or desk
        node.append(n)
        seq.append(s)
        ts.append(t)
        kind.append(_KIND[k])
        desk.append(d)
        state.append(1 if occupied else 0)
    return EventArrays(
        node=np.asarray(node, dtype=np.int32),
        seq=np.asarray(seq, dtype=np.int64),
        ts=np.asarray(ts, dtype=np.int64),
        kind=np.asarray(kind, dtype=np.int8),
        desk=np.asarray(desk, dtype=np.int32),
        state=np.asarray(state, dtype=np.int8),
    )


def period_bounds(site: Site, period: Period) -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo(site.timezone)
    return (
        dt.datetime.combine(period.start, dt.time(0), tzinfo=zone),
        dt.datetime.combine(period.end, dt.time(0), tzinfo=zone),
    )


def site_metrics(
    conn: psycopg.Connection[Any],
    layout: Layout,
    period: Period,
    bucket: Bucket,
    noshow_min_s: int = 900,
    percentile: Fraction = Fraction(95),
) -> SiteMetrics:
    site = layout.sites[0]
    start, end = period_bounds(site, period)
    rows = conn.execute(
        """SELECT booking_id, desk_id, start_at, end_at, released_at FROM bookings
           WHERE site_id = %s AND start_at < %s AND end_at > %s ORDER BY start_at, booking_id""",
        (site.id, end, start),
    ).fetchall()
    rows = [r for r in rows if r[1] in layout.desk_index]
    bookings = BookingArrays(
        booking_id=[r[0] for r in rows],
        desk=np.asarray([layout.desk_index[r[1]] for r in rows], dtype=np.int32),
        start_ms=np.asarray([int(r[2].timestamp() * 1000) for r in rows], dtype=np.int64),
        end_ms=np.asarray([int(r[3].timestamp() * 1000) for r in rows], dtype=np.int64),
    )
    max_hb_ms = int(layout.node_heartbeat_ms.max()) if len(layout.node_ids) else 0
    lo = start - dt.timedelta(milliseconds=_OBSERVED_HEARTBEATS * max_hb_ms)
    hi = max([end, *(r[3] for r in rows)])
    events = read_events(conn, layout, lo, hi)
    results = compute(layout, events, bookings, period, bucket, noshow_min_s, percentile)
    booking_rows = [(r[0], r[2], r[3], r[4]) for r in rows]
    return SiteMetrics(site, period, results, bookings, booking_rows)
