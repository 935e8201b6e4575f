"""Where commands find their database and broker: settings first, else services.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubsense.addresses import resolve_dsn, resolve_mqtt_url, write_state
from hubsense.db.connect import redact_dsn
from hubsense.errors import ConfigError
from hubsense.settings import Settings


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HUBSENSE_DB__DSN",
        "HUBSENSE_MQTT__URL",
        "HUBSENSE_SERVICES__STATE_DIR",
        "HUBSENSE_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)


def test_settings_win_over_state_file(tmp_path: Path) -> None:
    write_state(
        tmp_path, {"dsn": "postgresql://postgres@127.0.0.1:1/a", "mqtt_url": "mqtt://127.0.0.1:2"}
    )
    settings = Settings(
        db={"dsn": "postgresql://u:pw@db:5432/prod"},
        mqtt={"url": "mqtt://broker:1883"},
        services={"state_dir": tmp_path},
    )
    assert resolve_dsn(settings) == "postgresql://u:pw@db:5432/prod"
    assert resolve_mqtt_url(settings) == "mqtt://broker:1883"


def test_state_file_used_when_settings_empty(tmp_path: Path) -> None:
    write_state(
        tmp_path,
        {
            "dsn": "postgresql://postgres@127.0.0.1:5999/hubsense",
            "mqtt_url": "mqtt://127.0.0.1:1999",
        },
    )
    settings = Settings(services={"state_dir": tmp_path})
    assert resolve_dsn(settings) == "postgresql://postgres@127.0.0.1:5999/hubsense"
    assert resolve_mqtt_url(settings) == "mqtt://127.0.0.1:1999"


def test_env_var_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSENSE_DB__DSN", "postgresql://env@127.0.0.1:7/e")
    assert (
        resolve_dsn(Settings(services={"state_dir": tmp_path})) == "postgresql://env@127.0.0.1:7/e"
    )


def test_nothing_configured_is_one_line_config_error(tmp_path: Path) -> None:
    settings = Settings(services={"state_dir": tmp_path / "none"})
    with pytest.raises(ConfigError) as dsn_error:
        resolve_dsn(settings)
    assert str(dsn_error.value).startswith(
        "no database: pass --dsn, set HUBSENSE_DB__DSN, or run `hubsense services up`"
    )
    assert str(tmp_path / "none" / "services.json") in str(dsn_error.value)
    assert dsn_error.value.exit_code == 2
    with pytest.raises(
        ConfigError, match=r"^no MQTT broker: pass --mqtt-url, set HUBSENSE_MQTT__URL"
    ):
        resolve_mqtt_url(settings)


def test_broken_state_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "services.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"services\.json: unreadable"):
        resolve_dsn(Settings(services={"state_dir": tmp_path}))


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://u:s3cret@h:5432/d", "postgresql://u:***@h:5432/d"),
        ("postgresql://u@h/d", "postgresql://u@h/d"),
        ("host=h user=u password=s3cret dbname=d", "host=h user=u password=*** dbname=d"),
    ],
)
def test_redact_dsn(dsn: str, shown: str) -> None:
    assert redact_dsn(dsn) == shown
