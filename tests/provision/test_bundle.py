"""The installer bundle: its files, and an edge agent started from its node.yaml.

The agent publishes over TLS with the bundle's CA and secret."""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hubsense.provision import pki
from hubsense.provision.acl import INGEST_USER
from hubsense.provision.bundle import UNIT_SOURCE
from hubsense.provision.fleet import BundleOptions, provision_node
from hubsense.provision.passwords import matches
from hubsense.provision.store import CredentialError, CredentialStore
from provision_helpers import SecuredBroker, now, start_secured_broker

from hubsense.errors import ConfigError
from hubsense.inventory.model import BthomeSensor, GpioPirSensor
from hubsense.node_config import load_node_config

pytestmark = pytest.mark.service

FILES = {
    "node.yaml": 0o644,
    "ca.pem": 0o644,
    "mqtt-password": 0o600,
    "hubsense-edge.service": 0o644,
    "hubsense-install.service": 0o644,
    "hubsense-edge-after-install.conf": 0o644,
    "firstrun.sh": 0o755,
    "INSTALL.md": 0o644,
    "manifest.json": 0o644,
}


@pytest.fixture(scope="module")
def secured(services_basetemp: Path) -> Iterator[SecuredBroker]:
    broker = start_secured_broker(services_basetemp, ["pi-b"])  # pi-a is provisioned by the test
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def bundle(secured: SecuredBroker, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles")
    result = provision_node(
        secured.provision_dir,
        secured.inventory,
        "pi-a",
        BundleOptions(
            out_dir=out,
            broker_url=f"mqtts://127.0.0.1:{secured.tls_port}",
            etc_dir=out / "pi-a",
            node_state_dir=out / "state",
        ),
        now(),
    )
    assert result.bundle == out / "pi-a" and result.generation == 1 and result.broker_reloaded
    secured.secrets["pi-a"] = (out / "pi-a" / "mqtt-password").read_text().strip()
    return out / "pi-a"


def test_bundle_files_modes_and_manifest(bundle: Path, secured: SecuredBroker) -> None:
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in bundle.iterdir()} == FILES
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o700
    secret = secured.secrets["pi-a"]
    # The secret is in mqtt-password only; the server keeps its hash.
    for path in bundle.iterdir():
        assert (secret in path.read_text()) == (path.name == "mqtt-password"), path.name
    assert matches(secret, CredentialStore(secured.provision_dir).read().users["pi-a"].hash)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["node"] == "pi-a" and manifest["site"] == "hq" and manifest["generation"] == 1
    assert manifest["files"] == {
        name: hashlib.sha256((bundle / name).read_bytes()).hexdigest()
        for name in sorted(FILES)
        if name not in ("mqtt-password", "manifest.json")
    }
    assert manifest["ca_fingerprint_sha256"] == pki.fingerprint(secured.ca_file.read_bytes())
    assert (bundle / "ca.pem").read_bytes() == secured.ca_file.read_bytes()
    assert (bundle / "hubsense-edge.service").read_text() == UNIT_SOURCE.read_text()
    subprocess.run(["bash", "-n", str(bundle / "firstrun.sh")], check=True)
    install = (bundle / "INSTALL.md").read_text()
    assert "`pi-a`" in install and manifest["ca_fingerprint_sha256"] in install
    assert "{{" not in install + (bundle / "firstrun.sh").read_text()


def test_node_yaml_validates_with_the_edge_model(bundle: Path, secured: SecuredBroker) -> None:
    config = load_node_config(bundle / "node.yaml")
    assert (config.node, config.site, config.heartbeat_s) == ("pi-a", "hq", 60)
    assert config.broker.url == f"mqtts://127.0.0.1:{secured.tls_port}"
    assert config.broker.username == "pi-a" and config.broker.password is None
    assert config.broker.password_file == bundle / "mqtt-password"
    assert config.broker.ca_file == bundle / "ca.pem"
    assert config.broker.resolved_password() == secured.secrets["pi-a"]
    assert config.sensors == [
        GpioPirSensor(type="gpio_pir", pin=17, desk="hq-1", hold_s=30),
        BthomeSensor(type="bthome", address="A4:C1:38:00:00:01", desk="hq-2", bindkey=None),
    ]


def test_provisioning_twice_is_refused(
    bundle: Path, secured: SecuredBroker, tmp_path: Path
) -> None:
    options = BundleOptions(out_dir=tmp_path, broker_url="mqtts://127.0.0.1:8883")
    with pytest.raises(CredentialError, match="pi-a: already has credentials"):
        provision_node(secured.provision_dir, secured.inventory, "pi-a", options, now())
    with pytest.raises(ConfigError, match="node pi-zz: not in the inventory"):
        provision_node(secured.provision_dir, secured.inventory, "pi-zz", options, now())
    assert not (tmp_path / "pi-a").exists()


def test_edge_agent_from_the_bundle_publishes_over_tls(
    bundle: Path, secured: SecuredBroker
) -> None:
    from hubsense.edge.embed import AgentThread

    watcher = secured.probe(INGEST_USER)
    watcher.subscribe("hubsense/v1/hq/pi-a/#")
    agent = AgentThread(load_node_config(bundle / "node.yaml")).start()
    try:
        assert watcher.pump(lambda: agent.connected, 15.0)
        agent.pin(17).drive_high()

        def desk_events() -> list[dict[str, object]]:
            return [
                event
                for topic, payload in watcher.out.messages
                if topic.endswith("/events")
                for event in json.loads(payload)["events"]
                if event["type"] == "desk"
            ]

        # Right after start: each desk's current state; then hq-1 occupied after the debounce.
        assert watcher.pump(
            lambda: any(e["desk"] == "hq-1" and e["state"] == "occupied" for e in desk_events()),
            20.0,
        ), watcher.out.messages
    finally:
        agent.stop()
    watcher.listen(0.5)
    watcher.close()
    events = [
        event
        for topic, payload in watcher.out.messages
        if topic.endswith("/events")
        for event in json.loads(payload)["events"]
    ]
    assert {json.loads(payload)["node"] for _, payload in watcher.out.messages} == {"pi-a"}
    assert [e["type"] for e in events].count("alive") >= 1 and events[-1]["type"] == "stop"
    assert [e["seq"] for e in events] == list(
        range(events[0]["seq"], events[0]["seq"] + len(events))
    )
    assert ("hq-1", "pir", "occupied") in {
        (e.get("desk"), e.get("source"), e.get("state")) for e in events
    }
    statuses = [json.loads(p) for t, p in watcher.out.messages if t.endswith("/status")]
    assert statuses and statuses[0]["online"] is True and statuses[-1]["online"] is False
