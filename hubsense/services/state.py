"""`STATE_DIR/services.json`: where `hubsense services up` left the DSN and the MQTT URL.

Other commands read it when no `--dsn`/`--mqtt-url` (or environment variable)
is given. Must not start or probe servers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hubsense.errors import ConfigError

STATE_FILE = "services.json"


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
