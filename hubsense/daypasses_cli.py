"""`hubsense daypasses import FILE`: store day passes bought at co-working sites.

Parses options and calls hubsense.daypasses; nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hubsense.errors import ConfigError

app = typer.Typer(
    help="Day passes bought at co-working sites (counts, no names).", no_args_is_help=True
)

Dsn = Annotated[
    str | None,
    typer.Option("--dsn", help="PostgreSQL DSN (env HUBSENSE_DB__DSN; default: `services up`'s)."),
]


def _settings(dsn: str | None) -> Any:
    from hubsense.settings import load_settings

    overrides: dict[str, Any] = {"db": {"dsn": dsn}} if dsn else {}
    return load_settings(**overrides)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV with the header pass_id,site,date.")],
    dsn: Dsn = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Add (or replace, by pass_id) every pass of FILE; nothing is written if a row is bad.

    Example: `hubsense daypasses import passes.csv`
    """
    from hubsense.addresses import resolve_dsn
    from hubsense.daypasses import read_csv, site_kinds, store
    from hubsense.db.connect import connect

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{file}: {error.strerror or error}") from None
    with connect(resolve_dsn(_settings(dsn))) as conn:
        passes = read_csv(text, str(file), site_kinds(conn))
        counts = store(conn, passes)
    if as_json:
        typer.echo(json.dumps(counts))
    else:
        typer.echo(f"day passes: {counts['added']} added, {counts['replaced']} already there")
