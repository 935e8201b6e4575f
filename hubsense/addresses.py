"""Where the servers are: the database DSN and the MQTT broker URL a command should use.

Settings first (`--dsn` / `HUBSENSE_DB__DSN`, `--mqtt-url` / `HUBSENSE_MQTT__URL`), else the
`STATE_DIR/services.json` that `hubsense services up` left. Only `cli.py` modules call the
`resolve_*` functions; entry points take a resolved address. Must not start or probe servers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubsense.errors import ConfigError

if TYPE_CHECKING:
    from hubsense.settings import Settings

STATE_FILE = "services.json"
NO_DATABASE = "no database: pass --dsn, set HUBSENSE_DB__DSN, or run `hubsense services up`"
NO_BROKER = "no MQTT broker: pass --mqtt-url, set HUBSENSE_MQTT__URL, or run `hubsense services up`"


def resolve_dsn(settings: Settings) -> str:
    """The DSN to use: settings.db.dsn, else the one `hubsense services up` saved."""
    if settings.db.dsn is not None:
        return settings.db.dsn.get_secret_value()
    state = read_state(settings.services.state_dir)
    if state and state.get("dsn"):
        return str(state["dsn"])
    raise ConfigError(f"{NO_DATABASE} (no DSN in {state_path(settings.services.state_dir)})")


def resolve_mqtt_url(settings: Settings) -> str:
    """The broker URL to use: settings.mqtt.url, else the one `hubsense services up` saved."""
    if settings.mqtt.url:
        return settings.mqtt.url
    state = read_state(settings.services.state_dir)
    if state and state.get("mqtt_url"):
        return str(state["mqtt_url"])
    raise ConfigError(f"{NO_BROKER} (no URL in {state_path(settings.services.state_dir)})")


def state_path(state_dir: Path) -> Path:
    return Path(state_dir) / STATE_FILE


def read_state(state_dir: Path) -> dict[str, Any] | None:
    """The saved state, or None when `services up` never ran there."""
    path = state_path(state_dir)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: unreadable: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a JSON object")
    return data


def write_state(state_dir: Path, state: dict[str, Any]) -> Path:
    """Write atomically, so a reader never sees half a file."""
    path = state_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path
