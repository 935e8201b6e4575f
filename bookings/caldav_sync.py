"""Sync bookings from CalDAV calendars, incrementally (SPEC §7, docs/bookings.md).

One calendar collection, or every calendar under a principal's home, read with the caldav
library. The first sync of a calendar takes its RFC 6578 sync token, then fetches every
event in one calendar-query; later syncs ask for what changed since the token and fetch
only those objects, so a sync costs what changed, not the calendar's size. Each object's
events expand as an iCalendar file does (`ical.py`), a calendar whose display name is a
desk id maps every event to that desk, and the bookings are written with the same
replace rules: a changed or deleted object's occurrences that are gone are cancelled.

All of one calendar's sync (bookings, objects seen, the new token) is one transaction: a
bad object or a failure midway leaves the bookings and the old token as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubsense.bookings.ical import Window, calendar_uids, expand_calendar, read_calendar
from hubsense.bookings.imports import Inventory, Limits
from hubsense.bookings.store import Applied, Replace, apply_bookings

from hubsense.errors import InputError, ServiceError

if TYPE_CHECKING:
    import psycopg


class CalendarServerError(ServiceError):
    """The CalDAV server could not be reached or refused a request (not the calendar's fault)."""


@dataclass(slots=True)
class CalendarSync:
    source: str  # 'caldav:<collection URL>'
    full: bool  # no token yet (or the server dropped it): every object was read
    fetched: int  # calendar objects read
    deleted: int  # objects the server reported gone
    applied: Applied = field(default_factory=Applied)


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str | None = None
    password: str | None = None


@contextmanager
def _server_errors(url: str) -> Iterator[None]:
    from hubsense.errors import HubsenseError

    try:
        yield
    except HubsenseError:
        raise
    except Exception as error:  # caldav's DAVError, the HTTP library's, OSError: the server's
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CalendarServerError(f"caldav {url}: {text[:200]}") from None


def calendars_at(url: str, credentials: Credentials) -> list[Any]:
    """The calendar collection at `url`, or every calendar under the principal or home there."""
    import caldav
    from caldav.elements import dav

    with _server_errors(url):
        client = caldav.DAVClient(url, username=credentials.user, password=credentials.password)
        here = caldav.Calendar(client=client, url=url)
        kinds = here.get_properties([dav.ResourceType()]).get(dav.ResourceType.tag) or ""
        if "calendar" in str(kinds):
            return [here]
        children = [
            caldav.Calendar(client=client, url=child_url)
            for child_url, _kind, _name in here.children()
        ]
        return [c for c in children if "calendar" in str(c.get_properties(
            [dav.ResourceType()]).get(dav.ResourceType.tag) or "")]  # fmt: skip


def _etag(obj: Any) -> str | None:
    from caldav.elements import dav

    props = getattr(obj, "props", None) or {}
    value = props.get(dav.GetEtag.tag)
    return str(value) if value else None


def _desk_calendar(calendar: Any, inventory: Inventory) -> str | None:
    try:
        name = str(calendar.get_display_name() or "").strip()
    except Exception:  # a server without displayname: no desk calendar
        return None
    return name if name in inventory.desk_site else None


def sync_calendar(
    conn: psycopg.Connection[Any],
    calendar: Any,
    inventory: Inventory,
    salt: str | None,
    window: Window,
    limits: Limits,
    max_objects: int,
    dry_run: bool = False,
) -> CalendarSync:
    """Sync one calendar collection into the bookings table (one transaction)."""
    import psycopg

    url = str(calendar.url)
    source = f"caldav:{url}"
    desk = _desk_calendar(calendar, inventory)
    with conn.transaction() as tx:
        conn.execute(
            "INSERT INTO booking_sources (source) VALUES (%s) ON CONFLICT DO NOTHING", (source,)
        )
        (token,) = conn.execute(
            "SELECT sync_token FROM booking_sources WHERE source = %s FOR UPDATE", (source,)
        ).fetchone() or (None,)
        with _server_errors(url):
            changes = None
            if token:
                try:
                    changes = calendar.objects_by_sync_token(sync_token=token, load_objects=True)
                except Exception:  # the server no longer knows the token: read everything
                    changes = None
            if changes is not None:
                objects, deleted = list(changes.objects), set(changes.deleted_urls or ())
                new_token = changes.sync_token
            else:
                # Token first, then the data: a change in between comes again next time.
                new_token = calendar.objects_by_sync_token(load_objects=False).sync_token
                objects, deleted = list(calendar.search(event=True)), set()
        objects = [o for o in objects if getattr(o, "data", None)]
        if len(objects) > max_objects:
            raise InputError(
                f"caldav {url}: objects: {len(objects)} to read, more than {max_objects}"
                " (settings bookings.max_sync_objects)"
            )
        rows = []
        seen: list[tuple[str, str | None, str]] = []
        for obj in objects:
            href = str(obj.url)
            parsed_calendar = read_calendar(obj.data.encode(), f"caldav {href}")
            parsed = expand_calendar(
                parsed_calendar, inventory, salt, window, f"caldav {href}", limits, desk
            )
            rows.extend(parsed.rows)
            for uid in calendar_uids(parsed_calendar):
                seen.append((href, _etag(obj), uid))
        full = changes is None
        if full:
            uids = None
            conn.execute("DELETE FROM booking_source_objects WHERE source = %s", (source,))
        else:
            gone = [str(u) for u in deleted]
            changed_hrefs = [href for href, _, _ in seen] + gone
            old = conn.execute(
                "DELETE FROM booking_source_objects WHERE source = %s AND href = ANY(%s)"
                " RETURNING uid",
                (source, changed_hrefs),
            ).fetchall()
            uids = {uid for (uid,) in old} | {uid for _, _, uid in seen}
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO booking_source_objects (source, href, etag, uid)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (source, href) DO UPDATE"
                " SET etag = EXCLUDED.etag, uid = EXCLUDED.uid",
                [(source, href, etag, uid) for href, etag, uid in seen],
            )
        applied = apply_bookings(
            conn,
            rows,
            origin="caldav",
            source=source,
            replace=Replace(source, window.start, window.end, uids),
        )
        conn.execute(
            "UPDATE booking_sources SET sync_token = %s, synced_at = now() WHERE source = %s",
            (str(new_token) if new_token else None, source),
        )
        result = CalendarSync(source, full, len(objects), len(deleted), applied)
        if dry_run:
            raise psycopg.Rollback(tx)
    return result


def sync_caldav(
    conn: psycopg.Connection[Any],
    url: str,
    credentials: Credentials,
    inventory: Inventory,
    salt: str | None,
    window: Window,
    limits: Limits,
    max_objects: int,
    dry_run: bool = False,
) -> list[CalendarSync]:
    """Sync every calendar at `url`, each in its own transaction."""
    return [
        sync_calendar(conn, calendar, inventory, salt, window, limits, max_objects, dry_run)
        for calendar in calendars_at(url, credentials)
    ]
