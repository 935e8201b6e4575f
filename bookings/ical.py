"""Expand iCalendar bookings as calendars really write them (SPEC §7, docs/bookings.md).

Read with icalendar (Windows zone names such as `W. Europe Standard Time` and custom
VTIMEZONE blocks become zones), Google's `X-WR-TIMEZONE` applied with x-wr-timezone,
recurrences (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides, cancelled occurrences)
expanded with recurring-ical-events over a window. One booking an occurrence:

- id: the UID for a one-off event, `UID~<original start, UTC>` for an occurrence of a
  series (`UID~YYYYMMDD` for all-day ones), so a moved occurrence keeps its id and a
  re-import is idempotent; a UID with '/' or too long for an id is replaced by its hash;
- desk: `X-HUBSENSE-DESK`, else LOCATION (the desk id, or the one desk id among its
  words), else the calendar's desk (a desk calendar named after its desk);
- site: `X-HUBSENSE-SITE` or the desk's site; floating times are the site's local time,
  a DATE is the whole local day; ORGANIZER is the booker (hashed);
- STATUS:CANCELLED events and occurrences are skipped (a replace then cancels them).

Refused, naming the UID and the property: an unreadable value (`DTSTART:notadate`,
`DURATION:P-garbage`, `RECURRENCE-ID:zzz`, a bad RRULE), a PERIOD start, a TZID that is
neither a VTIMEZONE of the file nor a known zone name, a series starting outside 2000-2099,
rules finer than hourly, more occurrences than the limits allow. Pure: no database, no
clock (the window is handed in).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from hubsense.bookings.imports import (
    EARLIEST,
    LATEST,
    MAX_ID_CHARS,
    Inventory,
    Limits,
    Parsed,
    check_row,
    hasher,
)
from hubsense.bookings.store import BookingRow

from hubsense.errors import InputError

_TIMED_PROPERTIES = ("DTSTART", "DTEND", "RECURRENCE-ID", "EXDATE", "RDATE", "DUE")
_TOO_FINE = ("SECONDLY", "MINUTELY")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DESK_WORD = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclass(frozen=True, slots=True)
class Window:
    """Occurrences starting in [start, end) are imported, and replaced on a re-import."""

    start: dt.datetime  # aware
    end: dt.datetime  # aware

    @classmethod
    def around(cls, now: dt.datetime, back_days: int = 365, ahead_days: int = 90) -> Window:
        return cls(now - dt.timedelta(days=back_days), now + dt.timedelta(days=ahead_days))


def read_calendar(data: bytes, name: str) -> Any:
    """The parsed VCALENDAR (InputError when it is not one)."""
    import icalendar

    try:
        return icalendar.Calendar.from_ical(data)
    except Exception as error:  # icalendar raises ValueError, KeyError, IndexError on junk
        raise InputError(f"{name}: not an iCalendar file: {_short(error)}") from None


def _short(error: object) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def _values(prop: Any) -> Iterator[Any]:
    """The date/datetime values of a property (EXDATE and RDATE hold lists, maybe repeated)."""
    for one in prop if isinstance(prop, list) else [prop]:
        if hasattr(one, "dts"):
            for item in one.dts:
                yield item, getattr(item, "params", None) or getattr(one, "params", {})
        else:
            yield one, getattr(one, "params", {})


def check_event(event: Any, where: str) -> None:
    """InputError for a VEVENT that cannot be read as a booking, naming the property."""
    for prop_name, message in getattr(event, "errors", []):
        raise InputError(f"{where}: {prop_name}: {_short(message)}")
    start = event.get("DTSTART")
    if start is None:
        raise InputError(f"{where}: DTSTART: missing")
    if str(start.params.get("VALUE", "")).upper() == "PERIOD" or not isinstance(
        getattr(start, "dt", None), dt.date
    ):
        raise InputError(f"{where}: DTSTART: must be a DATE or DATE-TIME (VALUE=PERIOD is not)")
    for prop_name in _TIMED_PROPERTIES:
        prop = event.get(prop_name)
        if prop is None:
            continue
        for value, params in _values(prop):
            tzid = params.get("TZID") if params else None
            moment = getattr(value, "dt", None)
            if tzid and isinstance(moment, dt.datetime) and moment.tzinfo is None:
                raise InputError(
                    f"{where}: {prop_name}: unknown time zone {str(tzid)!r}"
                    " (not a VTIMEZONE of the file, nor an IANA or Windows zone name)"
                )
    first = start.dt
    first_utc = first if isinstance(first, dt.datetime) else dt.datetime.combine(first, dt.time())
    if first_utc.tzinfo is None:
        first_utc = first_utc.replace(tzinfo=dt.UTC)
    if not (EARLIEST - dt.timedelta(days=1) <= first_utc <= LATEST):
        raise InputError(f"{where}: DTSTART: must lie in the years 2000 to 2099")
    for rule in (
        event.get("RRULE", []) if isinstance(event.get("RRULE"), list) else [event.get("RRULE")]
    ):
        if rule is not None and str(rule.get("FREQ", [""])[0]).upper() in _TOO_FINE:
            raise InputError(f"{where}: RRULE: FREQ finer than HOURLY is not a desk booking")


def _aware(value: dt.date, zone: ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return dt.datetime.combine(value, dt.time(0), tzinfo=zone)


def _safe_uid(uid: str) -> str:
    """The UID as the head of a booking id: kept when it fits, else its hash (stable)."""
    if "/" not in uid and len(uid) <= MAX_ID_CHARS - 20:
        return uid
    return "uid-" + hashlib.sha256(uid.encode()).hexdigest()[:40]


def occurrence_id(uid: str, original: dt.date, recurring: bool) -> str:
    if not recurring:
        return _safe_uid(uid)
    if isinstance(original, dt.datetime):
        stamp = original.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    else:
        stamp = original.strftime("%Y%m%d")
    return f"{_safe_uid(uid)}~{stamp}"


def _desk_of(event: Any, inventory: Inventory, default_desk: str | None, where: str) -> str:
    explicit = str(event.get("X-HUBSENSE-DESK") or "").strip()
    if explicit:
        return explicit
    location = str(event.get("LOCATION") or "").strip()
    if location in inventory.desk_site:
        return location
    if location:
        found = {w for w in _DESK_WORD.findall(location.lower()) if w in inventory.desk_site}
        if len(found) == 1:
            return found.pop()
        if not default_desk:
            raise InputError(f"{where}: LOCATION: unknown desk {location!r}")
    if default_desk:
        return default_desk
    raise InputError(f"{where}: LOCATION: the desk id is missing (or X-HUBSENSE-DESK)")


def expand_calendar(
    calendar: Any,
    inventory: Inventory,
    salt: str | None,
    window: Window,
    name: str = "bookings.ics",
    limits: Limits = Limits(),
    default_desk: str | None = None,
) -> Parsed:
    """The bookings of a parsed VCALENDAR's occurrences starting in the window."""
    import recurring_ical_events
    import x_wr_timezone

    recurring: set[str] = set()
    for event in calendar.walk("VEVENT"):
        uid = str(event.get("UID", "")).strip()
        where = f"{name}: UID {uid or '(none)'}"
        if not uid:
            raise InputError(f"{where}: UID: every event needs one (it is the booking id)")
        if _CONTROL.search(uid):
            raise InputError(f"{name}: UID {uid!r}: UID: control characters are not allowed")
        check_event(event, where)
        if any(event.get(p) is not None for p in ("RRULE", "RDATE", "RECURRENCE-ID")):
            recurring.add(uid)
    try:
        calendar = x_wr_timezone.to_standard(calendar)
    except Exception as error:
        raise InputError(f"{name}: X-WR-TIMEZONE: {_short(error)}") from None
    hashed = hasher(salt)
    rows: list[BookingRow] = []
    skipped = 0
    per_series: Counter[str] = Counter()
    # Naive bounds a day wider than the window: floating and zoned events compare with
    # them in their own time; the exact window is applied once the site's zone is known.
    span_start = window.start.astimezone(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=1)
    span_end = window.end.astimezone(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)
    query = recurring_ical_events.of(calendar)
    try:
        all_series = list(query.series)
    except Exception as error:
        raise InputError(f"{name}: RRULE: {_short(error)}") from None
    for series in all_series:
        uid = str(series.uid)
        where = f"{name}: UID {uid}"
        try:
            for occurrence in series.between(span_start, span_end):
                # The component the occurrence comes from: the series' master or an override.
                event = occurrence._adapter._component
                if str(event.get("STATUS", "")).upper() == "CANCELLED":
                    skipped += 1
                    continue
                desk = _desk_of(event, inventory, default_desk, where)
                site = str(event.get("X-HUBSENSE-SITE") or inventory.desk_site.get(desk, ""))
                zone = ZoneInfo(inventory.site_zone.get(site.strip(), "UTC"))
                start = _aware(occurrence.start, zone)
                if not (window.start <= start < window.end):
                    continue
                per_series[uid] += 1
                if per_series[uid] > limits.max_occurrences_per_series:
                    raise InputError(
                        f"{where}: RRULE: more than {limits.max_occurrences_per_series}"
                        " occurrences in the window (settings bookings.max_occurrences_per_series)"
                    )
                if len(rows) >= limits.max_rows:
                    raise InputError(
                        f"{where}: RRULE: more than {limits.max_rows} bookings in the file"
                        " (settings bookings.max_import_rows)"
                    )
                end = _aware(occurrence.end, zone)
                original: dt.date = occurrence.start
                if event.get("RECURRENCE-ID") is not None:
                    original = event.decoded("RECURRENCE-ID")
                original = _aware(original, zone) if isinstance(original, dt.datetime) else original
                organizer = event.get("ORGANIZER")
                booker = str(organizer).removeprefix("mailto:").removeprefix("MAILTO:")
                row = BookingRow(
                    occurrence_id(uid, original, uid in recurring),
                    site.strip(),
                    desk,
                    start,
                    end,
                    hashed(booker if organizer else None),
                    source_uid=uid,
                )
                rows.append(check_row(row, inventory, where, limits))
        except InputError:
            raise
        except Exception as error:  # recurring-ical-events' errors on a series it cannot expand
            raise InputError(f"{where}: RRULE: {_short(error)}") from None
    return Parsed(rows, skipped)


def parse_ical(
    data: bytes,
    inventory: Inventory,
    salt: str | None,
    window: Window,
    name: str = "bookings.ics",
    limits: Limits = Limits(),
) -> Parsed:
    """The bookings of an iCalendar file's occurrences starting in the window."""
    return expand_calendar(read_calendar(data, name), inventory, salt, window, name, limits)


def calendar_uids(calendar: Any) -> set[str]:
    return {str(event.get("UID", "")).strip() for event in calendar.walk("VEVENT")}
