"""Parse booking files from booking tools: the checks every row passes, and CSV (SPEC §7).

CSV: a header row with `booking_id,site,desk,start,end` (any order) and an optional
`booker`; instants are ISO-8601 with an offset or `Z`. The file is read as a stream, row
by row, so a large file never sits in memory as a whole. iCalendar lives in `ical.py`.
Errors name the line (CSV) or UID (iCalendar) and the field: `file:line: field: why`.

Every path (CSV, iCalendar, CalDAV, REST) checks rows with `check_row`: ids of 1 to 200
characters without '/' or control characters, a live desk of the named site, instants in
2000-2099 and a duration of at most `Limits.max_duration`.

Pure apart from the inventory lookup handed in: no database, no clock. Must not keep
the booker in clear: it is hashed here with the salt handed in (or dropped without one).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO

from hubsense.bookings.store import BookingRow

from hubsense.errors import InputError
from hubsense.privacy import hash_booker
from hubsense.settings import BookingSettings

REQUIRED = ("booking_id", "site", "desk", "start", "end")
MAX_ID_CHARS = 200
# The REST model's range (api/models.py) and the database's CHECK (0007_bookings_sources.sql).
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
_BAD_ID_CHARS = re.compile(r"[/\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True, slots=True)
class Inventory:
    """What the parsers need to know: each live desk's site, each site's time zone."""

    desk_site: Mapping[str, str]
    site_zone: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one import may hold; each error names the setting that sets it."""

    max_rows: int = 200_000
    max_occurrences_per_series: int = 2_000
    max_duration: dt.timedelta = dt.timedelta(hours=24)

    @classmethod
    def from_settings(cls, settings: BookingSettings) -> Limits:
        return cls(
            max_rows=settings.max_import_rows,
            max_occurrences_per_series=settings.max_occurrences_per_series,
            max_duration=dt.timedelta(hours=settings.max_duration_h),
        )


@dataclass(frozen=True, slots=True)
class Parsed:
    rows: list[BookingRow]
    skipped: int  # cancelled events or occurrences


def hasher(salt: str | None) -> Callable[[str | None], str | None]:
    def hashed(booker: str | None) -> str | None:
        if not booker or not booker.strip() or not salt:
            return None
        return hash_booker(booker, salt)

    return hashed


def check_id(booking_id: str, where: str, field: str = "booking_id") -> str:
    if not booking_id or len(booking_id) > MAX_ID_CHARS or _BAD_ID_CHARS.search(booking_id):
        raise InputError(
            f"{where}: {field}: 1 to {MAX_ID_CHARS} characters without '/' or control characters"
        )
    return booking_id


def check_row(
    row: BookingRow, inventory: Inventory, where: str, limits: Limits = Limits()
) -> BookingRow:
    """The row, after checking the id, site, desk and times (InputError naming `where`)."""
    check_id(row.booking_id, where)
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
    if not (row.start_at >= EARLIEST and row.end_at <= LATEST):
        raise InputError(f"{where}: start: start and end must lie in the years 2000 to 2099")
    if row.end_at - row.start_at > limits.max_duration:
        hours = limits.max_duration.total_seconds() / 3600
        raise InputError(
            f"{where}: end: longer than {hours:g} h (settings bookings.max_duration_h)"
        )
    return row


def _instant(text: str, where: str, field: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise InputError(f"{where}: {field}: not an ISO-8601 instant: {shown!r}") from None
    if value.tzinfo is None:
        raise InputError(f"{where}: {field}: {text!r} has no offset (add Z or +01:00)")
    return value


def _text(record: dict[str, str], column: str, where: str) -> str:
    value = record[column].strip()
    if _CONTROL.search(value):
        raise InputError(f"{where}: {column}: control characters are not allowed")
    return value


def iter_csv(
    stream: IO[bytes],
    inventory: Inventory,
    salt: str | None,
    name: str = "bookings.csv",
    limits: Limits = Limits(),
) -> Iterator[BookingRow]:
    """The file's rows, checked, one at a time (InputError at the first bad one)."""
    # surrogateescape: bytes that are not UTF-8 survive decoding (which runs in chunks) so
    # the row holding them can be named.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.DictReader(text)
    line = 1
    try:
        fieldnames = reader.fieldnames or []
        missing = [column for column in REQUIRED if column not in fieldnames]
        if missing:
            raise InputError(f"{name}:1: header: missing column(s) {', '.join(missing)}")
        hashed = hasher(salt)
        for count, record in enumerate(reader, start=1):
            line = reader.line_num
            where = f"{name}:{line}"
            values = [v for v in record.values() if isinstance(v, str)]
            if any("\x00" in v for v in values):
                raise InputError(f"{where}: row: contains a NUL byte")
            if any(_NOT_UTF8.search(v) for v in values):
                raise InputError(f"{where}: row: not UTF-8 text")
            if None in record or any(record[c] is None for c in REQUIRED):
                raise InputError(
                    f"{where}: row: {len(REQUIRED)}+ fields expected, the count differs"
                )
            if count > limits.max_rows:
                raise InputError(
                    f"{where}: row: more than {limits.max_rows} rows"
                    " (settings bookings.max_import_rows)"
                )
            row = BookingRow(
                booking_id=check_id(record["booking_id"].strip(), where),
                site_id=_text(record, "site", where),
                desk_id=_text(record, "desk", where),
                start_at=_instant(record["start"], where, "start"),
                end_at=_instant(record["end"], where, "end"),
                booker_hash=hashed(record.get("booker")),
            )
            yield check_row(row, inventory, where, limits)
    except csv.Error as error:
        # "field larger than field limit (131072)", an unclosed quote: in the row after the
        # last one read.
        raise InputError(f"{name}:{line + 1}: row: {error}") from None
    finally:
        text.detach()  # the caller owns the stream


def parse_csv(
    data: bytes,
    inventory: Inventory,
    salt: str | None,
    name: str = "bookings.csv",
    limits: Limits = Limits(),
) -> Parsed:
    return Parsed(list(iter_csv(io.BytesIO(data), inventory, salt, name, limits)), 0)
