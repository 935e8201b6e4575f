"""The commands end to end.

`services up --inventory`, `provision node|verify|revoke|rotate|list`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hubsense.provision.verify import Login, ProbeClient
from provision_helpers import INVENTORY_FILE

from hubsense.mqtt_url import parse_mqtt_url

pytestmark = pytest.mark.service

HUBSENSE = str(Path(sys.executable).parent / "hubsense")
CHECKS = [
    "TLS: broker certificate trusted",
    "credentials accepted",
    "publish own events: delivered",
    "read own config: delivered",
    "read another node's config: refused",
    "publish as another node: refused",
    "write its own config: refused",
]


def hubsense(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HUBSENSE, "--log-format", "json", *args], capture_output=True, text=True, timeout=120
    )


def _statuses(stdout: str) -> list[tuple[str, str]]:
    return [(check["status"], check["name"]) for check in json.loads(stdout)]


def test_services_up_with_inventory_then_provision_verify_revoke(
    service_tmp_path: Path, tmp_path: Path
) -> None:
    state = service_tmp_path / "state"
    bundles = tmp_path / "bundles"
    up = hubsense(
        "services", "up", "--state-dir", str(state), "--inventory", str(INVENTORY_FILE), "--json"
    )
    try:
        assert up.returncode == 0, up.stderr
        saved = json.loads((state / "services.json").read_text())
        assert json.loads(up.stdout)["mosquitto"]["tls_url"] == saved["mqtt_tls_url"]
        tls_url = parse_mqtt_url(saved["mqtt_tls_url"])
        assert tls_url.tls and tls_url.port == saved["mosquitto"]["tls_port"]
        # The plain loopback listener is no longer anonymous.
        anonymous = ProbeClient(parse_mqtt_url(saved["mqtt_url"]), Login("", ""), None, "anon")
        anonymous.connect()
        assert anonymous.out.connack == "Not authorized"

        made = hubsense(
            "provision", "node", "pi-a", "--state-dir", str(state), "--out", str(bundles)
        )
        assert made.returncode == 0, made.stderr
        assert made.stdout.splitlines()[0] == "pi-a: provisioned, credentials generation 1"
        node_yaml = (bundles / "pi-a" / "node.yaml").read_text()
        assert f"url: {saved['mqtt_tls_url']}" in node_yaml

        good = hubsense(
            "provision",
            "verify",
            "pi-a",
            "--state-dir",
            str(state),
            "--bundle",
            str(bundles / "pi-a"),
        )
        assert good.returncode == 0, good.stdout + good.stderr
        lines = good.stdout.splitlines()
        assert lines[0] == f"verify pi-a at {saved['mqtt_tls_url']}"
        # the checklist line edge doctor prints too: "[PASS] name: detail"
        assert len(lines) == 1 + len(CHECKS)
        for line, name in zip(lines[1:], CHECKS, strict=True):
            assert line.startswith(f"[PASS] {name}: "), line

        revoked = hubsense("provision", "revoke", "pi-a", "--state-dir", str(state))
        assert revoked.returncode == 0 and "broker reloaded: yes" in revoked.stdout
        bad = hubsense(
            "provision",
            "verify",
            "pi-a",
            "--state-dir",
            str(state),
            "--bundle",
            str(bundles / "pi-a"),
            "--json",
        )
        assert bad.returncode == 1
        assert _statuses(bad.stdout) == [("PASS", CHECKS[0]), ("FAIL", CHECKS[1])] + [
            ("SKIP", name) for name in CHECKS[2:]
        ]

        rotate = hubsense(
            "provision", "rotate", "pi-a", "--state-dir", str(state), "--out", str(bundles)
        )
        assert rotate.returncode == 1
        assert (
            rotate.stderr.strip().endswith("provision it again with `hubsense provision node pi-a`")
            and "hubsense: error: pi-a: revoked at" in rotate.stderr
        )

        listed = json.loads(
            hubsense("provision", "list", "--state-dir", str(state), "--json").stdout
        )
        users = listed["users"]
        assert sorted(users) == ["hubsense_api", "hubsense_ingest", "pi-a"]
        assert users["pi-a"]["revoked_at"] is not None and "hash" not in users["pi-a"]
        assert [(c["file"], c["names"]) for c in listed["certificates"]] == [
            ("ca.pem", []),
            ("server.pem", ["127.0.0.1", "localhost"]),
        ]
        text = hubsense("provision", "list", "--state-dir", str(state)).stdout.splitlines()
        assert text[2].split()[:5] == ["pi-a", "node", "hq", "gen", "1"] and "REVOKED" in text[2]
        assert text[3].startswith("ca.pem") and text[4].startswith("server.pem")

        # `services up` again without --inventory keeps the broker secured.
        again = hubsense("services", "up", "--state-dir", str(state))
        assert again.returncode == 0, again.stderr
        anonymous = ProbeClient(parse_mqtt_url(saved["mqtt_url"]), Login("", ""), None, "anon")
        anonymous.connect()
        assert anonymous.out.connack == "Not authorized"
    finally:
        hubsense("services", "down", "--state-dir", str(state))
