"""Broker files without a broker: idempotence, certificate renewal, inventory changes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hubsense.provision import pki
from hubsense.provision.acl import Role
from hubsense.provision.broker import (
    BrokerPlan,
    load_plan,
    refresh_broker,
    service_password,
    write_broker_files,
)
from hubsense.provision.passwords import matches
from hubsense.provision.store import CredentialStore

from hubsense.inventory.file import load_inventory
from hubsense.inventory.model import Inventory

INVENTORY = Path(__file__).parent / "inventory.yaml"
NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def _plan(out: Path) -> BrokerPlan:
    return BrokerPlan(
        out_dir=str(out), inventory=str(INVENTORY), tls_port=18883, tls_bind="0.0.0.0"
    )


def test_second_run_keeps_ca_cert_and_service_secrets(tmp_path: Path) -> None:
    prov, out = tmp_path / "prov", tmp_path / "out"
    inventory = load_inventory(INVENTORY)
    write_broker_files(prov, inventory, _plan(out), ["mqtt.example.org"], NOW)
    first = {name: (out / name).read_bytes() for name in ("ca.pem", "server.pem", "server.key")}
    ingest = service_password(prov, "hubsense_ingest")
    write_broker_files(
        prov, inventory, _plan(out), ["mqtt.example.org"], NOW + dt.timedelta(days=1)
    )
    assert {name: (out / name).read_bytes() for name in first} == first
    assert service_password(prov, "hubsense_ingest") == ingest
    stored = CredentialStore(prov).read().users
    assert stored["hubsense_ingest"].generation == 1 and matches(
        ingest, stored["hubsense_ingest"].hash
    )
    assert load_plan(prov) == _plan(out)


def test_server_cert_is_reissued_for_new_names_and_before_expiry(tmp_path: Path) -> None:
    prov, out = tmp_path / "prov", tmp_path / "out"
    inventory = load_inventory(INVENTORY)
    write_broker_files(prov, inventory, _plan(out), ["mqtt.example.org"], NOW)
    ca, cert = (out / "ca.pem").read_bytes(), (out / "server.pem").read_bytes()
    write_broker_files(prov, inventory, _plan(out), ["mqtt.example.org", "10.0.0.5"], NOW)
    renamed = (out / "server.pem").read_bytes()
    assert renamed != cert and pki.server_hostnames(renamed) == ["mqtt.example.org", "10.0.0.5"]
    # 20 days before it expires (the margin is 30): a new one, same CA.
    late = pki.expires_at(renamed) - dt.timedelta(days=20)
    write_broker_files(prov, inventory, _plan(out), ["mqtt.example.org", "10.0.0.5"], late)
    renewed = (out / "server.pem").read_bytes()
    assert renewed != renamed and pki.expires_at(renewed) == late + dt.timedelta(days=730)
    assert (out / "ca.pem").read_bytes() == ca


def test_a_node_leaving_the_inventory_loses_its_lines(tmp_path: Path) -> None:
    prov, out = tmp_path / "prov", tmp_path / "out"
    inventory = load_inventory(INVENTORY)
    with CredentialStore(prov).update() as creds:
        creds.issue("pi-a", Role.NODE, "hq", NOW)
        creds.issue("pi-b", Role.NODE, "hq", NOW)
    write_broker_files(prov, inventory, _plan(out), ["localhost"], NOW)
    assert "pi-b:" in (out / "passwords").read_text()
    data = inventory.model_dump(mode="json")
    data["sites"][0]["nodes"] = [n for n in data["sites"][0]["nodes"] if n["id"] != "pi-b"]
    data["sites"][0]["desks"] = [d for d in data["sites"][0]["desks"] if d["id"] != "hq-3"]
    smaller = Inventory.model_validate(data)
    assert refresh_broker(prov, smaller) is False  # no pid file: nothing to reload
    passwords, acl = (out / "passwords").read_text(), (out / "acl").read_text()
    assert "pi-b" not in passwords and "pi-b" not in acl  # neither pi-b nor pi-b.doctor
    assert "pi-a:" in passwords and "user pi-a\n" in acl
    assert [line.split(":")[0] for line in passwords.splitlines()[1:]] == [
        "hubsense_api",
        "hubsense_ingest",
        "pi-a",
        "pi-a.doctor",
    ]
    hashes = dict(line.split(":", 1) for line in passwords.splitlines()[1:])
    assert hashes["pi-a.doctor"] == hashes["pi-a"]  # the doctor's login takes the node's secret


def _listener_sections(config: str) -> dict[str, list[str]]:
    """Each `listener` line with the lines after it, up to the next listener."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in config.splitlines():
        if line.startswith("listener "):
            current = sections.setdefault(line, [])
        elif current is not None:
            current.append(line)
    return sections


def test_on_the_nodes_listener_a_client_id_is_its_username(tmp_path: Path) -> None:
    """Node B's credentials cannot connect as node A: the TLS listener ignores sent ids."""
    prov, out = tmp_path / "prov", tmp_path / "out"
    write_broker_files(prov, load_inventory(INVENTORY), _plan(out), ["localhost"], NOW)
    for name in ("mosquitto.conf", "hubsense.conf"):
        sections = _listener_sections((out / name).read_text())
        assert "use_username_as_clientid true" in sections["listener 18883 0.0.0.0"], name
    # The services' plain loopback listener keeps the client ids they send (one per worker).
    full = _listener_sections((out / "mosquitto.conf").read_text())
    assert "use_username_as_clientid true" not in full["listener 1883 127.0.0.1"]
