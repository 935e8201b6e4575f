"""Private PostgreSQL and Mosquitto for development, tests and the demo (`hubsense services`).

`resolve_mqtt_url` is how every command finds its broker: `--mqtt-url` /
`HUBSENSE_MQTT__URL` first, else the URL `hubsense services up` saved in the
state directory. Must not import paho, psycopg or start anything at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubsense.errors import ConfigError
from hubsense.services.state import read_state, state_path

if TYPE_CHECKING:
    from hubsense.settings import Settings

NO_BROKER = "no MQTT broker: pass --mqtt-url, set HUBSENSE_MQTT__URL, or run `hubsense services up`"


def resolve_mqtt_url(settings: Settings) -> str:
    """The broker URL to use: settings.mqtt.url, else the one `hubsense services up` saved."""
    if settings.mqtt.url:
        return settings.mqtt.url
    state = read_state(settings.services.state_dir)
    if state and state.get("mqtt_url"):
        return str(state["mqtt_url"])
    raise ConfigError(f"{NO_BROKER} (no URL in {state_path(settings.services.state_dir)})")
