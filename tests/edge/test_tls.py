"""TLS, per-node username/password and the broker's ACL, as a deployed node meets them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from edge_helpers import Collector, node_config
from gpiozero.pins.mock import MockFactory
from hubsense.edge.doctor import run_checks
from hubsense.edge.embed import AgentThread
from support.waiting import wait_for

from hubsense.checks import Status

pytestmark = pytest.mark.service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def secure_broker(tmp_path: Path, make_broker: Any) -> Iterator[tuple[Any, int, Path]]:
    """A broker with a TLS listener, passwords and an ACL: each node writes only its topics.

    Like the broker `provision broker` configures: on the TLS listener a client's id is its
    username, and the doctor's login `pi-t.doctor` takes pi-t's secret and pi-t's topics.
    """
    # Not under tmp_path: pytest's 0700 directories are closed to the broker's user (mosquitto).
    d = Path(tempfile.mkdtemp(prefix="edge-pki-"))
    os.chmod(d, 0o755)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    passwd = d / "passwd"
    passwd.write_text("")
    for user, password in (("pi-t", "s3cret"), ("pi-t.doctor", "s3cret"), ("collector", "c0llect")):
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
    (d / "acl").write_text(
        "user collector\ntopic read hubsense/#\n\n"
        "user pi-t.doctor\ntopic readwrite hubsense/v1/edge-site/pi-t/#\n\n"
        "pattern readwrite hubsense/v1/edge-site/%u/#\n"
    )
    for f in d.iterdir():
        os.chmod(f, 0o644)
    tls_port = _free_port()
    broker = make_broker(extra_lines=[
        f"listener {tls_port} 127.0.0.1", "use_username_as_clientid true",
        f"certfile {d / 'cert.pem'}", f"keyfile {d / 'key.pem'}",
        "allow_anonymous false", f"password_file {passwd}", f"acl_file {d / 'acl'}",
    ])  # fmt: skip
    yield broker, tls_port, d
    shutil.rmtree(d)


def write_config(tmp_path: Path, tls_port: int, pki: Path, node: str, password: str) -> Path:
    (tmp_path / "pw").write_text(password + "\n")
    config = node_config(
        tmp_path / f"state-{node}-{password}", f"mqtts://127.0.0.1:{tls_port}", node, pins=1,
        broker={"url": f"mqtts://127.0.0.1:{tls_port}", "username": "pi-t",
                "password_file": str(tmp_path / "pw"), "ca_file": str(pki / "cert.pem")},
    )  # fmt: skip
    path = tmp_path / f"{node}.yaml"
    path.write_text(config.model_dump_json())
    return path


def test_agent_over_tls_with_its_own_credentials(tmp_path: Path, secure_broker: Any) -> None:
    from hubsense.node_config import load_node_config

    broker, tls_port, pki = secure_broker
    collector = Collector(broker.url, "collector", "c0llect")
    try:
        config = load_node_config(write_config(tmp_path, tls_port, pki, "pi-t", "s3cret"))
        agent = AgentThread(config, pin_factory=MockFactory()).start()
        agent.pin(17).drive_high()
        wait_for(lambda: any(e.get("state") == "occupied" for e in collector.events), what="event")
        agent.stop()
        wait_for(lambda: collector.status.get("pi-t", {}).get("online") is False, what="offline")
    finally:
        collector.close()
    assert [e["type"] for e in collector.events][:2] == ["desk", "alive"]


def test_doctor_names_wrong_password_and_denied_topics(tmp_path: Path, secure_broker: Any) -> None:
    _broker, tls_port, pki = secure_broker
    good = {
        c.name: c
        for c in run_checks(
            write_config(tmp_path, tls_port, pki, "pi-t", "s3cret"), 2, MockFactory()
        )
    }
    assert good["credentials accepted"].status is Status.PASS
    assert good["publish allowed on own topics"].status is Status.PASS
    assert good["subscribe allowed on config"].status is Status.PASS
    assert good["other nodes' topics denied"].status is Status.PASS
    assert "Not authorized" in good["other nodes' topics denied"].detail

    wrong = {
        c.name: c
        for c in run_checks(write_config(tmp_path, tls_port, pki, "pi-t", "nope"), 2, MockFactory())
    }
    assert wrong["broker reachable"].status is Status.PASS
    assert wrong["credentials accepted"].status is Status.FAIL
    assert "password" in wrong["credentials accepted"].fix

    # pi-t's credentials on another node's topics: the ACL refuses them.
    other = {
        c.name: c
        for c in run_checks(
            write_config(tmp_path, tls_port, pki, "pi-other", "s3cret"), 2, MockFactory()
        )
    }
    assert other["credentials accepted"].status is Status.PASS
    assert other["publish allowed on own topics"].status is Status.FAIL
    # Mosquitto grants a SUBACK for a topic its ACL will not deliver, so the subscribe check
    # can only report what the broker said.
    assert "Granted" in other["subscribe allowed on config"].detail
    assert "ACL" in other["publish allowed on own topics"].fix


# paho 2 leaves the socket of a failed TLS handshake to the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_wrong_ca_is_logged_with_its_reason_and_shown_by_the_doctor(
    tmp_path: Path, secure_broker: Any
) -> None:
    """A man in the middle (or a wrong CA file): the handshake fails and says why."""
    import structlog
    from hubsense.edge.io.mqtt import MqttLink

    _broker, tls_port, _pki = secure_broker
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-keyout", str(stranger / "key.pem"),
         "-out", str(stranger / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    path = write_config(tmp_path, tls_port, stranger, "pi-t", "s3cret")
    from hubsense.node_config import load_node_config

    config = load_node_config(path)
    with structlog.testing.capture_logs() as logs:
        link = MqttLink(config, lambda _event: None, max_in_flight=1)
        link.start()
        try:
            wait_for(lambda: link.last_error is not None, what="the failed handshake")
        finally:
            link.stop()
    # The broker's certificate is not the one the node trusts.
    assert link.last_error == "TLS handshake failed: self-signed certificate"
    failed = [entry for entry in logs if entry["event"] == "mqtt_connect_failed"]
    assert failed and failed[0]["tls"] is True and failed[0]["reason"] == link.last_error
    checks = {c.name: c for c in run_checks(path, 2, MockFactory())}
    assert checks["broker reachable"].status is Status.FAIL
    assert "CERTIFICATE_VERIFY_FAILED" in checks["broker reachable"].detail


def test_the_doctor_does_not_take_the_running_agents_place(
    tmp_path: Path, secure_broker: Any
) -> None:
    """Same credentials, another client id: the agent stays connected while doctor runs."""
    from hubsense.node_config import load_node_config

    broker, tls_port, pki = secure_broker
    collector = Collector(broker.url, "collector", "c0llect")
    path = write_config(tmp_path, tls_port, pki, "pi-t", "s3cret")
    agent = AgentThread(load_node_config(path), pin_factory=MockFactory()).start()
    try:
        wait_for(lambda: agent.connected, what="the agent connected")
        wait_for(lambda: collector.status.get("pi-t", {}).get("online"), what="online")
        disconnects = []
        agent.agent.link._client.on_disconnect = lambda *args: disconnects.append(args)
        checks = {c.name: c for c in run_checks(path, 2, MockFactory())}
        assert checks["credentials accepted"].status is Status.PASS
        assert checks["other nodes' topics denied"].status is Status.PASS
        assert agent.connected and disconnects == []
        assert collector.status["pi-t"]["online"] is True
    finally:
        agent.stop()
        collector.close()
