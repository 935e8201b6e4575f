"""The node config file (`node.yaml`): who this node is, where its broker is, its sensors.

This is the edge agent's own settings (a Pi has no server settings file). The
sensor entries are the inventory's own models (`hubsense.inventory.model`), so a
node.yaml and the inventory describe a sensor the same way. Loading reads one
YAML file and names the field that is wrong; it must not open sockets or
devices.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from hubsense.errors import ConfigError
from hubsense.inventory.model import BthomeSensor, GpioPirSensor, Sensor
from hubsense.mqtt_url import parse_mqtt_url
from hubsense.wire import Id

_BINDKEY_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerConfig(_Model):
    # mqtt://host:1883 or mqtts://host:8883 (TLS); credentials may also sit in the URL.
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: SecretStr | None = None
    # A file holding the password (first line), so node.yaml itself can be world-readable.
    password_file: Path | None = None
    # CA bundle for mqtts://; None uses the system's trust store.
    ca_file: Path | None = None
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    # paho doubles its reconnect delay from 1 s up to this; a fleet spreads out after an outage.
    reconnect_max_s: Annotated[int, Field(ge=1, le=3600)] = 60

    def resolved_password(self) -> str | None:
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            try:
                return self.password_file.read_text().splitlines()[0].strip()
            except (OSError, IndexError) as error:
                raise ConfigError(f"broker.password_file {self.password_file}: {error}") from error
        return parse_mqtt_url(self.url).password


class OutboxConfig(_Model):
    # Size cap of the SQLite outbox; when reached the oldest events are evicted.
    max_mb: Annotated[int, Field(gt=0)] = 256
    max_events_per_message: Annotated[int, Field(ge=1, le=5_000)] = 500
    max_in_flight: Annotated[int, Field(ge=1, le=1_000)] = 8
    rate_events_per_s: Annotated[float, Field(gt=0)] = 1_000.0
    ack_timeout_s: Annotated[float, Field(gt=0)] = 60.0
    # A fresh outbox takes its first seq from the clock (Unix ms * 1,000), so it waits
    # until the kernel reports the clock NTP-synchronised. false: trust any clock past
    # 2024 instead (a container, whose kernel cannot report the host's sync).
    wait_for_clock_sync: bool = True


class BleConfig(_Model):
    # The HCI adapter bleak scans with (None: the system default).
    adapter: str | None = None


class NodeConfig(_Model):
    """One Raspberry Pi: identity, broker, timing and its sensors."""

    node: Id
    site: Id
    broker: BrokerConfig = BrokerConfig()
    heartbeat_s: Annotated[int, Field(gt=0, le=3600)] = 60
    debounce_ms: Annotated[int, Field(ge=0, le=60_000)] = 2_000
    # How often the loop looks at the clock to expire holds (seconds).
    tick_s: Annotated[float, Field(gt=0, le=10)] = 1.0
    state_dir: Path = Path("/var/lib/hubsense")
    # Where the agent keeps its live view for `hubsense edge watch` (None: state_dir/live.json).
    # On a Pi point it at tmpfs (/run/hubsense/live.json) to spare the SD card.
    live_file: Path | None = None
    outbox: OutboxConfig = OutboxConfig()
    ble: BleConfig = BleConfig()
    sensors: list[Sensor] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_sensors(self) -> NodeConfig:
        seen: set[str] = set()
        for index, sensor in enumerate(self.sensors):
            where = f"sensors.{index}"
            if sensor.key in seen:
                raise ValueError(f"{where}: sensor {sensor.key} is configured twice")
            seen.add(sensor.key)
            if isinstance(sensor, BthomeSensor):
                if not _MAC_RE.match(sensor.address):
                    raise ValueError(
                        f"{where}.address: {sensor.address!r} is not AA:BB:CC:DD:EE:FF"
                    )
                if sensor.bindkey is not None and not _BINDKEY_RE.match(sensor.bindkey):
                    raise ValueError(f"{where}.bindkey: must be 32 hex digits")
            elif not 0 <= sensor.pin <= 27:
                raise ValueError(f"{where}.pin: {sensor.pin} is not a BCM GPIO pin (0..27)")
        parse_mqtt_url(self.broker.url)
        return self

    @property
    def live_path(self) -> Path:
        return self.live_file if self.live_file is not None else self.state_dir / "live.json"

    @property
    def pir_sensors(self) -> list[GpioPirSensor]:
        return [s for s in self.sensors if isinstance(s, GpioPirSensor)]

    @property
    def ble_sensors(self) -> list[BthomeSensor]:
        return [s for s in self.sensors if isinstance(s, BthomeSensor)]


def load_node_config(path: Path) -> NodeConfig:
    """Read and validate node.yaml; a ConfigError names the file and the field."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from error
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with node, site, broker, sensors")
    try:
        return NodeConfig.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {field}: {first['msg']}") from error
