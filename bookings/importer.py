"""Import one booking file (CSV or iCalendar): the code the CLI and the API share (SPEC §7).

The file is told apart by its content (`BEGIN:VCALENDAR` or a CSV header), parsed and
checked (`imports.py`, `ical.py`) and written with `store.apply_bookings` in one
transaction: a bad row anywhere writes nothing. CSV rows stream from the file into the
COPY, so a large file is never held whole. With a `source`, the import replaces that
source's bookings in the window: what the file no longer holds is cancelled. A dry run
does all of it and rolls back, so it reports exactly what a real run would do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Literal

from hubsense.bookings.ical import Window, parse_ical
from hubsense.bookings.imports import Inventory, Limits, iter_csv
from hubsense.bookings.store import Applied, Replace, apply_bookings

from hubsense.errors import InputError

if TYPE_CHECKING:
    import psycopg

Kind = Literal["csv", "ical"]
_SNIFF_BYTES = 4096


def read_inventory(conn: psycopg.Connection[Any]) -> Inventory:
    """Each live desk's site and each live site's zone."""
    desks = conn.execute("SELECT id, site_id FROM desks WHERE retired_at IS NULL").fetchall()
    sites = conn.execute("SELECT id, timezone FROM sites WHERE retired_at IS NULL").fetchall()
    return Inventory(dict(desks), dict(sites))


def kind_of(head: bytes) -> Kind:
    """iCalendar when the file starts with BEGIN:VCALENDAR (after a BOM or blank lines)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").upper()
    return "ical" if text.startswith(b"BEGIN:VCALENDAR") else "csv"


def sniff(stream: IO[bytes]) -> Kind:
    """The kind of a seekable stream, which is left at its start."""
    head = stream.read(_SNIFF_BYTES)
    stream.seek(0)
    return kind_of(head)


@dataclass(frozen=True, slots=True)
class ImportOptions:
    name: str  # shown in errors: "name:line: field: why"
    window: Window
    limits: Limits = field(default_factory=Limits)
    source: str | None = None  # with a source, a re-import replaces it in the window
    allowed_sites: Collection[str] | None = None  # None: every site
    dry_run: bool = False
    max_bytes: int | None = None  # iCalendar is parsed whole: refused above this


def import_file(
    conn: psycopg.Connection[Any],
    stream: IO[bytes],
    kind: Kind,
    inventory: Inventory,
    salt: str | None,
    options: ImportOptions,
) -> Applied:
    """Parse, check and write one file in one transaction (rolled back for a dry run)."""
    import psycopg

    replace = (
        Replace(options.source, options.window.start, options.window.end)
        if options.source is not None
        else None
    )
    with conn.transaction() as tx:
        if kind == "csv":
            rows = iter_csv(stream, inventory, salt, options.name, options.limits)
        else:
            data = (
                stream.read() if options.max_bytes is None else stream.read(options.max_bytes + 1)
            )
            if options.max_bytes is not None and len(data) > options.max_bytes:
                raise InputError(
                    f"{options.name}: file: larger than {options.max_bytes} bytes"
                    " (settings api.max_import_bytes)"
                )
            parsed = parse_ical(data, inventory, salt, options.window, options.name, options.limits)
            del data
            rows = iter(parsed.rows)
        applied = apply_bookings(
            conn,
            rows,
            origin=kind,
            source=options.source,
            replace=replace,
            allowed_sites=options.allowed_sites,
        )
        if options.dry_run:
            raise psycopg.Rollback(tx)
    return applied


def default_window(now: dt.datetime, back_days: int = 365, ahead_days: int = 90) -> Window:
    return Window.around(now, back_days, ahead_days)
