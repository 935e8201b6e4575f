"""Parse broker URLs: `mqtt://[user[:password]@]host[:port]` or `mqtts://…` (TLS).

Pure: no I/O. Shared by the edge agent, ingest, the simulator and the tests so
every component reads `--mqtt-url` the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from hubsense.errors import ConfigError

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class MqttUrl:
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    def redacted(self) -> str:
        """The URL without its password, for logs and messages."""
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_mqtt_url(url: str) -> MqttUrl:
    """Parse a broker URL; a ConfigError names what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS:
        raise ConfigError(f"MQTT URL {url!r}: scheme must be mqtt:// or mqtts://")
    if not parts.hostname:
        raise ConfigError(f"MQTT URL {url!r}: no host")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError as error:
        raise ConfigError(f"MQTT URL {url!r}: bad port") from error
    return MqttUrl(
        host=parts.hostname,
        port=port,
        tls=parts.scheme == "mqtts",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
