"""`hubsense bookings import|sync|list`: bookings from files and calendars (docs/bookings.md).

Parses options, loads settings and calls `importer.import_file`, `caldav_sync.sync_caldav`
or one query; nothing else. `--dry-run` does the whole write and rolls it back, so it shows
exactly what would be added, changed and cancelled.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from hubsense.errors import ConfigError

app = typer.Typer(
    help="Bookings from booking tools and calendars: import files, sync CalDAV, list.",
    no_args_is_help=True,
)

Dsn = Annotated[
    str | None,
    typer.Option("--dsn", help="PostgreSQL DSN (env HUBSENSE_DB__DSN; default: the dev one)."),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Show what would be added, changed and cancelled.")
]
From = Annotated[
    str | None,
    typer.Option("--from", help="Window start (date or ISO instant); default a year back."),
]
To = Annotated[
    str | None, typer.Option("--to", help="Window end (date or ISO instant); default +90 days.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
_EVERY = re.compile(r"^(\d+(?:\.\d+)?)([smh])$")


def _settings(dsn: str | None) -> Any:
    from hubsense.settings import load_settings

    overrides: dict[str, Any] = {"db": {"dsn": dsn}} if dsn else {}
    return load_settings(**overrides)


def _instant(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option}: not a date or ISO-8601 instant: {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _window(settings: Any, start: str | None, end: str | None) -> Any:
    from hubsense.bookings.ical import Window

    now = dt.datetime.now(dt.UTC)
    window = Window(
        _instant(start, "--from") or now - dt.timedelta(days=settings.bookings.window_back_days),
        _instant(end, "--to") or now + dt.timedelta(days=settings.bookings.window_ahead_days),
    )
    if window.end <= window.start:
        raise ConfigError("--to: must be after --from")
    return window


def _report(applied: Any, dry_run: bool, as_json: bool, head: str) -> None:
    summary = {
        "rows": applied.rows,
        "created": len(applied.created),
        "updated": len(applied.updated),
        "unchanged": applied.unchanged,
        "cancelled": len(applied.cancelled),
        "dry_run": dry_run,
    }
    if as_json:
        typer.echo(json.dumps({"what": head, **summary}))
        return
    verb = "would be" if dry_run else ""
    typer.echo(
        f"{head}: {summary['rows']} rows, {summary['created']} added, {summary['updated']}"
        f" changed, {summary['unchanged']} unchanged, {summary['cancelled']} cancelled"
        + (f" ({verb.strip()} written: dry run)" if dry_run else "")
    )
    if dry_run:
        for mark, ids in (("+", applied.created), ("~", applied.updated), ("-", applied.cancelled)):
            for booking_id in ids:
                typer.echo(f"{mark} {booking_id}")


@app.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(help="CSV or iCalendar file (told apart by its content).")
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Name of this export; a re-import of the same source replaces its bookings"
            " in the window and cancels what is gone. Default: the file's name.",
        ),
    ] = None,
    no_replace: Annotated[
        bool, typer.Option("--no-replace", help="Only add and change; cancel nothing.")
    ] = False,
    start: From = None,
    end: To = None,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    dsn: Dsn = None,
) -> None:
    """Import a booking tool's CSV or iCalendar export (recurrences expanded, idempotent).

    Example: `hubsense bookings import desks.ics --dry-run`
    """
    from hubsense.bookings.importer import ImportOptions, import_file, read_inventory, sniff
    from hubsense.bookings.imports import Limits

    from hubsense.addresses import resolve_dsn
    from hubsense.db.connect import connect
    from hubsense.errors import InputError

    settings = _settings(dsn)
    window = _window(settings, start, end)
    try:
        handle = file.open("rb")
    except OSError as error:
        raise InputError(f"{file}: {error.strerror}") from None
    with handle, connect(resolve_dsn(settings), autocommit=True) as conn:
        options = ImportOptions(
            name=file.name,
            window=window,
            limits=Limits.from_settings(settings.bookings),
            source=None if no_replace else f"file:{source or file.name}",
            dry_run=dry_run,
            max_bytes=settings.api.max_import_bytes,
        )
        applied = import_file(
            conn, handle, sniff(handle), read_inventory(conn), settings.privacy.salt(), options
        )
    _report(applied, dry_run, as_json, file.name)


def _every_s(text: str | None) -> float | None:
    if text is None:
        return None
    found = _EVERY.match(text.strip())
    if not found:
        raise ConfigError(f"--every: {text!r} is not like 30s, 5m or 1h")
    return float(found[1]) * {"s": 1, "m": 60, "h": 3600}[found[2]]


@app.command()
def sync(
    caldav: Annotated[
        str | None,
        typer.Option(
            "--caldav",
            help="A calendar collection's URL, or a principal's home (every calendar in it);"
            " default settings bookings.caldav_url.",
        ),
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="CalDAV user name.")] = None,
    password_file: Annotated[
        Path | None,
        typer.Option("--password-file", help="File holding the CalDAV password (one line)."),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option("--every", help="Sync again at this interval (30s, 5m, 1h) until stopped."),
    ] = None,
    start: From = None,
    end: To = None,
    dry_run: DryRun = False,
    as_json: AsJson = False,
    dsn: Dsn = None,
) -> None:
    """Sync bookings from CalDAV calendars, fetching only what changed since the last sync.

    Example: `hubsense bookings sync --caldav https://cloud.example/remote.php/dav/calendars/desks/ --user desks --password-file /etc/hubsense/caldav.pw --every 5m`
    """  # noqa: E501
    from hubsense.bookings.caldav_service import credentials_of, sync_every, sync_once

    from hubsense.addresses import resolve_dsn

    settings = _settings(dsn)
    url = caldav or settings.bookings.caldav_url
    if not url:
        raise ConfigError("--caldav: no calendar URL (nor settings bookings.caldav_url)")
    password = None
    if password_file is not None:
        try:
            password = password_file.read_text().strip()
        except OSError as error:
            raise ConfigError(f"--password-file: {password_file}: {error.strerror}") from None
    credentials = credentials_of(settings, user, password)
    interval = _every_s(every)
    _window(settings, start, end)  # a bad --from/--to fails now, in one line

    def report(results: list[Any]) -> None:
        for result in results:
            kind = "full" if result.full else "incremental"
            _report(
                result.applied,
                dry_run,
                as_json,
                f"{result.source} ({kind}, {result.fetched} fetched, {result.deleted} deleted)",
            )

    if interval is None:
        report(
            sync_once(
                settings, resolve_dsn(settings), url, credentials,
                _window(settings, start, end), dry_run,
            )
        )  # fmt: skip
        return
    # Until stopped (Ctrl-C, SIGTERM): a failed round is logged and tried again.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    sync_every(
        settings, stop, dsn=resolve_dsn(settings), url=url, credentials=credentials,
        every_s=interval, window=lambda: _window(settings, start, end), dry_run=dry_run,
        on_round=report,
    )  # fmt: skip


@app.command("list")
def list_command(
    site: Annotated[str | None, typer.Option("--site", help="Only this site.")] = None,
    start: From = None,
    end: To = None,
    cancelled: Annotated[
        bool, typer.Option("--cancelled", help="Include bookings cancelled at their source.")
    ] = False,
    as_json: AsJson = False,
    dsn: Dsn = None,
) -> None:
    """List bookings overlapping a window, by start (default: the import window).

    Example: `hubsense bookings list --site hq --from 2026-11-01 --to 2026-12-01`
    """
    from hubsense.addresses import resolve_dsn
    from hubsense.db.connect import connect

    settings = _settings(dsn)
    window = _window(settings, start, end)
    with connect(resolve_dsn(settings)) as conn:
        rows = conn.execute(
            """SELECT booking_id, site_id, desk_id, start_at, end_at, origin, source,
                      released_at, cancelled_at
                 FROM bookings
                WHERE (%(site)s::text IS NULL OR site_id = %(site)s)
                  AND start_at < %(to)s AND end_at > %(from)s
                  AND (%(cancelled)s OR cancelled_at IS NULL)
                ORDER BY start_at, booking_id""",
            {"site": site, "from": window.start, "to": window.end, "cancelled": cancelled},
        ).fetchall()
    keys = ("booking_id", "site", "desk", "start", "end", "origin", "source", "released_at",
            "cancelled_at")  # fmt: skip
    for row in rows:
        record = {
            k: v.isoformat() if isinstance(v, dt.datetime) else v
            for k, v in zip(keys, row, strict=True)
        }
        if as_json:
            typer.echo(json.dumps(record))
        else:
            state = "cancelled" if row[8] else "released" if row[7] else ""
            typer.echo(
                f"{row[3].isoformat()}  {row[4].isoformat()}  {row[1]:<12} {row[2]:<12}"
                f" {row[0]}  {state}".rstrip()
            )
