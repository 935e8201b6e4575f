"""`hubsense api run` and `hubsense api key create|list|revoke`.

Parses options, loads settings, calls one function. Imports only typer and the
standard library at module level (fastapi, uvicorn, psycopg load inside commands).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help=(
        "The HTTP API (OpenAPI at /docs), the hub pages at /hubs/{site} and the booking "
        "release watcher.\n\nExample: `hubsense api key create --role facilities` then "
        "`hubsense api run --port 8080`."
    ),
    no_args_is_help=True,
)
key_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
app.add_typer(key_app, name="key")

DsnOption = Annotated[
    str | None,
    typer.Option("--dsn", help="PostgreSQL DSN (default: settings, then `hubsense services`)."),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Settings YAML file (also HUBSENSE_CONFIG).")
]


def _settings(config: Path | None, dsn: str | None, mqtt_url: str | None = None) -> Any:
    from pydantic import SecretStr

    from hubsense.settings import load_settings

    settings = load_settings(config)
    updates: dict[str, Any] = {}
    if dsn is not None:
        updates["db"] = settings.db.model_copy(update={"dsn": SecretStr(dsn)})
    if mqtt_url is not None:
        updates["mqtt"] = settings.mqtt.model_copy(update={"url": mqtt_url})
    return settings.model_copy(update=updates) if updates else settings


@app.command()
def run(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8080).")] = None,
    dsn: DsnOption = None,
    mqtt_url: Annotated[
        str | None, typer.Option("--mqtt-url", help="Broker URL for release messages.")
    ] = None,
    no_watcher: Annotated[
        bool, typer.Option("--no-watcher", help="Do not run the booking release watcher here.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Serve the API and hub pages until SIGTERM or Ctrl-C.

    Example: `hubsense api run --host 0.0.0.0 --port 8080`
    """
    import signal
    import threading

    from hubsense.api.app import run_api

    from hubsense.addresses import resolve_dsn, resolve_mqtt_url

    settings = _settings(config, dsn, mqtt_url)
    with_watcher = settings.api.release_watcher and not no_watcher
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    run_api(
        settings,
        host or settings.api.host,
        settings.api.port if port is None else port,
        stop,
        dsn=resolve_dsn(settings),
        mqtt_url=resolve_mqtt_url(settings) if with_watcher else None,
        watcher=with_watcher,
    )


@app.command()
def openapi(config: ConfigOption = None) -> None:
    """Print the API's OpenAPI document (JSON); needs no database.

    Example: `hubsense api openapi > openapi.json`
    """
    from hubsense.api.app import openapi_schema

    typer.echo(json.dumps(openapi_schema(_settings(config, None)), indent=2))


@key_app.command("create")
def create(
    role: Annotated[str, typer.Option(help="facilities, hub_manager or booking_tool.")],
    site: Annotated[
        list[str] | None, typer.Option("--site", help="A hub manager's site (repeat for several).")
    ] = None,
    name: Annotated[str, typer.Option(help="Who or what uses the key (shown in lists).")] = "",
    dsn: DsnOption = None,
    config: ConfigOption = None,
) -> None:
    """Create an API key and print it once (only its hash is stored).

    Example: `hubsense api key create --role hub_manager --site solleftea-hub --name "Anna"`
    """
    from hubsense.api.keys import Role, create_key

    from hubsense.addresses import resolve_dsn
    from hubsense.db.connect import connect
    from hubsense.errors import ConfigError

    try:
        chosen = Role(role)
    except ValueError:
        raise ConfigError(f"--role {role!r}: one of {', '.join(r.value for r in Role)}") from None
    with connect(resolve_dsn(_settings(config, dsn)), autocommit=True) as conn:
        new = create_key(conn, chosen, tuple(site or ()), name)
    typer.echo(new.key)
    typer.echo(
        f"key id {new.key_id}, role {new.role.value}"
        + (f", sites {', '.join(new.sites)}" if new.sites else ""),
        err=True,
    )


@key_app.command("list")
def list_(dsn: DsnOption = None, config: ConfigOption = None) -> None:
    """List API keys as JSON lines (ids, roles, sites; never secrets)."""
    from hubsense.api.keys import list_keys

    from hubsense.addresses import resolve_dsn
    from hubsense.db.connect import connect

    with connect(resolve_dsn(_settings(config, dsn)), autocommit=True) as conn:
        for key in list_keys(conn):
            typer.echo(json.dumps(key))


@key_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (the 12 hex digits after hsk_).")],
    dsn: DsnOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke an API key at once."""
    from hubsense.api.keys import revoke_key

    from hubsense.addresses import resolve_dsn
    from hubsense.db.connect import connect
    from hubsense.errors import InputError

    with connect(resolve_dsn(_settings(config, dsn)), autocommit=True) as conn:
        if not revoke_key(conn, key_id):
            raise InputError(f"key {key_id}: no such active key")
    typer.echo(f"revoked {key_id}")
