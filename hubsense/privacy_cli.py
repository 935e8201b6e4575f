"""`hubsense privacy …`: answer a data-subject request about a booker (docs/api.md).

See docs/data-protection.md.

The booker's identifier is read from stdin, never from the command line, so it
does not end up in shell history or the process list. Imports only typer and
the standard library at module level.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

app = typer.Typer(
    help=(
        "Data-subject requests: find or erase the bookings linked to a booker's salted hash.\n\n"
        "Example: `echo anna.berg@region.se | hubsense privacy bookings`"
    ),
    no_args_is_help=True,
)

Dsn = Annotated[
    str | None,
    typer.Option("--dsn", help="PostgreSQL DSN (env HUBSENSE_DB__DSN; default: `services up`'s)."),
]


def _booker_hash(settings: Any) -> str:
    from hubsense.errors import ConfigError, InputError
    from hubsense.privacy import hash_booker

    salt = settings.privacy.booker_salt
    if salt is None or not salt.get_secret_value():
        raise ConfigError(
            "privacy.booker_salt: not set, so no booker was ever stored; "
            "hubsense holds no booking linked to this person"
        )
    booker = sys.stdin.readline().strip()
    if not booker:
        raise InputError("stdin: give the booker's identifier (as the booking tool sends it)")
    return hash_booker(booker, salt.get_secret_value())


def _settings(dsn: str | None) -> Any:
    from hubsense.settings import load_settings

    overrides: dict[str, Any] = {"db": {"dsn": dsn}} if dsn else {}
    return load_settings(**overrides)


@app.command()
def bookings(dsn: Dsn = None) -> None:
    """Print (JSON) every booking linked to the booker read from stdin.

    Example: `echo anna.berg@region.se | hubsense privacy bookings > answer.json`
    """
    from hubsense.addresses import resolve_dsn
    from hubsense.db.connect import connect
    from hubsense.db.subject_requests import find_bookings

    settings = _settings(dsn)
    booker_hash = _booker_hash(settings)
    with connect(resolve_dsn(settings)) as conn:
        rows = find_bookings(conn, booker_hash)
    typer.echo(json.dumps(rows, indent=2, default=str))


@app.command()
def erase(dsn: Dsn = None) -> None:
    """Unlink every booking from the booker read from stdin (the bookings stay, anonymous).

    Example: `echo anna.berg@region.se | hubsense privacy erase`
    """
    from hubsense.addresses import resolve_dsn
    from hubsense.db.connect import connect
    from hubsense.db.subject_requests import erase_booker

    settings = _settings(dsn)
    booker_hash = _booker_hash(settings)
    with connect(resolve_dsn(settings)) as conn:
        count = erase_booker(conn, booker_hash)
    typer.echo(f"erased the booker from {count} booking(s)")
