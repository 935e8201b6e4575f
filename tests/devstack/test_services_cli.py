"""`hubsense services up|status|down` and `hubsense db` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from broker_clients import Collector, publish_all
from hubsense.devstack.ports import free_port

pytestmark = [pytest.mark.service, pytest.mark.slow]

HUBSENSE = str(Path(sys.executable).parent / "hubsense")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUBSENSE_")}
    return subprocess.run(
        [HUBSENSE, *args], capture_output=True, text=True, timeout=120, env=clean | (env or {})
    )


def _json(*args: str) -> dict:
    result = _run(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_up_status_down(service_tmp_path: Path) -> None:
    state = str(service_tmp_path / "state")
    pg_port, mqtt_port = free_port(), free_port()
    try:
        up = _json(
            "services",
            "up",
            "--state-dir",
            state,
            "--pg-port",
            str(pg_port),
            "--mqtt-port",
            str(mqtt_port),
        )
        dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/hubsense"
        url = f"mqtt://127.0.0.1:{mqtt_port}"
        assert up["postgres"] == {"running": True, "dsn": dsn}
        assert up["mosquitto"] == {"running": True, "url": url}
        assert up["migrated"][0] == "0001_core.sql"
        saved = json.loads(Path(state, "services.json").read_text())
        assert saved["dsn"] == dsn and saved["mqtt_url"] == url

        with psycopg.connect(dsn) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
            assert names == up["migrated"]
            conn.execute("CREATE TABLE cli_probe AS SELECT 7 AS v")
        topic = f"hubsense/v1/cli/{uuid.uuid4().hex}/events"
        sub = Collector(mqtt_port, f"cli-{uuid.uuid4().hex}")
        try:
            sub.subscribe(topic)
            publish_all(mqtt_port, topic, [b"hello"])
            assert sub.wait_for(1) == [(topic, b"hello", 1)]
        finally:
            sub.close()

        again = _json("services", "up", "--state-dir", state)  # idempotent; ports remembered
        assert again["migrated"] == []
        assert again["postgres"]["dsn"] == dsn and again["mosquitto"]["url"] == url

        env = {"HUBSENSE_SERVICES__STATE_DIR": state}
        assert _run("db", "migrate", env=env).stdout == "up to date\n"
        status_lines = _run("db", "status", env=env).stdout.splitlines()
        assert [line.split()[:2] for line in status_lines] == [["applied", n] for n in names]

        down = _json("services", "down", "--state-dir", state)
        assert down == {
            "postgres": {"running": False, "dsn": dsn},
            "mosquitto": {"running": False, "url": url},
        }
        text = _run("services", "status", "--state-dir", state).stdout
        assert text.split() == ["postgres", "stopped", dsn, "mosquitto", "stopped", url]

        # Up again on the same state dir: same ports, the data is still there.
        _json("services", "up", "--state-dir", state)
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT v FROM cli_probe").fetchone() == (7,)
    finally:
        _run("services", "down", "--state-dir", state)
    assert _json("services", "status", "--state-dir", state)["postgres"]["running"] is False


def test_status_where_up_never_ran(tmp_path: Path) -> None:
    assert _json("services", "status", "--state-dir", str(tmp_path)) == {
        "postgres": {"running": False, "dsn": None},
        "mosquitto": {"running": False, "url": None},
    }
    assert _run("services", "status", "--state-dir", str(tmp_path)).stdout.split() == [
        "postgres",
        "stopped",
        "mosquitto",
        "stopped",
    ]


def test_db_command_without_database_is_one_line(tmp_path: Path) -> None:
    result = _run("db", "status", env={"HUBSENSE_SERVICES__STATE_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.startswith(
        "hubsense: error: no database: pass --dsn, set HUBSENSE_DB__DSN, "
        "or run `hubsense services up`"
    )
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreachable_dsn_hides_password() -> None:
    result = _run(
        "db", "migrate", "--dsn", f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/x"
    )
    assert result.returncode == 1
    assert "s3cret" not in result.stderr
    assert result.stderr.startswith(
        "hubsense: error: database postgresql://postgres:***@127.0.0.1:"
    )
    assert "cannot connect" in result.stderr
