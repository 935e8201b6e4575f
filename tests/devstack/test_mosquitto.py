"""The private Mosquitto broker: generated config, round trip, persistence, lifted queue limits."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from broker_clients import Collector, publish_all
from hubsense.devstack.mosquitto import MosquittoServer, broker_config

from hubsense.errors import ServiceError


def test_config_lifts_data_losing_defaults() -> None:
    text = broker_config(
        port=18830,
        data_dir=Path("/s/data"),
        log_file=Path("/s/m.log"),
        pid_file=Path("/s/m.pid"),
        run_as="mosquitto",
        extra_lines=["password_file /s/passwd"],
    )
    lines = text.splitlines()
    assert "listener 18830 127.0.0.1" in lines
    assert "persistence true" in lines
    assert "persistence_location /s/data/" in lines
    assert "max_queued_messages 0" in lines
    assert "max_queued_bytes 0" in lines
    assert "user mosquitto" in lines
    assert "log_dest file /s/m.log" in lines
    # Extra lines come last, so they override what came before.
    assert lines[-1] == "password_file /s/passwd"


@pytest.mark.service
def test_mqtt5_round_trip(mqtt_broker: MosquittoServer) -> None:
    topic = f"hubsense/v1/t/{uuid.uuid4().hex}/events"
    sub = Collector(mqtt_broker.port, f"rt-{uuid.uuid4().hex}", clean_start=True)
    try:
        assert sub.connack == 0
        sub.subscribe(topic)
        publish_all(mqtt_broker.port, topic, [b'{"n":1}', b'{"n":2}'])
        got = sub.wait_for(2)
    finally:
        sub.close()
    assert got == [(topic, b'{"n":1}', 1), (topic, b'{"n":2}', 1)]


@pytest.mark.service
def test_queued_message_survives_broker_restart(mqtt_broker: MosquittoServer) -> None:
    topic = f"hubsense/v1/t/{uuid.uuid4().hex}/events"
    client_id = f"persist-{uuid.uuid4().hex}"
    # clean_start=False even on the first connect: see the next test for why.
    sub = Collector(mqtt_broker.port, client_id, clean_start=False)
    sub.subscribe(topic)
    sub.close()  # offline now; its session (expiry 1 h) keeps the subscription
    publish_all(mqtt_broker.port, topic, [b"kept-1", b"kept-2", b"kept-3"])

    mqtt_broker.restart()  # SIGTERM: the broker saves sessions and queues to disk

    back = Collector(mqtt_broker.port, client_id, clean_start=False)
    try:
        got = back.wait_for(3)
    finally:
        back.close()
    assert back.session_present is True
    assert got == [(topic, b"kept-1", 1), (topic, b"kept-2", 1), (topic, b"kept-3", 1)]


@pytest.mark.service
def test_clean_start_session_is_not_saved_across_restart(mqtt_broker: MosquittoServer) -> None:
    # Mosquitto 2.0.11 writes to its persistence file only sessions whose last CONNECT had
    # clean_start=0; a session opened with clean_start=1 (paho's default on a first connect)
    # keeps its queue while the broker runs but loses it on restart. Subscribers that must
    # not lose messages (ingest) therefore always connect with clean_start=False.
    topic = f"hubsense/v1/t/{uuid.uuid4().hex}/events"
    client_id = f"clean-{uuid.uuid4().hex}"
    sub = Collector(mqtt_broker.port, client_id, clean_start=True)
    sub.subscribe(topic)
    sub.close()
    publish_all(mqtt_broker.port, topic, [b"lost"])
    mqtt_broker.restart()
    back = Collector(mqtt_broker.port, client_id, clean_start=False)
    try:
        got = back.wait_for(1, timeout_s=3, idle_s=1)
    finally:
        back.close()
    assert back.session_present is False
    assert got == []


def _offline_backlog(port: int, count: int) -> list[bytes]:
    """Queue `count` QoS 1 messages for an offline client, reconnect it, return what arrives."""
    topic = f"hubsense/v1/t/{uuid.uuid4().hex}/events"
    client_id = f"backlog-{uuid.uuid4().hex}"
    sub = Collector(port, client_id, clean_start=False)
    sub.subscribe(topic)
    sub.close()
    publish_all(port, topic, [f"m{i}".encode() for i in range(count)])
    back = Collector(port, client_id, clean_start=False)
    try:
        return [payload for _, payload, _ in back.wait_for(count, timeout_s=30)]
    finally:
        back.close()


@pytest.mark.service
def test_more_than_1000_queued_messages_all_delivered(mqtt_broker: MosquittoServer) -> None:
    got = _offline_backlog(mqtt_broker.port, 2500)
    assert got == [f"m{i}".encode() for i in range(2500)]


@pytest.mark.service
def test_default_queue_limit_would_drop(make_broker) -> None:
    # Proves the test above can fail: with Mosquitto's default limit the backlog is cut.
    broker = make_broker(["max_queued_messages 1000"])
    got = _offline_backlog(broker.port, 2500)
    assert 1000 <= len(got) < 2500, len(got)
    assert got == [f"m{i}".encode() for i in range(len(got))]


@pytest.mark.service
def test_extra_lines_apply_anonymous_refused(make_broker) -> None:
    broker = make_broker(["allow_anonymous false"])
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    codes: list[int] = []
    client.on_connect = lambda c, u, f, rc, p: codes.append(rc.value)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        for _ in range(500):
            if codes:
                break
            __import__("time").sleep(0.01)
    finally:
        client.loop_stop()
    assert codes == [135]  # MQTT 5 "Not authorized"


@pytest.mark.service
def test_stop_start_and_second_handle_sees_same_broker(service_tmp_path: Path) -> None:
    broker = MosquittoServer(service_tmp_path / "mq")
    broker.start()
    try:
        other = MosquittoServer(service_tmp_path / "mq")
        assert other.is_running()
        assert other.port == broker.port
        broker.start()  # idempotent: still the same process
        pid = int((service_tmp_path / "mq" / "mosquitto.pid").read_text())
        other.stop()
        assert not broker.is_running()
        broker.start()
        assert broker.is_running()
        assert int((service_tmp_path / "mq" / "mosquitto.pid").read_text()) != pid
        assert broker.port == other.port  # the port is kept across restarts
    finally:
        broker.stop()
    assert broker.status() == {"running": False, "port": broker.port}


@pytest.mark.service
def test_taken_port_is_retried_or_reported(service_tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]

        given = MosquittoServer(service_tmp_path / "given", port=taken)
        with pytest.raises(
            ServiceError,
            match=rf"^Mosquitto on port {taken}: failed to start: .*Address already in use",
        ):
            given.start()

        chosen = MosquittoServer(service_tmp_path / "chosen")
        chosen._port = taken  # as if another process took the free port we had picked
        chosen.start()
        try:
            assert chosen.port != taken
            assert chosen.is_running()
            with pytest.raises(
                ServiceError, match=rf"already running on port {chosen.port}, not {taken}"
            ):
                MosquittoServer(service_tmp_path / "chosen", port=taken).start()
        finally:
            chosen.stop()
