"""The generated configuration on a real Mosquitto 2: who may publish and read what.

Also revoke, rotate and TLS.

A denial is proven by non-delivery to a client that would see the message,
next to a positive control in the same test that shows the watcher works.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ssl
import stat
from pathlib import Path

import pytest
from hubsense.devstack.ports import free_port
from hubsense.provision import pki
from hubsense.provision.acl import API_USER, INGEST_USER
from hubsense.provision.fleet import BundleOptions, revoke_node, rotate_node
from hubsense.provision.verify import Login, ProbeClient, VerifyTarget, verify
from provision_helpers import INVENTORY_FILE, SecuredBroker, now, refused

from hubsense.mqtt_url import MqttUrl

pytestmark = pytest.mark.service


def _payloads(client: ProbeClient) -> list[tuple[str, bytes]]:
    return list(client.out.messages)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_anonymous_and_wrong_passwords_are_refused(secured: SecuredBroker, tls: bool) -> None:
    for login in (Login("", ""), Login("pi-a", "not-the-secret"), Login("nobody", "x")):
        # An empty username: a truly anonymous CONNECT (no username field at all).
        client = ProbeClient(secured.url(tls), login, secured.ca_file, "anon")
        client.connect()
        assert client.out.connack_ok is False
        assert client.out.connack in {"Not authorized", "Bad user name or password"}


def test_node_cannot_publish_as_another_node(secured: SecuredBroker) -> None:
    watcher = secured.probe(INGEST_USER)
    assert watcher.out.connack_ok
    watcher.subscribe("hubsense/v1/#")
    foreign = [
        "hubsense/v1/hq/pi-b/events",  # another node of its site
        "hubsense/v1/hq/pi-b/status",
        "hubsense/v1/hub-1/pi-h/events",  # a node of another site
        "hubsense/v1/hub-1/pi-a/events",  # itself, under another site
    ]
    for topic in foreign:
        node = secured.probe("pi-a")
        assert node.out.connack_ok
        ack = node.publish(topic, b'{"spoof":"' + topic.encode() + b'"}')
        assert refused(ack, node), (topic, ack)
        node.close()
    own = secured.probe("pi-a")
    assert own.publish("hubsense/v1/hq/pi-a/events", b"own-events") == (0, "Success")
    assert own.publish("hubsense/v1/hq/pi-a/status", b"own-status") == (0, "Success")
    own.close()
    assert watcher.pump(lambda: len(_payloads(watcher)) >= 2, 10.0)
    watcher.listen(0.5)
    assert _payloads(watcher) == [
        ("hubsense/v1/hq/pi-a/events", b"own-events"),
        ("hubsense/v1/hq/pi-a/status", b"own-status"),
    ]
    watcher.close()


def test_node_cannot_read_another_nodes_config(secured: SecuredBroker) -> None:
    api = secured.probe(API_USER)
    for node, site in (("pi-a", "hq"), ("pi-b", "hq"), ("pi-h", "hub-1")):
        topic = f"hubsense/v1/{site}/{node}/config"
        ack = api.publish(topic, b'{"node":"' + node.encode() + b'","heartbeat_s":30}', retain=True)
        assert ack is not None and ack[0] < 0x80, ack
    api.listen(0.3)
    api.close()
    # Retained configs of all three exist; pi-a asks for everything and for pi-b's by name.
    reader = secured.probe("pi-a")
    reader.subscribe("hubsense/v1/#")
    reader.subscribe("hubsense/v1/hq/pi-b/config")
    ingest = secured.probe(INGEST_USER)
    ingest.subscribe("hubsense/v1/+/+/config")
    assert reader.pump(lambda: bool(reader.out.messages), 10.0)
    reader.listen(0.7)
    ingest.listen(0.3)
    assert _payloads(reader) == [
        ("hubsense/v1/hq/pi-a/config", b'{"node":"pi-a","heartbeat_s":30}')
    ]
    assert _payloads(ingest) == []
    reader.close()
    ingest.close()
    # A node may not write config, its own included.
    writer = secured.probe("pi-b")
    assert refused(writer.publish("hubsense/v1/hq/pi-b/config", b'{"node":"pi-b"}'), writer)
    writer.close()


def test_revoked_node_is_cut_off_and_refused(secured: SecuredBroker) -> None:
    connected = secured.probe("pi-h")
    assert connected.out.connack_ok
    result = revoke_node(secured.provision_dir, secured.inventory, "pi-h", now())
    assert result.broker_reloaded is True
    # Mosquitto re-checks connected clients against the reloaded files.
    connected.pump(lambda: connected.out.disconnected is not None, 5.0)
    assert connected.out.disconnected is not None
    again = secured.probe("pi-h")
    assert again.out.connack_ok is False and again.out.connack == "Not authorized"
    passwords = (Path(secured.broker.directory) / "auth" / "passwords").read_text()
    acl = (Path(secured.broker.directory) / "auth" / "acl").read_text()
    assert "pi-h:" not in passwords and "user pi-h" not in acl
    assert "pi-a:" in passwords and "user pi-a" in acl


def test_rotated_secret_works_and_the_old_one_does_not(
    secured: SecuredBroker, tmp_path: Path
) -> None:
    old = secured.secrets["pi-b"]
    result = rotate_node(
        secured.provision_dir,
        secured.inventory,
        "pi-b",
        BundleOptions(out_dir=tmp_path, broker_url=f"mqtts://127.0.0.1:{secured.tls_port}"),
        now(),
    )
    assert result.generation == 2 and result.broker_reloaded
    new = (tmp_path / "pi-b" / "mqtt-password").read_text().strip()
    assert new != old and len(new) == 43
    secured.secrets["pi-b"] = new
    fresh = secured.probe("pi-b")
    assert fresh.out.connack_ok
    assert fresh.publish("hubsense/v1/hq/pi-b/events", b"x") is not None
    fresh.close()
    stale = ProbeClient(secured.url(), Login("pi-b", old), secured.ca_file, "stale")
    stale.connect()
    assert stale.out.connack_ok is False and stale.out.connack == "Not authorized"


def test_tls_with_the_generated_ca_works_and_a_wrong_ca_fails(
    secured: SecuredBroker, tmp_path: Path
) -> None:
    good = secured.probe("pi-a")
    assert good.out.connack_ok
    good.close()
    other = pki.create_ca("Test Region", now())
    wrong = tmp_path / "other-ca.pem"
    wrong.write_bytes(other.cert_pem)
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        secured.probe("pi-a", ca_file=wrong)
    # Plain MQTT on the TLS port gets no CONNACK.
    plain_to_tls = ProbeClient(
        MqttUrl("127.0.0.1", secured.tls_port, False), secured.login("pi-a"), None, "plain"
    )
    with contextlib.suppress(OSError):
        plain_to_tls.connect()
    assert plain_to_tls.out.connack_ok is False


def test_broker_files_hold_no_secret_and_are_private(secured: SecuredBroker) -> None:
    auth = Path(secured.broker.directory) / "auth"
    texts = {path.name: path.read_bytes() for path in auth.iterdir() if path.is_file()}
    assert set(texts) >= {
        "passwords",
        "acl",
        "ca.pem",
        "server.pem",
        "server.key",
        "hubsense.conf",
        "mosquitto.conf",
    }
    for secret in [*secured.secrets.values(), secured.login(INGEST_USER).password]:
        assert all(secret.encode() not in text for text in texts.values())
    for name in ("passwords", "acl", "server.key"):
        assert stat.S_IMODE((auth / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((secured.provision_dir / "ca.key").stat().st_mode) == 0o600
    conf = texts["hubsense.conf"].decode().splitlines()
    assert conf[1:5] == [
        "allow_anonymous false",
        f"password_file {auth}/passwords",
        f"acl_file {auth}/acl",
        f"listener {secured.tls_port} 127.0.0.1",
    ]
    assert str(INVENTORY_FILE) in (secured.provision_dir / "broker.json").read_text()


def test_verify_reports_a_wrong_ca_and_an_unreachable_broker(
    secured: SecuredBroker, tmp_path: Path
) -> None:
    wrong = tmp_path / "other-ca.pem"
    wrong.write_bytes(pki.create_ca("Test Region", now()).cert_pem)
    target = VerifyTarget(
        site="hq",
        node="pi-a",
        url=secured.url(),
        node_login=secured.login("pi-a"),
        node_ca=wrong,
        ingest_login=secured.login(INGEST_USER),
        api_login=secured.login(API_USER),
        server_ca=secured.ca_file,
    )
    checks = verify(target)
    assert [(c.status.value, c.name) for c in checks[:2]] == [
        ("FAIL", "TLS: broker certificate trusted"),
        ("SKIP", "credentials accepted"),
    ]
    assert "CERTIFICATE_VERIFY_FAILED" in checks[0].detail
    assert [c.status.value for c in checks[2:]] == ["SKIP"] * 5
    closed = dataclasses.replace(target, url=MqttUrl("127.0.0.1", free_port(), True))
    checks = verify(closed)
    assert (checks[0].status.value, checks[0].name) == ("FAIL", "broker reachable")
    assert "Connection refused" in checks[0].detail and len(checks) == 7
