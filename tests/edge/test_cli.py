"""The installer's commands (doctor, watch, help) and the Pi install's import footprint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from edge_helpers import node_config
from gpiozero.pins.mock import MockFactory
from hubsense.edge.doctor import run_checks
from hubsense.edge.embed import AgentThread
from hubsense.edge.watch import _read_live, render
from support.waiting import wait_for

from hubsense.checks import Status

HUBSENSE = str(Path(sys.executable).parent / "hubsense")
SERVER_ONLY = ("numba", "psycopg", "fastapi", "numpy", "pandas", "duckdb", "uvicorn")


def test_importing_the_edge_pulls_no_server_dependency() -> None:
    code = (
        "import sys, json\n"
        "import hubsense.edge, hubsense.edge.agent, hubsense.edge.cli, hubsense.edge.doctor\n"
        "import hubsense.edge.watch, hubsense.edge.embed\n"
        "import hubsense.edge.io.ble, hubsense.edge.io.mqtt\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not loaded & set(SERVER_ONLY), loaded & set(SERVER_ONLY)
    assert not {m for m in loaded if m.startswith(("hubsense_ingest", "hubsense.analytics"))}


def test_edge_help_lists_the_commands() -> None:
    out = subprocess.run([HUBSENSE, "edge", "--help"], capture_output=True, text=True, check=True)
    assert all(cmd in out.stdout for cmd in ("run", "doctor", "watch"))


def test_a_bad_config_is_one_line_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "node.yaml"
    bad.write_text("node: pi-1\nsite: hq\nsensors:\n  - {type: gpio_pir, pin: 99, desk: d1}\n")
    out = subprocess.run(
        [HUBSENSE, "edge", "run", "--config", str(bad)], capture_output=True, text=True
    )
    assert out.returncode == 2
    line = out.stderr.strip()
    assert "\n" not in line and line.startswith(f"hubsense: error: {bad}: sensors.0.")
    assert "pin" in line and "99" in line


@pytest.mark.service
def test_doctor_passes_what_works_and_says_how_to_fix_the_rest(
    tmp_path: Path, mqtt_broker: Any
) -> None:
    config = node_config(tmp_path / "state", mqtt_broker.url, "pi-doc", pins=1)
    path = tmp_path / "node.yaml"
    path.write_text(json.dumps(json.loads(config.model_dump_json())))  # JSON is YAML
    checks = {c.name: c for c in run_checks(path, listen_s=2, pin_factory=MockFactory())}
    for name in (
        "config valid",
        "GPIO readable",
        "broker reachable",
        "credentials accepted",
        "publish allowed on own topics",
        "subscribe allowed on config",
        "disk space",
    ):
        assert checks[name].status is Status.PASS, checks[name]
    assert checks["GPIO readable"].detail == "gpio:17=low"
    assert checks["outbox healthy"].status is Status.WARN  # the agent never ran here
    assert checks["clock synchronised"].status in (Status.PASS, Status.FAIL, Status.WARN)
    # A broker nobody listens on: FAIL with a fix, and the session checks are not attempted.
    path.write_text(path.read_text().replace(f":{mqtt_broker.port}", ":1"))
    checks = {c.name: c for c in run_checks(path, listen_s=2, pin_factory=MockFactory())}
    assert (
        checks["broker reachable"].status is Status.FAIL
        and "network" in checks["broker reachable"].fix
    )
    assert "credentials accepted" not in checks
    out = subprocess.run(
        [HUBSENSE, "edge", "doctor", "--config", str(path), "--listen-s", "1"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "[FAIL] broker reachable" in out.stdout and "fix:" in out.stdout


@pytest.mark.service
def test_watch_shows_the_running_agents_desks(tmp_path: Path, mqtt_broker: Any) -> None:
    from rich.console import Console

    config = node_config(tmp_path, mqtt_broker.url, "pi-w", pins=2)
    agent = AgentThread(config).start()
    try:
        agent.pin(18).drive_high()
        view = wait_for(
            lambda: (v := _read_live(config)) and v["desks"]["pi-w-d1"] == "occupied" and v,
            what="live view",
        )
    finally:
        agent.stop()
    assert view["sensors"]["gpio:18"] == {"desk": "pi-w-d1", "reading": "high"}
    assert view["desks"]["pi-w-d0"] == "vacant" and view["connected"] is True
    console = Console(record=True, width=120)
    console.print(render(view, "running agent"))
    text = console.export_text()
    assert "pi-w-d1" in text and "occupied" in text and "gpio:18" in text and "high" in text


@pytest.mark.slow
def test_clean_venv_install_of_the_edge_extra(tmp_path: Path) -> None:
    venv = tmp_path / "edgevenv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    root = Path(__file__).resolve().parents[2]
    subprocess.run([*pip, f"{root}[edge]"], check=True, env=env, timeout=900)
    out = subprocess.run(
        [str(venv / "bin" / "hubsense"), "edge", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "doctor" in out.stdout
    code = "import sys, hubsense.edge.agent, hubsense.edge.io.ble; print(sorted(sys.modules))"
    # cwd elsewhere: from the source tree, `import hubsense` would find ./hubsense instead.
    mods = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    for name in SERVER_ONLY:
        assert f"'{name}'" not in mods
    freeze = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    for name in ("numba", "psycopg", "fastapi"):
        assert name not in freeze, f"{name} got installed with hubsense[edge]"


def test_watch_without_an_agent_reads_the_pins_itself(tmp_path: Path) -> None:
    import threading

    from hubsense.edge.watch import watch_node

    config = node_config(tmp_path, "mqtt://127.0.0.1:1", "pi-w2", pins=2)
    factory = MockFactory()
    timer = threading.Timer(0.5, lambda: factory.pin(17).drive_high())
    timer.start()
    view = watch_node(config, 2.5, pin_factory=factory)
    timer.join()
    assert view is not None
    assert view["desks"] == {"pi-w2-d0": "occupied", "pi-w2-d1": "vacant"}
    assert view["sensors"]["gpio:17"]["reading"] == "high" and view["connected"] is None


@pytest.mark.service
def test_edge_run_process_stops_cleanly_on_sigterm(
    tmp_path: Path, mqtt_broker: Any, collector: Any
) -> None:
    import signal
    import time

    # No sensors: the real `hubsense edge run` on a machine without GPIO still senses alive.
    config = node_config(tmp_path / "state", mqtt_broker.url, "pi-run", pins=0)
    path = tmp_path / "node.yaml"
    path.write_text(config.model_dump_json())
    proc = subprocess.Popen(
        [HUBSENSE, "--log-format", "json", "edge", "run", "--config", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: collector.status.get("pi-run", {}).get("online"), what="online status")
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    wait_for(lambda: collector.status["pi-run"]["online"] is False, what="offline status")
    assert [e["type"] for e in collector.events] == ["alive", "stop"]
    logged = [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
    assert "edge_started" in logged and logged[-1] == "edge_stopped"
