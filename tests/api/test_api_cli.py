"""`hubsense api run` as a child process: serves over HTTP, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import SITE, Keys
from hubsense.devstack.ports import free_port
from support.waiting import wait_for

pytestmark = pytest.mark.service
HUBSENSE = str(Path(sys.executable).parent / "hubsense")


def test_api_run_serves_and_stops_on_sigterm(
    api_dsn: str, keys: Keys, mqtt_broker: Any, tmp_path: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "api.log"
    env = dict(os.environ, HUBSENSE_BOOKINGS__WATCH_INTERVAL_S="0.5")
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                HUBSENSE,
                "--log-format",
                "json",
                "api",
                "run",
                "--port",
                str(port),
                "--dsn",
                api_dsn,
                "--mqtt-url",
                mqtt_broker.url,
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"

            def healthy() -> bool:
                try:
                    return httpx.get(f"{url}/healthz", timeout=2).json() == {"status": "ok"}
                except httpx.HTTPError:
                    return False

            wait_for(healthy, 60, "hubsense api run to answer")
            response = httpx.get(f"{url}/v1/sites/{SITE}", headers={"X-API-Key": keys.facilities})
            assert response.status_code == 200 and response.json()["id"] == SITE
            assert httpx.get(f"{url}/v1/sites").status_code == 401
            wait_for(lambda: b"release_watcher_started" in log_path.read_bytes(), 20, "the watcher")
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(30) == 0
            assert time.monotonic() - started < 15
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    log = log_path.read_text()
    assert '"event": "api_listening"' in log and '"event": "release_watcher_stopped"' in log


def test_api_openapi_prints_the_schema_without_a_database() -> None:
    import json

    result = subprocess.run(
        [HUBSENSE, "api", "openapi"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, HUBSENSE_DB__DSN="postgresql://nobody@127.0.0.1:1/none"),
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["info"]["title"] == "hubsense API"
    assert "/v1/bookings/import" in document["paths"] and "/hubs/{site}/state" in document["paths"]


def test_run_api_says_in_one_line_when_it_cannot_start(api_dsn: str) -> None:
    import socket
    import threading

    from api_helpers import api_settings
    from hubsense.api.app import run_api

    from hubsense.errors import ServiceError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServiceError, match=f"api on 127.0.0.1:{port}: did not start"):
            run_api(
                api_settings(), "127.0.0.1", port, threading.Event(), dsn=api_dsn, watcher=False
            )
    with pytest.raises(ServiceError, match="cannot connect"):
        run_api(
            api_settings(),
            "127.0.0.1",
            free_port(),
            threading.Event(),
            dsn="postgresql://nobody@127.0.0.1:1/none",
            watcher=False,
        )
