"""Desks now: each desk's live status from its last event, its node's cover and its booking.

A desk is *unknown* when nobody is looking (its node's last alive is older than three
heartbeats, it sent `stop`, its status says offline, or no sensor names it) or when its
node says it cannot tell (its last state is `unknown`: a silent or failing sensor); else
*occupied* when its last state is occupied (a *walk-in* when no booking runs), else
*booked* when an unreleased booking runs, else *free* (a desk whose last state change is
older than `STATE_WINDOW` reads as not occupied). The classification is pure;
`read_desks_now` is the one query behind it. Must not write anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hubsense.bookings.release import OBSERVED_HEARTBEATS

if TYPE_CHECKING:
    import psycopg


class DeskStatus(StrEnum):
    FREE = "free"
    OCCUPIED = "occupied"
    BOOKED = "booked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DeskNowRow:
    """What the database knows about one desk right now."""

    desk: str
    zone: str | None
    node: str | None
    heartbeat_s: int | None
    node_online: bool | None  # the retained status; None when none arrived
    occupied: bool | None  # the last desk event's state; None when there is none
    state_since: dt.datetime | None
    beat_alive: bool | None  # the node's last alive (True) or stop (False)
    beat_at: dt.datetime | None
    booking_id: str | None  # an unreleased booking running now
    booking_end: dt.datetime | None
    # The last desk event's state is `unknown`: the node cannot tell (docs/wire.md).
    state_unknown: bool | None = False


@dataclass(frozen=True, slots=True)
class DeskNow:
    desk: str
    zone: str | None
    status: DeskStatus
    walk_in: bool
    booking_id: str | None
    booking_end: dt.datetime | None
    since: dt.datetime | None


def observed_now(row: DeskNowRow, now: dt.datetime) -> bool:
    if row.node is None or row.node_online is False or not row.beat_alive:
        return False
    assert row.beat_at is not None and row.heartbeat_s is not None
    return now < row.beat_at + dt.timedelta(seconds=OBSERVED_HEARTBEATS * row.heartbeat_s)


def classify(row: DeskNowRow, now: dt.datetime) -> DeskNow:
    booked = row.booking_id is not None
    if not observed_now(row, now) or row.state_unknown:
        status = DeskStatus.UNKNOWN
    elif row.occupied:
        status = DeskStatus.OCCUPIED
    elif booked:
        status = DeskStatus.BOOKED
    else:
        status = DeskStatus.FREE
    return DeskNow(
        desk=row.desk,
        zone=row.zone,
        status=status,
        walk_in=status is DeskStatus.OCCUPIED and not booked,
        booking_id=row.booking_id,
        booking_end=row.booking_end,
        since=row.state_since,
    )


def count(desks: list[DeskNow]) -> dict[str, int]:
    counts = {status.value: 0 for status in DeskStatus}
    for desk in desks:
        counts[desk.status.value] += 1
    counts["walk_in"] = sum(desk.walk_in for desk in desks)
    counts["total"] = len(desks)
    return counts


# A desk's state is its last change in the last week, read in one index range scan of the
# site's events; the edge re-sends every desk's state on each start, so an older last
# change is a desk nobody has touched (read as not occupied). Scanning back further per
# desk would read a node's whole history for a desk that was never sensed.
STATE_WINDOW = dt.timedelta(days=7)

# One row per live desk. The node's last alive/stop is found through the primary key
# (node_id, seq) backwards: a node numbers its events in order and says alive every minute.
_DESKS_NOW = """
WITH last_state AS (
    SELECT DISTINCT ON (desk_id) desk_id, state, ts FROM events
    WHERE site_id = %(site)s AND type = 'desk' AND ts > %(since)s AND ts <= %(now)s
    ORDER BY desk_id, ts DESC, seq DESC
)
SELECT d.id, d.zone, s.node_id, n.heartbeat_s, ns.online,
       ev.state = 'occupied', ev.ts, beat.type = 'alive', beat.ts,
       bk.booking_id, bk.end_at, ev.state = 'unknown'
FROM desks d
LEFT JOIN LATERAL (
    SELECT node_id FROM sensors
    WHERE desk_id = d.id AND retired_at IS NULL ORDER BY node_id LIMIT 1
) s ON true
LEFT JOIN nodes n ON n.id = s.node_id
LEFT JOIN node_status ns ON ns.node_id = s.node_id
LEFT JOIN last_state ev ON ev.desk_id = d.id
LEFT JOIN LATERAL (
    SELECT type, ts FROM events
    WHERE node_id = s.node_id AND type IN ('alive', 'stop') AND ts <= %(now)s
    ORDER BY seq DESC LIMIT 1
) beat ON true
LEFT JOIN LATERAL (
    SELECT booking_id, end_at FROM bookings
    WHERE desk_id = d.id AND start_at <= %(now)s AND end_at > %(now)s AND released_at IS NULL
      AND cancelled_at IS NULL
    ORDER BY start_at, booking_id LIMIT 1
) bk ON true
WHERE d.site_id = %(site)s AND d.retired_at IS NULL
ORDER BY d.zone NULLS LAST, d.id
"""


def read_desks_now(conn: psycopg.Connection[Any], site: str, now: dt.datetime) -> list[DeskNow]:
    params = {"site": site, "now": now, "since": now - STATE_WINDOW}
    rows = conn.execute(_DESKS_NOW, params).fetchall()
    return [classify(DeskNowRow(*row), now) for row in rows]
