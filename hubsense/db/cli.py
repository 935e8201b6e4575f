"""`hubsense db migrate|status|backup|restore`: schema migrations, backups and restores.

Parses options, loads settings and calls hubsense.db.migrate or hubsense.db.backup; nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Database schema and backups: apply and list migrations, back up and restore.",
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
    from hubsense.addresses import resolve_dsn
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
    from hubsense.addresses import resolve_dsn
    from hubsense.db.migrate import status as migration_status

    for item in migration_status(resolve_dsn(_settings(dsn))):
        when = item.applied_at.isoformat(timespec="seconds") if item.applied_at else ""
        typer.echo(f"{item.state:<8} {item.name} {when}".rstrip())


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="Backup file to write (pg_dump custom format).")],
    dsn: Dsn = None,
) -> None:
    """Write the whole database to one file with pg_dump (custom format, compressed).

    Example: `hubsense db backup /var/backups/hubsense-$(date +%F).dump`
    """
    from hubsense.addresses import resolve_dsn
    from hubsense.db.backup import backup as run_backup

    result = run_backup(resolve_dsn(_settings(dsn)), file)
    typer.echo(
        f"wrote {result.path} ({result.size_bytes} bytes, {result.entries} entries, "
        f"{result.seconds:.1f} s)"
    )


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="Backup file written by `hubsense db backup`.")],
    dsn: Dsn = None,
    clean: Annotated[
        bool,
        typer.Option(
            "--clean",
            help="Replace what the target database holds (default: refuse a non-empty one).",
        ),
    ] = False,
) -> None:
    """Restore a backup into a database in one transaction (all or nothing).

    Example: `createdb hubsense_restored && hubsense db restore backup.dump --dsn postgresql://…/hubsense_restored`
    Run `hubsense db migrate` afterwards when the backup is older than this version.
    """
    from hubsense.addresses import resolve_dsn
    from hubsense.db.backup import restore as run_restore

    result = run_restore(resolve_dsn(_settings(dsn)), file, clean=clean)
    typer.echo(
        f"restored {result.path}: {result.tables} tables, {result.rows} rows "
        f"({result.seconds:.1f} s)"
    )


def _instant(text: str | None, option: str) -> Any:
    import datetime as dt

    from hubsense.errors import ConfigError

    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as error:
        raise ConfigError(f"{option} {text!r}: not an ISO 8601 instant ({error})") from error
    if value.tzinfo is None:
        raise ConfigError(f"{option} {text!r}: needs a UTC offset, e.g. 2026-03-01T00:00+01:00")
    return value


@app.command("rebuild-coverage")
def rebuild_coverage(
    node: Annotated[str | None, typer.Option("--node", help="Only this node.")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Window start, ISO 8601 with offset.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Window end, ISO 8601 with offset.")
    ] = None,
    dsn: Dsn = None,
) -> None:
    """Rebuild node coverage from the raw alive/stop rows, exactly as ingest keeps it.

    Example: `hubsense db rebuild-coverage --node pi-1 --from 2026-03-01T00:00Z`
    """
    from hubsense.addresses import resolve_dsn
    from hubsense.db.coverage import rebuild_coverage_dsn

    settings = _settings(dsn)
    written = rebuild_coverage_dsn(
        resolve_dsn(settings), node, _instant(start, "--from"), _instant(end, "--to")
    )
    typer.echo(f"coverage rebuilt: {written}")
