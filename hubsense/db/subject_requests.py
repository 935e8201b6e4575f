"""Answer a data-subject request about a booker: find or erase their salted hash in `bookings`.

hubsense keeps no names; a booker is stored only as `hash_booker(booker, salt)`.
The caller hashes the identifier the booking tool sent (e.g. an e-mail
address) with the organisation's salt and hands in the hash. Erasing clears
the hash and keeps the booking: without it the row is an anonymous desk
booking, and the analytics (no-shows, utilisation) stay the same. Must not log
the booker or the hash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

_FIND = """
SELECT booking_id, site_id, desk_id, start_at, end_at, origin, released_at
FROM bookings WHERE booker_hash = %s ORDER BY start_at, booking_id
"""
_ERASE = "UPDATE bookings SET booker_hash = NULL, updated_at = now() WHERE booker_hash = %s"


def find_bookings(conn: psycopg.Connection[Any], booker_hash: str) -> list[dict[str, Any]]:
    """Every booking linked to the hash, oldest first (the subject's right of access)."""
    columns = ("booking_id", "site", "desk", "start", "end", "origin", "released_at")
    rows = conn.execute(_FIND, (booker_hash,)).fetchall()
    return [dict(zip(columns, row, strict=True)) for row in rows]


def erase_booker(conn: psycopg.Connection[Any], booker_hash: str) -> int:
    """Unlink the bookings from the hash (right to erasure); returns how many rows changed."""
    with conn.transaction():
        return conn.execute(_ERASE, (booker_hash,)).rowcount
