"""`hubsense report`: write the management report for a period as one HTML file.

Parses options, loads settings and calls hubsense.report (figures → page); nothing else.
numpy, psycopg and matplotlib are imported inside the command.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from hubsense.errors import ConfigError


def _date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise ConfigError(f"{option} {text}: not a date (YYYY-MM-DD)") from error


def command(
    from_: str = typer.Option(..., "--from", help="First day, site-local (YYYY-MM-DD)."),
    to: str = typer.Option(..., "--to", help="Day after the last one, site-local (exclusive)."),
    site: list[str] | None = typer.Option(
        None, "--site", help="Only this site (repeat for several; default: every site)."
    ),
    out: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write."),
    dsn: str | None = typer.Option(
        None,
        "--dsn",
        help="PostgreSQL DSN (env HUBSENSE_DB__DSN; default: `hubsense services up`'s).",
    ),
    percentile: int = typer.Option(
        95, "--percentile", min=1, max=100, help="Percentile of daily peaks that sets desks needed."
    ),
    noshow_min_s: int = typer.Option(
        900, "--noshow-min-s", min=0, help="Occupied less than this (or half the booking): no-show."
    ),
    from_events: bool = typer.Option(
        False, "--from-events", help="Compute from the raw events even where rollups exist."
    ),
) -> None:
    """Write a self-contained HTML report: desks needed, surplus, area, use, no-shows, hubs.

    Example: `hubsense report --from 2026-03-02 --to 2026-04-01 --out march.html`
    """
    from hubsense.report.document import write_report

    from hubsense.addresses import resolve_dsn
    from hubsense.settings import load_settings

    start, end = _date(from_, "--from"), _date(to, "--to")
    if not out.parent.is_dir():
        # A typo in the folder must not leave a fresh /nonexistent/dir behind.
        raise ConfigError(f"--out {out}: folder {out.parent} does not exist")
    if end <= start:
        raise ConfigError(f"--to {to}: must be after --from {from_}")
    overrides: dict[str, Any] = {"db": {"dsn": dsn}} if dsn else {}
    settings = load_settings(**overrides)
    written = write_report(
        resolve_dsn(settings), start, end, out, site or None, percentile, noshow_min_s,
        use_rollups=not from_events,
    )  # fmt: skip
    n = len(written.sites)
    typer.echo(f"wrote {out}: {n} site{'s' if n != 1 else ''}, {written.size_bytes} bytes")
