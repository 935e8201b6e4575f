"""`hubsense db migrate|status`: apply and list the schema migrations.

Parses options, loads settings and calls hubsense.db.migrate; nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Database schema: apply pending migrations, list applied and pending ones.",
    no_args_is_help=True,
)

Dsn = Annotated[
    str | None,
    typer.Option(
        "--dsn",
        help="PostgreSQL DSN (env HUBSENSE_DB__DSN; default: the one `hubsense services up` saved).",  # noqa: E501
    ),
]


def _settings(dsn: str | None) -> Any:
    from hubsense.settings import load_settings

    overrides: dict[str, Any] = {"db": {"dsn": dsn}} if dsn else {}
    return load_settings(**overrides)


@app.command()
def migrate(dsn: Dsn = None) -> None:
    """Apply the pending migrations and print their names (or "up to date").

    Example: `hubsense db migrate --dsn postgresql://postgres@127.0.0.1:5432/hubsense`
    """
    from hubsense.db.connect import resolve_dsn
    from hubsense.db.migrate import default_params
    from hubsense.db.migrate import migrate as run_migrations

    settings = _settings(dsn)
    applied = run_migrations(resolve_dsn(settings), default_params(settings.timescale))
    for name in applied:
        typer.echo(f"applied {name}")
    if not applied:
        typer.echo("up to date")


@app.command()
def status(dsn: Dsn = None) -> None:
    """List every migration as applied, pending or changed (edited after it was applied).

    Example: `hubsense db status`
    """
    from hubsense.db.connect import resolve_dsn
    from hubsense.db.migrate import status as migration_status

    for item in migration_status(resolve_dsn(_settings(dsn))):
        when = item.applied_at.isoformat(timespec="seconds") if item.applied_at else ""
        typer.echo(f"{item.state:<8} {item.name} {when}".rstrip())
