"""Writing a no-show back as STATUS:CANCELLED (pure): the changed calendar, read again by our
own importer, no longer holds that occurrence and still holds every other one, for a series
written the way Outlook writes it (Windows TZID and its VTIMEZONE, an override), the way
Google does (UTC and X-WR-TIMEZONE, floating times) and a desk calendar's all-day event."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hubsense.bookings.ical import Window, expand_calendar
from hubsense.bookings.ical_cancel import cancel_occurrence, original_start
from hubsense.bookings.imports import Inventory

FIXTURES = Path(__file__).parent / "fixtures"
OUTLOOK_UID = "040000008200E00074C5B7101A82E00800000000D0E2A5B3F2A0DC01000000000000000010000000"
GOOGLE_UID = "7kq2m1c9v0p3l8s5d4e6f2g1h0@google.com"
INVENTORY = Inventory({"d-1": "hq", "d-2": "hq", "h-1": "hub-north"},
                      {"hq": "Europe/Stockholm", "hub-north": "Europe/Stockholm"})  # fmt: skip
WINDOW = Window(dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
ZONE = ZoneInfo("Europe/Stockholm")
NOW = dt.datetime(2026, 11, 5, 9, 0, tzinfo=dt.UTC)
NOTE = "Released by hubsense: no-show"


def ids(calendar: icalendar.Calendar, desk: str | None = None) -> list[str]:
    parsed = expand_calendar(calendar, INVENTORY, None, WINDOW, "t.ics", default_desk=desk)
    return sorted(row.booking_id for row in parsed.rows)


def cancelled_round_trip(name: str, booking_id: str, uid: str, desk: str | None = None) -> None:
    calendar = icalendar.Calendar.from_ical((FIXTURES / name).read_bytes())
    before = ids(calendar, desk)
    assert booking_id in before
    original = original_start(booking_id, uid)
    assert cancel_occurrence(calendar, uid, original, ZONE, NOTE, NOW)
    # Written out and read again, as the calendar server stores it and the next sync reads it.
    again = icalendar.Calendar.from_ical(calendar.to_ical())
    assert ids(again, desk) == [b for b in before if b != booking_id]
    noted = [e for e in again.walk("VEVENT") if NOTE in str(e.get("DESCRIPTION", ""))]
    assert [str(e["STATUS"]) for e in noted] == ["CANCELLED"]
    # Cancelling again finds the same component and changes nothing more.
    assert cancel_occurrence(again, uid, original, ZONE, NOTE, NOW)
    assert ids(again, desk) == [b for b in before if b != booking_id]
    assert str(noted[0]["DESCRIPTION"]).count(NOTE) == 1


def test_outlook_occurrence_gets_an_override_in_the_series_time_zone() -> None:
    booking = f"{OUTLOOK_UID}~20261105T070000Z"  # Thursday 5 Nov 08:00 W. Europe time
    cancelled_round_trip("outlook_recurring.ics", booking, OUTLOOK_UID)
    calendar = icalendar.Calendar.from_ical((FIXTURES / "outlook_recurring.ics").read_bytes())
    cancel_occurrence(calendar, OUTLOOK_UID, original_start(booking, OUTLOOK_UID), ZONE, NOTE, NOW)
    text = calendar.to_ical().decode().replace('"', "")  # TZID quoted or not: both RFC 5545
    assert "RECURRENCE-ID;TZID=W. Europe Standard Time:20261105T080000" in text
    assert "DTEND;TZID=W. Europe Standard Time:20261105T160000" in text


def test_outlook_moved_occurrence_cancels_its_existing_override() -> None:
    booking = f"{OUTLOOK_UID}~20261117T070000Z"  # moved from Tuesday to Wednesday
    calendar = icalendar.Calendar.from_ical((FIXTURES / "outlook_recurring.ics").read_bytes())
    count = len(calendar.walk("VEVENT"))
    cancelled_round_trip("outlook_recurring.ics", booking, OUTLOOK_UID)
    cancel_occurrence(calendar, OUTLOOK_UID, original_start(booking, OUTLOOK_UID), ZONE, NOTE, NOW)
    assert len(calendar.walk("VEVENT")) == count  # no new component: the override changed


def test_google_utc_series_and_floating_single_event() -> None:
    cancelled_round_trip("google_recurring.ics", f"{GOOGLE_UID}~20261109T070000Z", GOOGLE_UID)
    cancelled_round_trip("google_recurring.ics", "floating-1@google.com", "floating-1@google.com")


def test_desk_calendar_all_day_event() -> None:
    uid = "desk-h1-2026-11-05@nextcloud.example"
    cancelled_round_trip("desk_calendar.ics", uid, uid, desk="h-1")


def test_original_start_reads_what_occurrence_id_wrote() -> None:
    assert original_start("abc~20261105T070000Z", "abc") == dt.datetime(
        2026, 11, 5, 7, tzinfo=dt.UTC
    )
    assert original_start("abc~20261105", "abc") == dt.date(2026, 11, 5)
    assert original_start("abc", "abc") is None
    assert original_start("a~b", "a~b") is None  # a single event whose UID holds a ~
    long_uid = "x" * 400  # hashed into the id's head
    assert original_start(f"uid-{'0' * 40}~20261105", long_uid) is None


@pytest.mark.parametrize("uid", ["nobody@example", OUTLOOK_UID])
def test_an_event_not_in_the_object_is_reported_not_invented(uid: str) -> None:
    calendar = icalendar.Calendar.from_ical((FIXTURES / "google_recurring.ics").read_bytes())
    before = calendar.to_ical()
    assert not cancel_occurrence(calendar, uid, None, ZONE, NOTE, NOW)
    assert calendar.to_ical() == before
