"""Settings: how a server process runs (not what exists; that is the inventory).

One pydantic-settings class, nested sections, read from (highest first) CLI
options, `HUBSENSE_…` environment variables (`HUBSENSE_DB__DSN`,
`HUBSENSE_MQTT__URL`, `HUBSENSE_INGEST__BATCH_MAX_EVENTS`…), a YAML file
named by `--config` or `HUBSENSE_CONFIG`, then defaults. Never built at import
time: the CLI loads it once and passes it down. The edge agent has its own
node config file (`hubsense.node_config`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

DEFAULT_STATE_DIR = Path(".hubsense")


class DatabaseSettings(BaseModel):
    # None: use the private PostgreSQL started by `hubsense services up` in state_dir.
    # Several hosts (a Patroni cluster) reach the primary: target_session_attrs=read-write
    # is added when missing (hubsense.db.connect.primary_dsn; docs/operations.md).
    dsn: SecretStr | None = None


class MqttSettings(BaseModel):
    # None: use the private Mosquitto started by `hubsense services up` in state_dir.
    url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None


class ServicesSettings(BaseModel):
    state_dir: Path = DEFAULT_STATE_DIR
    pg_port: int | None = None
    mqtt_port: int | None = None


class IngestSettings(BaseModel):
    worker_id: str = "ingest-1"
    share_group: str = "hubsense-ingest"
    batch_max_events: int = Field(default=20_000, gt=0)
    batch_max_ms: int = Field(default=200, gt=0)
    # Unacked messages the broker may have in flight to us (MQTT 5 receive maximum).
    receive_maximum: int = Field(default=2_000, gt=0, le=65_535)
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)
    # Events timestamped further than this in the future are dead-lettered.
    max_future_ms: int = Field(default=5 * 60_000, ge=0)


class TimescaleSettings(BaseModel):
    chunk_days: int = Field(default=7, gt=0)
    compress_after_days: int = Field(default=14, gt=0)
    # None keeps raw events forever; rollups are kept regardless.
    retain_days: int | None = Field(default=None, gt=0)


class RetentionSettings(BaseModel):
    # Raw `alive` rows older than this are deleted by the analytics scheduler: coverage
    # stands for them. Desk events, stops, coverage and rollups are kept.
    raw_alive_days: int = Field(default=35, gt=0)


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65_535)
    # What /hubs/{site} shows without an API key: nothing, the free/occupied counts, or
    # every desk's state (desks are not personal data; a hub may want them public).
    hub_public: Literal["off", "counts", "desks"] = "counts"
    # How often the hub page's live feed looks at the database.
    hub_poll_s: float = Field(default=1.0, gt=0)
    # Language of dates and numbers on the pages (BCP 47); times are always 24-hour and in
    # the site's own time zone, whatever the browser's.
    locale: str = Field(default="en-GB", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    # Run the booking release watcher inside the API process.
    release_watcher: bool = True
    # Request bodies: booking imports (CSV/iCalendar files) up to max_import_bytes, every
    # other body (small JSON) up to max_body_bytes; larger ones are answered 413.
    max_import_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    # Slow clients (slowloris): a request head must arrive within header_timeout_s, a body
    # may stall at most body_timeout_s between chunks (408), an idle keep-alive connection
    # is closed after keep_alive_s. h11's cap on a request head (16 KiB is uvicorn's default).
    header_timeout_s: float = Field(default=10.0, gt=0)
    body_timeout_s: float = Field(default=15.0, gt=0)
    keep_alive_s: int = Field(default=5, gt=0)
    max_head_bytes: int = Field(default=16 * 1024, gt=0)
    # Open connections plus running requests before uvicorn answers 503; below the
    # process's usual 1,024 file descriptors, with room for the pool and the broker.
    limit_concurrency: int = Field(default=500, gt=0)


class BookingSettings(BaseModel):
    # docs/api.md: vacant while observed this long after the start releases the booking.
    release_after_min: float = Field(default=15, gt=0)
    watch_interval_s: float = Field(default=10.0, gt=0)
    # Released bookings are POSTed here (JSON BookingReleaseMessage); None: no webhook.
    webhook_url: str | None = None
    # When set, each POST carries X-Hubsense-Delivery, X-Hubsense-Timestamp and
    # X-Hubsense-Signature: sha256=HMAC(secret, "{delivery}.{timestamp}." + body).
    webhook_secret: SecretStr | None = None
    # While rotating: the old secret, signed with too (a second signature) until removed.
    webhook_previous_secret: SecretStr | None = None
    # Imports and syncs (docs/api.md, docs/bookings.md). A booking lasts at most max_duration_h
    # (the database refuses more than 31 days whatever this says).
    max_duration_h: float = Field(default=24, gt=0, le=744)
    # An import (file, API body or one sync) of more rows than this is refused whole.
    max_import_rows: int = Field(default=200_000, gt=0)
    # A recurring series expanding to more occurrences than this in the window is refused:
    # a daily series over the default 15-month window is about 460.
    max_occurrences_per_series: int = Field(default=2_000, gt=0)
    # A CalDAV sync that would fetch more calendar objects than this is refused.
    max_sync_objects: int = Field(default=50_000, gt=0)
    # Imports running at once in the API; one more is answered 429 (each parses a whole file).
    import_concurrency: int = Field(default=2, gt=0)
    # The window recurring events are expanded over, and replaced in, around today.
    window_back_days: int = Field(default=365, ge=0)
    window_ahead_days: int = Field(default=90, ge=0)
    # Background CalDAV sync inside the API process: every caldav_every_s when caldav_url is set.
    caldav_url: str | None = None
    caldav_user: str | None = None
    caldav_password: SecretStr | None = None
    caldav_every_s: float = Field(default=300.0, gt=0)
    # A synced booking released for no-show is written back to its calendar event as
    # STATUS:CANCELLED with a note (the calendar must allow the CalDAV user to write).
    caldav_write_back: bool = False
    caldav_write_back_note: str = Field(
        default="Released by hubsense: the desk stayed vacant after the booking's start.",
        min_length=1,
        max_length=500,
    )


class PrivacySettings(BaseModel):
    # Salt of the booker hash (HMAC-SHA256); without one, booker fields are not stored.
    booker_salt: SecretStr | None = None

    def salt(self) -> str | None:
        """The salt's text, for `privacy.hash_booker`; None when booker fields are not stored."""
        return self.booker_salt.get_secret_value() if self.booker_salt is not None else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUBSENSE_", env_nested_delimiter="__", extra="forbid"
    )

    db: DatabaseSettings = DatabaseSettings()
    mqtt: MqttSettings = MqttSettings()
    services: ServicesSettings = ServicesSettings()
    ingest: IngestSettings = IngestSettings()
    timescale: TimescaleSettings = TimescaleSettings()
    retention: RetentionSettings = RetentionSettings()
    api: ApiSettings = ApiSettings()
    bookings: BookingSettings = BookingSettings()
    privacy: PrivacySettings = PrivacySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("HUBSENSE_CONFIG")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings once, for the CLI; `overrides` are nested dicts from CLI options."""
    if config_file is not None:
        os.environ["HUBSENSE_CONFIG"] = str(config_file)
    return Settings(**overrides)
