"""Write bookings into the `bookings` table, idempotent by booking id (SPEC §7).

An upsert: a booking id seen again updates its site, desk and times (the
booking tool moved it) and leaves `released_at`, `created_at` and the booker
hash alone, so a booking released for no-show stays released. Rows that did
not change are not touched (their `updated_at` keeps its value).

`apply_bookings` is the one write path of imports, syncs and the REST routes: the rows go
through COPY into a temporary table, the caller's sites are checked against the rows
*as stored* in the same transaction (and again in the upsert's WHERE, so a row of a site
the caller may not see is never moved away), and with a `Replace` scope the source's
bookings in the window that the new rows no longer hold are cancelled (kept with
`cancelled_at`, never deleted; released bookings stay as they are). Must not decide
anything about bookings' content; callers hand in validated rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubsense.errors import HubsenseError

if TYPE_CHECKING:
    import psycopg

ORIGINS = ("csv", "ical", "caldav", "api", "simulator")

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
    source_uid: str | None = None  # the iCalendar UID of the series it is an occurrence of


class BookingNotVisibleError(HubsenseError):
    """A row names a booking id that exists at a site the caller may not see (answer: 404)."""

    def __init__(self, booking_id: str) -> None:
        super().__init__(f"no booking {booking_id}")
        self.booking_id = booking_id


class SiteNotAllowedError(HubsenseError):
    """A row names a site the caller may not write (answer: 403)."""

    def __init__(self, site: str) -> None:
        super().__init__(f"this key may not see site {site}")
        self.site = site


@dataclass(frozen=True, slots=True)
class Replace:
    """What a re-import replaces: the source's bookings starting in [start, end), or only
    those of the series `uids` (an incremental sync's changed events)."""

    source: str
    start: dt.datetime
    end: dt.datetime
    uids: Collection[str] | None = None


@dataclass(slots=True)
class Applied:
    rows: int = 0  # handed in (a repeated id counts each time)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> int:
        return self.rows - len(self.created) - len(self.updated)


_INCOMING = """
CREATE TEMP TABLE incoming_bookings (
    seq bigserial, booking_id text NOT NULL, site_id text NOT NULL, desk_id text NOT NULL,
    start_at timestamptz NOT NULL, end_at timestamptz NOT NULL, booker_hash text, source_uid text
) ON COMMIT DROP
"""
_COPY = """COPY incoming_bookings
    (booking_id, site_id, desk_id, start_at, end_at, booker_hash, source_uid) FROM STDIN"""
_FOREIGN_SITE = """
SELECT site_id FROM incoming_bookings
 WHERE %(allowed)s::text[] IS NOT NULL AND NOT (site_id = ANY(%(allowed)s)) ORDER BY seq LIMIT 1
"""
# Lock the stored rows the file names, then look at their sites: another transaction cannot
# move one between this check and the upsert.
_HIDDEN = """
SELECT b.booking_id, b.site_id FROM bookings b
 WHERE b.booking_id IN (SELECT booking_id FROM incoming_bookings)
 ORDER BY b.booking_id FOR UPDATE
"""
_APPLY = """
INSERT INTO bookings (booking_id, site_id, desk_id, start_at, end_at, booker_hash, origin,
                      source, source_uid)
SELECT DISTINCT ON (booking_id)
       booking_id, site_id, desk_id, start_at, end_at, booker_hash, %(origin)s, %(source)s,
       source_uid
  FROM incoming_bookings ORDER BY booking_id, seq DESC
ON CONFLICT (booking_id) DO UPDATE SET
    site_id = EXCLUDED.site_id,
    desk_id = EXCLUDED.desk_id,
    start_at = EXCLUDED.start_at,
    end_at = EXCLUDED.end_at,
    origin = EXCLUDED.origin,
    source = coalesce(EXCLUDED.source, bookings.source),
    source_uid = coalesce(EXCLUDED.source_uid, bookings.source_uid),
    cancelled_at = NULL,
    updated_at = now()
WHERE (%(allowed)s::text[] IS NULL OR bookings.site_id = ANY(%(allowed)s))
  AND ((bookings.site_id, bookings.desk_id, bookings.start_at, bookings.end_at, bookings.origin)
       IS DISTINCT FROM
       (EXCLUDED.site_id, EXCLUDED.desk_id, EXCLUDED.start_at, EXCLUDED.end_at, EXCLUDED.origin)
       OR bookings.cancelled_at IS NOT NULL
       OR (EXCLUDED.source IS NOT NULL AND (bookings.source, bookings.source_uid)
           IS DISTINCT FROM (EXCLUDED.source, EXCLUDED.source_uid)))
RETURNING booking_id, (xmax = 0)
"""
_CANCEL = """
UPDATE bookings b SET cancelled_at = now(), updated_at = now()
 WHERE b.source = %(source)s AND b.cancelled_at IS NULL AND b.released_at IS NULL
   AND b.start_at >= %(from)s AND b.start_at < %(to)s
   AND (%(uids)s::text[] IS NULL OR b.source_uid = ANY(%(uids)s))
   AND (%(allowed)s::text[] IS NULL OR b.site_id = ANY(%(allowed)s))
   AND NOT EXISTS (SELECT 1 FROM incoming_bookings i WHERE i.booking_id = b.booking_id)
RETURNING b.booking_id
"""


def apply_bookings(
    conn: psycopg.Connection[Any],
    rows: Iterable[BookingRow],
    origin: str,
    *,
    source: str | None = None,
    replace: Replace | None = None,
    allowed_sites: Collection[str] | None = None,
) -> Applied:
    """Upsert the rows (the last of a repeated id wins) and cancel what `replace` no longer
    holds, all in one transaction (a savepoint inside the caller's). `allowed_sites`: the
    sites the caller may write, None for all; a row naming another site raises
    SiteNotAllowedError, a row whose id is stored at another site BookingNotVisibleError,
    and nothing is written."""
    if origin not in ORIGINS:
        raise ValueError(f"origin {origin!r} is not one of {', '.join(ORIGINS)}")
    if replace is not None and replace.source != source:
        raise ValueError("replace.source must be the rows' source")
    allowed = sorted(allowed_sites) if allowed_sites is not None else None
    applied = Applied()
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute(_INCOMING)
        with cursor.copy(_COPY) as copy:
            for r in rows:
                copy.write_row(
                    (r.booking_id, r.site_id, r.desk_id, r.start_at, r.end_at, r.booker_hash,
                     r.source_uid)
                )  # fmt: skip
                applied.rows += 1
        params: dict[str, Any] = {"allowed": allowed, "origin": origin, "source": source}
        if allowed is not None:
            foreign = cursor.execute(_FOREIGN_SITE, params).fetchone()
            if foreign is not None:
                raise SiteNotAllowedError(foreign[0])
            for booking_id, site_id in cursor.execute(_HIDDEN).fetchall():
                if site_id not in allowed:
                    raise BookingNotVisibleError(booking_id)
        for booking_id, inserted in cursor.execute(_APPLY, params).fetchall():
            (applied.created if inserted else applied.updated).append(booking_id)
        if replace is not None:
            params |= {
                "from": replace.start,
                "to": replace.end,
                "uids": sorted(replace.uids) if replace.uids is not None else None,
            }
            applied.cancelled = [r[0] for r in cursor.execute(_CANCEL, params).fetchall()]
        cursor.execute("DROP TABLE incoming_bookings")
    return applied


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
    applied = apply_bookings(conn, rows, origin)
    return UpsertCounts(len(applied.created), len(applied.updated), applied.unchanged)
