"""The pair of private servers of one state directory, as `hubsense services` runs them.

`STATE_DIR/postgres/` and `STATE_DIR/mosquitto/` hold the servers;
`STATE_DIR/services.json` records their DSN and URL for the other commands.
Durable settings (fsync on): this is the developer's data, not a test's.
Must not print: the CLI does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubsense.devstack.mosquitto import MosquittoServer
from hubsense.devstack.postgres import PostgresServer

from hubsense.addresses import read_state, write_state
from hubsense.logs import get_logger

if TYPE_CHECKING:
    from hubsense.settings import Settings

log = get_logger(__name__)

DATABASE = "hubsense"


def servers(
    state_dir: Path,
    pg_port: int | None = None,
    mqtt_port: int | None = None,
    mosquitto_lines: list[str] | None = None,
) -> tuple[PostgresServer, MosquittoServer]:
    state_dir = Path(state_dir).absolute()
    return (
        PostgresServer(state_dir / "postgres", pg_port),
        MosquittoServer(state_dir / "mosquitto", mqtt_port, extra_lines=mosquitto_lines),
    )


def services_up(
    settings: Settings, inventory: Path | None = None, mqtt_tls_port: int | None = None
) -> dict[str, Any]:
    """Start both servers (idempotent), create and migrate the database, save services.json.

    With `inventory` (or when an earlier `up` had one) the broker is secured by
    `hubsense.devstack.secure_broker`: per-node passwords, the inventory's ACL, a TLS listener.
    """
    from hubsense.db.migrate import default_params, migrate

    state_dir = settings.services.state_dir
    postgres, mosquitto = servers(state_dir, settings.services.pg_port, settings.services.mqtt_port)
    secured = _secure_broker(state_dir, mosquitto, inventory, mqtt_tls_port)
    if secured is not None:
        postgres, mosquitto = servers(
            state_dir, settings.services.pg_port, mosquitto.port, secured[0]
        )
    postgres.start()
    _start_broker(mosquitto)
    postgres.create_database(DATABASE)
    dsn = postgres.dsn(DATABASE)
    applied = migrate(dsn, default_params(settings.timescale))
    broker: dict[str, Any] = {"port": mosquitto.port, "dir": str(mosquitto.directory)}
    state: dict[str, Any] = {
        "dsn": dsn,
        "mqtt_url": mosquitto.url,
        "postgres": {"port": postgres.port, "dir": str(postgres.directory)},
        "mosquitto": broker,
    }
    if secured is not None:
        state["mqtt_tls_url"] = f"mqtts://{mosquitto.host}:{secured[1]}"
        broker["tls_port"] = secured[1]
    path = write_state(state_dir, state)
    log.info("services_up", dsn=dsn, mqtt_url=mosquitto.url, state_file=str(path), migrated=applied)
    report = _report(postgres, mosquitto, known=True)
    if secured is not None:
        report["mosquitto"]["tls_url"] = state["mqtt_tls_url"]
    return report | {"migrated": applied, "state_file": str(path)}


def _secure_broker(
    state_dir: Path, mosquitto: MosquittoServer, inventory: Path | None, tls_port: int | None
) -> tuple[list[str], int] | None:
    """Broker config lines from the inventory; None keeps the anonymous dev broker."""
    if inventory is None and not (mosquitto.directory / "auth").exists():
        return None  # nothing to secure: do not import the provisioning code (cryptography)
    from hubsense.devstack.secure_broker import private_broker_lines

    if tls_port is None:
        tls_port = (read_state(state_dir) or {}).get("mosquitto", {}).get("tls_port")
    return private_broker_lines(state_dir, inventory, tls_port, mosquitto.port)


def _start_broker(mosquitto: MosquittoServer) -> None:
    """Start the broker; one already running with other config lines is restarted to apply them."""
    if mosquitto.is_running() and mosquitto.extra_lines:
        current = mosquitto.config_file.read_text().splitlines()
        if current[-len(mosquitto.extra_lines) :] != mosquitto.extra_lines:
            mosquitto.restart()
            return
        from hubsense.provision.broker import reload_broker

        reload_broker(mosquitto.pid_file)  # same listeners: re-read passwords and ACL
        return
    mosquitto.start()


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
