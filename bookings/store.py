"""Write bookings into the `bookings` table, idempotent by booking id (SPEC §7).

An upsert: a booking id seen again updates its site, desk and times (the
booking tool moved it) and leaves `released_at`, `created_at` and the booker
hash alone, so a booking released for no-show stays released. Rows that did
not change are not touched (their `updated_at` keeps its value). Must not
decide anything about bookings; callers hand in validated rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

ORIGINS = ("csv", "ical", "api", "simulator")

_UPSERT = """
INSERT INTO bookings (booking_id, site_id, desk_id, start_at, end_at, booker_hash, origin)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (booking_id) DO UPDATE SET
    site_id = EXCLUDED.site_id,
    desk_id = EXCLUDED.desk_id,
    start_at = EXCLUDED.start_at,
    end_at = EXCLUDED.end_at,
    origin = EXCLUDED.origin,
    updated_at = now()
WHERE (bookings.site_id, bookings.desk_id, bookings.start_at, bookings.end_at, bookings.origin)
    IS DISTINCT FROM
    (EXCLUDED.site_id, EXCLUDED.desk_id, EXCLUDED.start_at, EXCLUDED.end_at, EXCLUDED.origin)
"""


@dataclass(frozen=True, slots=True)
class BookingRow:
    booking_id: str
    site_id: str
    desk_id: str
    start_at: dt.datetime  # aware
    end_at: dt.datetime  # aware, after start_at
    booker_hash: str | None = None


def upsert_bookings(
    conn: psycopg.Connection[Any], rows: Iterable[BookingRow], origin: str = "api"
) -> int:
    """Insert or update bookings in one transaction; returns the number of rows handed in."""
    if origin not in ORIGINS:
        raise ValueError(f"origin {origin!r} is not one of {', '.join(ORIGINS)}")
    params = [
        (r.booking_id, r.site_id, r.desk_id, r.start_at, r.end_at, r.booker_hash, origin)
        for r in rows
    ]
    if not params:
        return 0
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(_UPSERT, params)
    return len(params)


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    created: int
    updated: int
    unchanged: int


def upsert_bookings_counted(
    conn: psycopg.Connection[Any], rows: Iterable[BookingRow], origin: str = "api"
) -> UpsertCounts:
    """`upsert_bookings`, telling how many rows were new, changed or already identical."""
    if origin not in ORIGINS:
        raise ValueError(f"origin {origin!r} is not one of {', '.join(ORIGINS)}")
    params = [
        (r.booking_id, r.site_id, r.desk_id, r.start_at, r.end_at, r.booker_hash, origin)
        for r in rows
    ]
    created = updated = 0
    if params:
        # An unchanged row returns nothing (the DO UPDATE's WHERE is false); xmax = 0 marks
        # a row this statement inserted rather than updated.
        with conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(_UPSERT + " RETURNING (xmax = 0)", params, returning=True)
            while True:
                for (inserted,) in cursor.fetchall():
                    created += inserted
                    updated += not inserted
                if not cursor.nextset():
                    break
    return UpsertCounts(created, updated, len(params) - created - updated)
