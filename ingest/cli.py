"""`hubsense ingest run`: MQTT → PostgreSQL, exactly once, with dead letters.

Parses options, loads settings, installs SIGTERM/SIGINT handlers and calls
`hubsense.ingest.service.run`; nothing else. Imports only typer and the
standard library at module level (paho and psycopg load inside the command).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help=(
        "Store the nodes' MQTT events in PostgreSQL: shared subscription, persistent "
        "session, manual acks after commit, dedupe by (node, seq), dead letters.\n\n"
        "Example: `hubsense ingest run --worker-id ingest-1` (start more workers with "
        "other ids to split the load)."
    ),
    no_args_is_help=True,
)


# Options both commands share, declared once.
Dsn = Annotated[
    str | None,
    typer.Option("--dsn", help="PostgreSQL DSN (default: settings, then `hubsense services`)."),
]
MqttUrlOption = Annotated[
    str | None,
    typer.Option("--mqtt-url", help="Broker URL mqtt://[user[:pass]@]host[:port] or mqtts://…"),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="Settings YAML file (also HUBSENSE_CONFIG)."),
]


@app.command()
def run(
    dsn: Dsn = None,
    mqtt_url: MqttUrlOption = None,
    worker_id: Annotated[
        str | None,
        typer.Option(
            "--worker-id",
            help="Stable id of this worker; client id hubsense-ingest-ID resumes its own session.",
        ),
    ] = None,
    config: ConfigFile = None,
) -> None:
    """Run an ingest worker until SIGTERM or Ctrl-C; it commits and acks before exiting.

    Example: `hubsense ingest run --dsn postgresql://ingest@db/hubsense --mqtt-url mqtt://broker`
    """
    import signal
    import threading

    from hubsense.ingest.service import run as run_ingest

    from hubsense.settings import load_settings

    settings = _with_options(load_settings(config), dsn, mqtt_url, worker_id)
    stop = threading.Event()
    dsn, url = _addresses(settings)

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    run_ingest(settings, stop, dsn=dsn, mqtt_url=url)


@app.command()
def retire(
    worker_id: Annotated[
        str, typer.Option("--worker-id", help="The worker id to retire for good.")
    ],
    dsn: Dsn = None,
    mqtt_url: MqttUrlOption = None,
    idle_s: Annotated[
        float, typer.Option("--idle-s", min=0.5, help="Finish after this many quiet seconds.")
    ] = 5.0,
    config: ConfigFile = None,
) -> None:
    """Retire a worker id: store what its broker session still holds, then end the session.

    The broker keeps giving a stopped worker its share of the shared subscription;
    run this for a worker that will not come back (see docs/ingest.md).

    Example: `hubsense ingest retire --worker-id ingest-3`
    """
    import json

    from hubsense.ingest.service import run as run_ingest

    from hubsense.settings import load_settings

    settings = _with_options(load_settings(config), dsn, mqtt_url, worker_id)
    dsn, url = _addresses(settings)
    stats = run_ingest(settings, retire_idle_s=idle_s, dsn=dsn, mqtt_url=url)
    typer.echo(
        json.dumps(
            {
                "worker_id": worker_id,
                "messages": stats.messages,
                "events_inserted": stats.events_inserted,
                "dead_letters": stats.dead_letters,
            }
        )
    )


def _with_options(settings: Any, dsn: str | None, url: str | None, worker: str | None) -> Any:
    """Apply CLI options over the loaded settings (they win over env and file)."""
    from pydantic import SecretStr

    updates: dict[str, Any] = {}
    if dsn is not None:
        updates["db"] = settings.db.model_copy(update={"dsn": SecretStr(dsn)})
    if url is not None:
        updates["mqtt"] = settings.mqtt.model_copy(update={"url": url})
    if worker is not None:
        import re

        from hubsense.errors import ConfigError
        from hubsense.wire import ID_PATTERN

        if not re.match(ID_PATTERN, worker):
            raise ConfigError(f"--worker-id {worker!r}: must match {ID_PATTERN}")
        updates["ingest"] = settings.ingest.model_copy(update={"worker_id": worker})
    return settings.model_copy(update=updates) if updates else settings


def _addresses(settings: Any) -> tuple[str, str]:
    """Where the database and the broker are, resolved once, here (STYLE: only CLIs look)."""
    from hubsense.addresses import resolve_dsn, resolve_mqtt_url

    return resolve_dsn(settings), resolve_mqtt_url(settings)
