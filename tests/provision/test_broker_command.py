"""`hubsense provision broker`: the complete mosquitto.conf it writes runs on a real Mosquitto 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hubsense.devstack.ports import accepts, free_port
from hubsense.provision.acl import INGEST_USER
from hubsense.provision.broker import service_password
from hubsense.provision.verify import Login, ProbeClient
from provision_helpers import INVENTORY_FILE
from support.waiting import wait_for

from hubsense.mqtt_url import MqttUrl

pytestmark = pytest.mark.service

HUBSENSE = str(Path(sys.executable).parent / "hubsense")


def test_generated_production_config_runs_and_enforces_passwords(service_tmp_path: Path) -> None:
    provision_dir, out = service_tmp_path / "provision", service_tmp_path / "broker"
    plain_port, tls_port = free_port(), free_port()
    made = subprocess.run(
        [
            HUBSENSE,
            "provision",
            "broker",
            "-i",
            str(INVENTORY_FILE),
            "--provision-dir",
            str(provision_dir),
            "--out",
            str(out),
            "--hostname",
            "127.0.0.1",
            "--tls-bind",
            "127.0.0.1",
            "--tls-port",
            str(tls_port),
            "--plain-port",
            str(plain_port),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout) == {
        "files": [
            str(out / name)
            for name in (
                "passwords",
                "acl",
                "ca.pem",
                "server.pem",
                "server.key",
                "hubsense.conf",
                "mosquitto.conf",
            )
        ],
        "reloaded": False,
    }
    conf = (out / "mosquitto.conf").read_text()
    assert (
        f"listener {plain_port} 127.0.0.1\n" in conf and f"listener {tls_port} 127.0.0.1\n" in conf
    )
    # Foreground, no persistence written: SIGKILL at the end (the config names /var/lib/mosquitto).
    broker = subprocess.Popen(
        ["/usr/sbin/mosquitto", "-c", str(out / "mosquitto.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: accepts(plain_port) and accepts(tls_port), 15.0, "the broker's listeners")
        plain = MqttUrl("127.0.0.1", plain_port, False)
        anonymous = ProbeClient(plain, Login("", ""), None, "anon")
        anonymous.connect()
        assert anonymous.out.connack == "Not authorized"
        login = Login(INGEST_USER, service_password(provision_dir, INGEST_USER))
        for url, ca in (
            (plain, None),
            (MqttUrl("127.0.0.1", tls_port, True), provision_dir / "ca.pem"),
        ):
            ingest = ProbeClient(url, login, ca, "ingest")
            ingest.connect()
            assert ingest.out.connack_ok, (url, ingest.out.connack)
            ingest.close()
    finally:
        os.kill(broker.pid, signal.SIGKILL)
        output = broker.communicate(timeout=10)[0]
    assert b"Error" not in output, output


def test_broker_without_hostname_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    provision_dir, out = tmp_path / "provision", tmp_path / "broker"
    made = subprocess.run(
        [HUBSENSE, "provision", "broker", "-i", str(INVENTORY_FILE),
         "--provision-dir", str(provision_dir), "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert made.returncode == 2
    assert made.stderr.startswith("hubsense: error: --hostname: missing: the name or IP the Pis")
    assert made.stderr.count("\n") == 1
    assert not out.exists() and not provision_dir.exists()
