"""`hubsense ingest` command line: usage errors are one line and exit 2."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support.ingest_runs import HUBSENSE


def run_cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HUBSENSE_")}
    env["HUBSENSE_SERVICES__STATE_DIR"] = str(tmp_path / "no-services")
    return subprocess.run(
        [HUBSENSE, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_run_without_a_database_says_how_to_get_one(tmp_path: Path) -> None:
    result = run_cli("ingest", "run", "--mqtt-url", "mqtt://127.0.0.1:1", tmp_path=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("hubsense: error: no database: pass --dsn")


def test_worker_id_must_be_usable_in_a_client_id(tmp_path: Path) -> None:
    result = run_cli(
        "ingest",
        "run",
        "--dsn",
        "postgresql://x@127.0.0.1:1/x",
        "--worker-id",
        "Bad Id",
        tmp_path=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "hubsense: error: --worker-id 'Bad Id': must match ^[a-z0-9][a-z0-9-]{0,62}$"
    )


def test_bad_mqtt_url_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(
        "ingest",
        "run",
        "--dsn",
        "postgresql://x@127.0.0.1:1/x",
        "--mqtt-url",
        "http://x",
        tmp_path=tmp_path,
    )
    assert result.returncode == 2
    assert "scheme must be mqtt:// or mqtts://" in result.stderr
