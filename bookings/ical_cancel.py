"""Mark one booking's occurrence `STATUS:CANCELLED` in its calendar object (docs/bookings.md).

Pure: a parsed VCALENDAR in, changed in place. A single event gets `STATUS:CANCELLED`; an
occurrence of a recurring series gets an override (a VEVENT with the series' UID and a
`RECURRENCE-ID` equal to the occurrence's original start, in the form of the series'
`DTSTART`), or the existing override is cancelled. Either way a note is added to
`DESCRIPTION` and `SEQUENCE` goes up, so calendar clients show the change. The next sync
then skips the occurrence; a released booking stays released (it is not cancelled).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from hubsense.bookings.ical import occurrence_id


def original_start(booking_id: str, uid: str) -> dt.datetime | dt.date | None:
    """The occurrence's original start written in its booking id, None for a single event.

    Booking ids of recurring occurrences are `<uid>~<YYYYMMDDTHHMMSSZ>` or `<uid>~<YYYYMMDD>`
    (`ical.occurrence_id`); `uid` tells a single event whose UID holds a `~` from those.
    """
    head = occurrence_id(uid, dt.date(2000, 1, 1), recurring=True).rsplit("~", 1)[0]
    if not booking_id.startswith(head + "~"):
        return None
    stamp = booking_id[len(head) + 1 :]
    try:
        if "T" in stamp:
            moment = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
            return moment.replace(tzinfo=dt.UTC)
        return dt.datetime.strptime(stamp, "%Y%m%d").date()
    except ValueError:
        return None


def _same_start(a: dt.date, b: dt.date, zone: ZoneInfo) -> bool:
    if isinstance(a, dt.datetime) != isinstance(b, dt.datetime):
        return False
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return _aware(a, zone) == _aware(b, zone)
    return a == b


def _aware(value: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _in_form_of(original: dt.date, master_start: dt.date, zone: ZoneInfo) -> dt.date:
    """`original` written as the series' DTSTART is: a date, zoned in its zone, or floating."""
    if not isinstance(original, dt.datetime) or not isinstance(master_start, dt.datetime):
        return original
    if master_start.tzinfo is None:
        return original.astimezone(zone).replace(tzinfo=None)
    return original.astimezone(master_start.tzinfo)


def _mark(event: Any, note: str, now: dt.datetime) -> None:
    event["STATUS"] = "CANCELLED"
    before = str(event.get("DESCRIPTION") or "").strip()
    if note not in before:
        if "DESCRIPTION" in event:
            del event["DESCRIPTION"]
        event.add("DESCRIPTION", f"{before}\n\n{note}" if before else note)
    sequence = int(event.get("SEQUENCE", 0) or 0)
    if "SEQUENCE" in event:
        del event["SEQUENCE"]
    event.add("SEQUENCE", sequence + 1)
    if "DTSTAMP" in event:
        del event["DTSTAMP"]
    event.add("DTSTAMP", now.astimezone(dt.UTC))


_NOT_COPIED = {"RRULE", "RDATE", "EXDATE", "EXRULE", "DTSTART", "DTEND", "DURATION",
               "RECURRENCE-ID", "SEQUENCE", "DTSTAMP", "STATUS"}  # fmt: skip


def cancel_occurrence(
    calendar: Any,
    uid: str,
    original: dt.date | None,
    zone: ZoneInfo,
    note: str,
    now: dt.datetime,
) -> bool:
    """Cancel the occurrence in `calendar`; False when the event (or its series) is not there.

    `original` is None for a single event, else the occurrence's original start
    (`original_start`); `zone` is the site's, for floating times.
    """
    import icalendar

    events = [e for e in calendar.walk("VEVENT") if str(e.get("UID", "")).strip() == uid]
    master = next((e for e in events if e.get("RECURRENCE-ID") is None), None)
    if original is None:
        if master is None:
            return False
        _mark(master, note, now)
        return True
    for override in events:
        if override.get("RECURRENCE-ID") is not None and _same_start(
            override.decoded("RECURRENCE-ID"), original, zone
        ):
            _mark(override, note, now)
            return True
    if master is None or master.get("DTSTART") is None:
        return False
    master_start = master.decoded("DTSTART")
    length = _length(master, master_start)
    start = _in_form_of(original, master_start, zone)
    override = icalendar.Event()
    for name, value in master.property_items(recursive=False)[1:-1]:
        if name.upper() not in _NOT_COPIED:
            override.add(name, value, encode=False)
    # The series' own TZID (Outlook's "W. Europe Standard Time" and its VTIMEZONE), not
    # the name icalendar maps it to, so the override reads as the series does.
    tzid = master["DTSTART"].params.get("TZID")
    params: dict[str, str] = {}
    if tzid and isinstance(start, dt.datetime):
        params["TZID"] = str(tzid)
    for name, value in (("DTSTART", start), ("DTEND", start + length), ("RECURRENCE-ID", start)):
        override.add(name, value, parameters=dict(params))
    override.add("SEQUENCE", int(master.get("SEQUENCE", 0) or 0))
    _mark(override, note, now)
    calendar.add_component(override)
    return True


def _length(master: Any, start: dt.date) -> dt.timedelta:
    if master.get("DTEND") is not None:
        end: dt.date = master.decoded("DTEND")
        return end - start
    if master.get("DURATION") is not None:
        duration: dt.timedelta = master.decoded("DURATION")
        return duration
    return dt.timedelta(days=1) if not isinstance(start, dt.datetime) else dt.timedelta(0)
