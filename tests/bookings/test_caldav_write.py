"""The write-back adapter against a real Radicale server: it never overwrites an edit made in
the calendar between its read and its write (If-Match on the ETag read: 412, tried again
later), and an object or event gone from the calendar is reported gone, not re-created."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import icalendar
import pytest
from hubsense.bookings.caldav_sync import Credentials
from hubsense.bookings.caldav_write import CalendarWriteBack, WriteBack, Written
from support.radicale import Radicale

pytestmark = pytest.mark.service

EVENT = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//hubsense tests//EN\r
BEGIN:VEVENT\r
UID:w-1@example\r
DTSTAMP:20261105T070000Z\r
DTSTART:20261105T070000Z\r
DTEND:20261105T080000Z\r
LOCATION:d-1\r
SUMMARY:%s\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.fixture
def radicale(service_tmp_path: Path) -> Iterator[Radicale]:
    server = Radicale(service_tmp_path)
    yield server
    server.close()


class EditedAfterRead:
    """The caldav client, with someone editing the event right after our GET."""

    def __init__(self, client: Any, radicale: Radicale, path: str) -> None:
        self.client, self.radicale, self.path = client, radicale, path

    def request(self, url: str, method: str = "GET") -> Any:
        response = self.client.request(url, method)
        self.radicale.put(self.path, EVENT % b"Edited in the calendar")
        return response

    def put(self, url: str, body: str, headers: dict[str, str]) -> Any:
        return self.client.put(url, body, headers)

    def close(self) -> None:
        self.client.close()


def item(url: str, href: str | None) -> WriteBack:
    return WriteBack("w-1@example", f"caldav:{url}", "w-1@example", href, "Europe/Stockholm")


def status_and_summary(radicale: Radicale, path: str) -> tuple[str, str]:
    (event,) = icalendar.Calendar.from_ical(radicale.get(path)).walk("VEVENT")
    return str(event.get("STATUS", "")), str(event["SUMMARY"])


def test_an_edit_between_read_and_write_is_not_overwritten(radicale: Radicale) -> None:
    url = radicale.make_calendar("/hs/w/", "desks")
    radicale.put("/hs/w/e.ics", EVENT % b"Desk")
    href = f"{url}e.ics"
    writer = CalendarWriteBack(Credentials(), "released")
    writer._clients[url] = EditedAfterRead(writer._client(url), radicale, "/hs/w/e.ics")
    assert writer.cancel(item(url, href)) is Written.RETRY
    assert status_and_summary(radicale, "/hs/w/e.ics") == ("", "Edited in the calendar")
    writer._clients.pop(url)
    assert writer.cancel(item(url, href)) is Written.DONE  # the next tick reads the edit
    assert status_and_summary(radicale, "/hs/w/e.ics") == ("CANCELLED", "Edited in the calendar")
    writer.close()


def test_gone_objects_and_events_are_not_recreated(radicale: Radicale) -> None:
    url = radicale.make_calendar("/hs/g/", "desks")
    writer = CalendarWriteBack(Credentials(), "released")
    assert writer.cancel(item(url, f"{url}missing.ics")) is Written.GONE
    assert radicale.http.get("/hs/g/missing.ics").status_code == 404
    radicale.put("/hs/g/other.ics", (EVENT % b"Desk").replace(b"w-1@", b"w-2@"))
    assert writer.cancel(item(url, f"{url}other.ics")) is Written.GONE
    assert status_and_summary(radicale, "/hs/g/other.ics") == ("", "Desk")
    assert writer.cancel(item(url, None)) is Written.GONE  # type: ignore[arg-type]
    writer.close()
