"""Parse booking files from booking tools: CSV and iCalendar (SPEC §7), idempotent by id.

CSV: a header row with `booking_id,site,desk,start,end` (any order) and an optional
`booker`; instants are ISO-8601 with an offset or `Z`. iCalendar (RFC 5545, read with
the `icalendar` library): one VEVENT a booking; UID is the booking id (with
`~RECURRENCE-ID` for a moved occurrence), the desk comes from `X-HUBSENSE-DESK` or
LOCATION, the site from `X-HUBSENSE-SITE` or the desk's site; floating times are the
site's local time, a DATE is the whole local day; ORGANIZER is the booker;
STATUS:CANCELLED events are skipped; recurring events (RRULE) are refused (export
occurrences). Errors name the line (CSV) or UID (iCalendar) and the field.

Pure apart from the inventory lookup handed in: no database, no clock. Must not keep
the booker in clear: it is hashed here with the salt handed in (or dropped without one).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hubsense.bookings.store import BookingRow

from hubsense.errors import InputError
from hubsense.privacy import hash_booker

REQUIRED = ("booking_id", "site", "desk", "start", "end")
MAX_ID_CHARS = 200


@dataclass(frozen=True, slots=True)
class Inventory:
    """What the parsers need to know: each live desk's site, each site's time zone."""

    desk_site: Mapping[str, str]
    site_zone: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Parsed:
    rows: list[BookingRow]
    skipped: int  # cancelled events


def _hasher(salt: str | None) -> Callable[[str | None], str | None]:
    def hashed(booker: str | None) -> str | None:
        if not booker or not booker.strip() or not salt:
            return None
        return hash_booker(booker, salt)

    return hashed


def check_row(row: BookingRow, inventory: Inventory, where: str) -> BookingRow:
    """The row, after checking the id, site, desk and times (InputError naming `where`)."""
    if not row.booking_id or len(row.booking_id) > MAX_ID_CHARS or "/" in row.booking_id:
        raise InputError(f"{where}: booking_id: 1 to {MAX_ID_CHARS} characters without '/'")
    if row.site_id not in inventory.site_zone:
        raise InputError(f"{where}: site: unknown site {row.site_id!r}")
    owner = inventory.desk_site.get(row.desk_id)
    if owner is None:
        raise InputError(f"{where}: desk: unknown desk {row.desk_id!r}")
    if owner != row.site_id:
        raise InputError(
            f"{where}: desk: {row.desk_id!r} belongs to site {owner!r}, not {row.site_id!r}"
        )
    if row.end_at <= row.start_at:
        raise InputError(f"{where}: end: must be after start")
    return row


def _instant(text: str, where: str, field: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{where}: {field}: not an ISO-8601 instant: {text!r}") from None
    if value.tzinfo is None:
        raise InputError(f"{where}: {field}: {text!r} has no offset (add Z or +01:00)")
    return value


def parse_csv(
    data: bytes, inventory: Inventory, salt: str | None, name: str = "bookings.csv"
) -> Parsed:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [column for column in REQUIRED if column not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{name}:1: header: missing column(s) {', '.join(missing)}")
    hashed = _hasher(salt)
    rows: list[BookingRow] = []
    for record in reader:
        where = f"{name}:{reader.line_num}"
        if None in record or any(record[c] is None for c in REQUIRED):
            raise InputError(f"{where}: row: {len(REQUIRED)}+ fields expected, the count differs")
        row = BookingRow(
            booking_id=record["booking_id"].strip(),
            site_id=record["site"].strip(),
            desk_id=record["desk"].strip(),
            start_at=_instant(record["start"], where, "start"),
            end_at=_instant(record["end"], where, "end"),
            booker_hash=hashed(record.get("booker")),
        )
        rows.append(check_row(row, inventory, where))
    return Parsed(rows, 0)


def _ical_instant(value: object, zone: ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), tzinfo=zone)
    raise TypeError(type(value).__name__)


def parse_ical(
    data: bytes, inventory: Inventory, salt: str | None, name: str = "bookings.ics"
) -> Parsed:
    import icalendar

    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as error:
        raise InputError(f"{name}: not an iCalendar file: {error}") from None
    hashed = _hasher(salt)
    rows: list[BookingRow] = []
    skipped = 0
    for event in calendar.walk("VEVENT"):
        uid = str(event.get("UID", "")).strip()
        where = f"{name}: UID {uid or '(none)'}"
        if not uid:
            raise InputError(f"{where}: UID: every event needs one (it is the booking id)")
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            skipped += 1
            continue
        if event.get("RRULE") is not None:
            raise InputError(
                f"{where}: RRULE: recurring events are not supported; export occurrences"
            )
        booking_id = uid
        if event.get("RECURRENCE-ID") is not None:
            booking_id = f"{uid}~{event.decoded('RECURRENCE-ID').isoformat()}"
        desk = str(event.get("X-HUBSENSE-DESK") or event.get("LOCATION") or "").strip()
        if not desk:
            raise InputError(f"{where}: LOCATION: the desk id is missing (or X-HUBSENSE-DESK)")
        site = str(event.get("X-HUBSENSE-SITE") or inventory.desk_site.get(desk, "")).strip()
        if desk not in inventory.desk_site:
            raise InputError(f"{where}: LOCATION: unknown desk {desk!r}")
        zone = ZoneInfo(inventory.site_zone.get(site, "UTC"))
        if event.get("DTSTART") is None:
            raise InputError(f"{where}: DTSTART: missing")
        start_value = event.decoded("DTSTART")
        start = _ical_instant(start_value, zone)
        if event.get("DTEND") is not None:
            end = _ical_instant(event.decoded("DTEND"), zone)
        elif event.get("DURATION") is not None:
            end = start + event.decoded("DURATION")
        elif not isinstance(start_value, dt.datetime):
            end = _ical_instant(start_value + dt.timedelta(days=1), zone)
        else:
            raise InputError(f"{where}: DTEND: missing (and no DURATION)")
        organizer = event.get("ORGANIZER")
        booker = (
            str(organizer).removeprefix("mailto:").removeprefix("MAILTO:") if organizer else None
        )
        row = BookingRow(booking_id, site, desk, start, end, hashed(booker))
        rows.append(check_row(row, inventory, where))
    return Parsed(rows, skipped)
