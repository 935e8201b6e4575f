"""The deployment files: the node.yaml example loads, the systemd unit is valid and hardened."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hubsense.node_config import load_node_config

NODE_DIR = Path(__file__).resolve().parents[2] / "firmware-config" / "node"


def test_node_yaml_example_is_a_valid_config() -> None:
    config = load_node_config(NODE_DIR / "node.yaml")
    assert config.broker.url.startswith("mqtts://") and config.broker.password_file is not None
    assert {s.key for s in config.sensors} == {
        "gpio:17", "gpio:27", "ble:A4:C1:38:00:00:01", "ble:A4:C1:38:00:00:02"}  # fmt: skip
    assert str(config.state_dir) == "/var/lib/hubsense"


def _unit() -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    for line in (NODE_DIR / "hubsense-edge.service").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            entries.setdefault(key, []).append(value)
    return entries


def test_unit_is_hardened() -> None:
    unit = _unit()
    assert unit["User"] == ["hubsense"] and unit["Restart"] == ["on-failure"]
    assert unit["NoNewPrivileges"] == ["true"] and unit["ProtectSystem"] == ["strict"]
    assert unit["StateDirectory"] == ["hubsense"]  # the only writable place besides /run
    assert unit["CapabilityBoundingSet"] == [""]
    assert "edge run --config /etc/hubsense/node.yaml" in unit["ExecStart"][0]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_passes_systemd_analyze(tmp_path: Path) -> None:
    hubsense = str(Path(sys.executable).parent / "hubsense")
    text = (NODE_DIR / "hubsense-edge.service").read_text()
    unit = tmp_path / "hubsense-edge.service"
    unit.write_text(text.replace("/opt/hubsense/bin/hubsense", hubsense))
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr.strip() == "", out.stderr
