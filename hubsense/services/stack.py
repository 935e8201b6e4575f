"""The pair of private servers of one state directory, as `hubsense services` runs them.

`STATE_DIR/postgres/` and `STATE_DIR/mosquitto/` hold the servers;
`STATE_DIR/services.json` records their DSN and URL for the other commands.
Durable settings (fsync on): this is the developer's data, not a test's.
Must not print: the CLI does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubsense.logs import get_logger
from hubsense.services.mosquitto import MosquittoServer
from hubsense.services.postgres import PostgresServer
from hubsense.services.state import read_state, write_state

if TYPE_CHECKING:
    from hubsense.settings import Settings

log = get_logger(__name__)

DATABASE = "hubsense"


def servers(
    state_dir: Path, pg_port: int | None = None, mqtt_port: int | None = None
) -> tuple[PostgresServer, MosquittoServer]:
    state_dir = Path(state_dir).absolute()
    return (
        PostgresServer(state_dir / "postgres", pg_port),
        MosquittoServer(state_dir / "mosquitto", mqtt_port),
    )


def services_up(settings: Settings) -> dict[str, Any]:
    """Start both servers (idempotent), create and migrate the database, save services.json."""
    from hubsense.db.migrate import default_params, migrate

    state_dir = settings.services.state_dir
    postgres, mosquitto = servers(state_dir, settings.services.pg_port, settings.services.mqtt_port)
    postgres.start()
    mosquitto.start()
    postgres.create_database(DATABASE)
    dsn = postgres.dsn(DATABASE)
    applied = migrate(dsn, default_params(settings.timescale))
    state = {
        "dsn": dsn,
        "mqtt_url": mosquitto.url,
        "postgres": {"port": postgres.port, "dir": str(postgres.directory)},
        "mosquitto": {"port": mosquitto.port, "dir": str(mosquitto.directory)},
    }
    path = write_state(state_dir, state)
    log.info("services_up", dsn=dsn, mqtt_url=mosquitto.url, state_file=str(path), migrated=applied)
    return _report(postgres, mosquitto, known=True) | {"migrated": applied, "state_file": str(path)}


def services_down(settings: Settings) -> dict[str, Any]:
    """Stop both servers; their data stays for the next `up`."""
    known = read_state(settings.services.state_dir) is not None
    postgres, mosquitto = _known_servers(settings.services.state_dir)
    mosquitto.stop()
    postgres.stop()
    log.info("services_down", state_dir=str(settings.services.state_dir))
    return _report(postgres, mosquitto, known=known)


def services_status(settings: Settings) -> dict[str, Any]:
    known = read_state(settings.services.state_dir) is not None
    return _report(*_known_servers(settings.services.state_dir), known=known)


def _known_servers(state_dir: Path) -> tuple[PostgresServer, MosquittoServer]:
    # Use the ports recorded at `up`, so status names the right DSN/URL even when stopped.
    state = read_state(state_dir) or {}
    return servers(
        state_dir,
        state.get("postgres", {}).get("port"),
        state.get("mosquitto", {}).get("port"),
    )


def _report(postgres: PostgresServer, mosquitto: MosquittoServer, *, known: bool) -> dict[str, Any]:
    """Running flags with DSN/URL; None where `up` never ran here (no port to name)."""
    pg_running, mq_running = postgres.is_running(), mosquitto.is_running()
    return {
        "postgres": {
            "running": pg_running,
            "dsn": postgres.dsn(DATABASE) if known or pg_running else None,
        },
        "mosquitto": {"running": mq_running, "url": mosquitto.url if known or mq_running else None},
    }
