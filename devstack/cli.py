"""`hubsense services up|down|status`: the private PostgreSQL and Mosquitto of a state directory.

Parses options, loads settings and calls hubsense.devstack.stack; nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help=(
        "Start, stop and show a private PostgreSQL and Mosquitto for development "
        "(127.0.0.1 only, no passwords).\n\n"
        "Example: `hubsense services up` then `hubsense ingest run` finds them through "
        "`.hubsense/services.json`. Production points --dsn/--mqtt-url at its own servers."
    ),
    no_args_is_help=True,
)

StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Directory for the servers' data, logs and services.json "
        "(default .hubsense; env HUBSENSE_SERVICES__STATE_DIR).",
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def _settings(
    state_dir: Path | None, pg_port: int | None = None, mqtt_port: int | None = None
) -> Any:
    from hubsense.settings import load_settings

    services = {
        key: value
        for key, value in {
            "state_dir": state_dir,
            "pg_port": pg_port,
            "mqtt_port": mqtt_port,
        }.items()
        if value is not None
    }
    settings = load_settings()
    if services:
        merged = settings.services.model_copy(update=services)
        settings = settings.model_copy(update={"services": merged})
    return settings


def _print(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    for name in ("postgres", "mosquitto"):
        part = info[name]
        where = part.get("dsn") or part.get("url") or ""
        typer.echo(f"{name:<10} {'running' if part['running'] else 'stopped':<8} {where}")


@app.command()
def up(
    state_dir: StateDir = None,
    pg_port: Annotated[
        int | None,
        typer.Option("--pg-port", help="PostgreSQL port (default: the last one, or a free one)."),
    ] = None,
    mqtt_port: Annotated[
        int | None,
        typer.Option("--mqtt-port", help="Mosquitto port (default: the last one, or a free one)."),
    ] = None,
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            "-i",
            help="Secure the broker for this inventory: per-node passwords, ACL, TLS listener "
            "(see `hubsense provision`). Without it the broker is anonymous, loopback only.",
        ),
    ] = None,
    mqtt_tls_port: Annotated[
        int | None,
        typer.Option(
            "--mqtt-tls-port",
            help="TLS port with --inventory (default: the last one, or a free one).",
        ),
    ] = None,
    as_json: JsonOut = False,
) -> None:
    """Start PostgreSQL and Mosquitto, create database `hubsense` and migrate it.

    Idempotent: servers already running are left alone. Example: `hubsense services up --json`
    """
    from hubsense.devstack.stack import services_up

    _print(services_up(_settings(state_dir, pg_port, mqtt_port), inventory, mqtt_tls_port), as_json)


@app.command()
def down(state_dir: StateDir = None, as_json: JsonOut = False) -> None:
    """Stop the PostgreSQL and Mosquitto of the state directory (their data is kept).

    Example: `hubsense services down`
    """
    from hubsense.devstack.stack import services_down

    _print(services_down(_settings(state_dir)), as_json)


@app.command()
def status(state_dir: StateDir = None, as_json: JsonOut = False) -> None:
    """Show whether each server is running, with its DSN or URL.

    Example: `hubsense services status --json`
    """
    from hubsense.devstack.stack import services_status

    _print(services_status(_settings(state_dir)), as_json)
