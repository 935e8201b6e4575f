"""A node whose Bluetooth cannot scan stops with one line that says what to check.

The adapter `hci99` does not exist: without BlueZ the D-Bus socket is missing, with
BlueZ the adapter is; either way the scan cannot start, so the test is deterministic.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

HUBSENSE = str(Path(sys.executable).parent / "hubsense")


def test_edge_run_without_a_usable_ble_adapter_exits_with_one_line(tmp_path: Path) -> None:
    config = {
        "node": "pi-noble",
        "site": "hq",
        "broker": {"url": "mqtt://127.0.0.1:1"},
        "state_dir": str(tmp_path / "state"),
        "ble": {"adapter": "hci99"},
        "outbox": {"wait_for_clock_sync": False},  # the container cannot report NTP sync
        "sensors": [
            {"type": "gpio_pir", "pin": 17, "desk": "d-1"},
            {"type": "bthome", "address": "A4:C1:38:00:00:01", "desk": "d-2"},
        ],
    }
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock"}
    result = subprocess.run(
        [HUBSENSE, "--log-format", "json", "edge", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("hubsense: error: BLE adapter hci99: cannot scan (")
    assert "systemctl status bluetooth" in last
    assert "Traceback" not in result.stderr
