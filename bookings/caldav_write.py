"""Write a no-show release back to its CalDAV event as STATUS:CANCELLED (docs/bookings.md).

The release watcher's adapter to the calendar server: GET the object that holds the
booking's UID, cancel the occurrence in it (`ical_cancel.py`, pure) and PUT it back with
`If-Match` on the ETag it was read with, so an edit made meanwhile in the calendar is never
overwritten (the watcher tries again on a later tick). Raw GET/PUT through the caldav
library's client rather than its object save, which sends no `If-Match`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from hubsense.bookings.caldav_sync import Credentials
from hubsense.bookings.ical_cancel import cancel_occurrence, original_start

from hubsense.db.connect import redact_dsn
from hubsense.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WriteBack:
    """One released booking to write back, as the watcher reads it from the database."""

    booking_id: str
    source: str  # 'caldav:<collection URL>'
    uid: str  # the series' UID
    href: str | None  # the calendar object that held it at the last sync
    timezone: str  # the site's, for floating times


class Written(Enum):
    DONE = "done"  # the calendar holds STATUS:CANCELLED now
    GONE = "gone"  # the object or event is no longer there: nothing to write
    RETRY = "retry"  # the server refused or was away, or the event changed meanwhile


class CalendarWriteBack:
    def __init__(self, credentials: Credentials, note: str) -> None:
        self.credentials = credentials
        self.note = note
        self._clients: dict[str, Any] = {}

    def _client(self, collection: str) -> Any:
        from caldav.davclient import DAVClient

        if collection not in self._clients:
            self._clients[collection] = DAVClient(
                collection, username=self.credentials.user, password=self.credentials.password
            )
        return self._clients[collection]

    def cancel(self, item: WriteBack) -> Written:
        import icalendar

        if item.href is None:
            return Written.GONE
        client = self._client(item.source.removeprefix("caldav:"))
        where = redact_dsn(item.href)
        try:
            got = client.request(item.href, "GET")
            if got.status == 404:
                return Written.GONE
            if got.status >= 300:
                log.warning("write_back_refused", href=where, status=got.status, step="GET")
                return Written.RETRY
            etag = got.headers.get("ETag")
            calendar = icalendar.Calendar.from_ical(got.raw)
            original = original_start(item.booking_id, item.uid)
            zone = ZoneInfo(item.timezone)
            now = dt.datetime.now(dt.UTC)
            if not cancel_occurrence(calendar, item.uid, original, zone, self.note, now):
                return Written.GONE
            headers = {"Content-Type": "text/calendar; charset=utf-8"}
            if etag:
                headers["If-Match"] = etag
            put = client.put(item.href, calendar.to_ical().decode(), headers)
        except Exception as error:  # the server away, a body that is no calendar: next tick
            log.warning("write_back_failed", href=where, error=str(error).splitlines()[0][:200])
            return Written.RETRY
        if put.status >= 300:
            # 412: edited meanwhile (read again next tick); 403: the calendar is read-only.
            log.warning("write_back_refused", href=where, status=put.status, step="PUT")
            return Written.RETRY
        log.info("booking_written_back", booking_id=item.booking_id, href=where)
        return Written.DONE

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
