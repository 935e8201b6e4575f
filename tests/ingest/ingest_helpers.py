"""Fixtures for the ingest tests: an inventory in a fresh database, real paho publishers,
ingest in a thread or as a `hubsense ingest run` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from hubsense.ingest.service import IngestStats, client_id, run
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hubsense.mqtt_url import parse_mqtt_url
from hubsense.settings import IngestSettings, Settings

SITE = "hq"
OTHER_SITE = "hub-1"
# node -> desks it senses
NODES = {"pi-a": ["d-1", "d-2"], "pi-b": ["d-3"], "pi-c": []}
OTHER_NODES = {"pi-h": ["h-1"]}
HUBSENSE = str(Path(sys.executable).parent / "hubsense")


def events_topic(node: str, site: str = SITE) -> str:
    return f"hubsense/v1/{site}/{node}/events"


def alive_message(node: str, seqs: range | list[int], ts0_ms: int = 1_764_000_000_000) -> bytes:
    events = [{"seq": seq, "ts": ts0_ms + seq, "type": "alive"} for seq in seqs]
    return json.dumps({"node": node, "events": events}, separators=(",", ":")).encode()


def desk_message(
    node: str, seq: int, desk: str, state: str, ts_ms: int, source: str = "pir"
) -> bytes:
    event = {
        "seq": seq,
        "ts": ts_ms,
        "type": "desk",
        "desk": desk,
        "source": source,
        "state": state,
    }
    return json.dumps({"node": node, "events": [event]}).encode()


def _insert_inventory(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for site, nodes in ((SITE, NODES), (OTHER_SITE, OTHER_NODES)):
            conn.execute(
                "INSERT INTO sites (id, name, kind, timezone)"
                " VALUES (%s, %s, 'office', 'Europe/Stockholm')",
                (site, site.upper()),
            )
            for node, desks in nodes.items():
                conn.execute(
                    "INSERT INTO nodes (id, site_id, heartbeat_s) VALUES (%s, %s, 60)", (node, site)
                )
                for pin, desk in enumerate(desks, start=17):
                    conn.execute("INSERT INTO desks (id, site_id) VALUES (%s, %s)", (desk, site))
                    conn.execute(
                        "INSERT INTO sensors (node_id, key, type, desk_id)"
                        " VALUES (%s, %s, 'gpio_pir', %s)",
                        (node, f"gpio:{pin}", desk),
                    )


@pytest.fixture(scope="module")
def inventory_dsn(db_dsn: str) -> str:
    _insert_inventory(db_dsn)
    return db_dsn


@pytest.fixture
def dsn(inventory_dsn: str) -> str:
    """The module's database with its inventory and no events, dead letters or statuses."""
    with psycopg.connect(inventory_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE events, dead_letters, node_status")
    return inventory_dsn


def query(dsn: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def release_sockets(client: mqtt.Client) -> None:
    """Close paho's wake-up socket pair now; paho leaves it to garbage collection, and a
    collection in the middle of another test turns it into a ResourceWarning there."""
    client._reset_sockets()


def wait_for(check: Callable[[], Any], timeout_s: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s} s waiting for {what}; last: {value!r}"
            )
        time.sleep(0.05)


# PUBACK reason 0x10: the broker had no subscriber for it and dropped it. Mosquitto 2.0.11
# does not persist shared subscriptions, so right after a broker restart, until ingest
# has subscribed again, this is what a publish gets; a careful publisher sends it again.
NO_MATCHING_SUBSCRIBERS = 0x10


class Publisher:
    """A real paho MQTT 5 publisher at QoS 1 that republishes what the broker did not take."""

    def __init__(self, url: str, name: str = "pub") -> None:
        parsed = parse_mqtt_url(url)
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"test-{name}-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.reconnect_delay_set(0.1, 1.0)
        self.reasons: dict[int, int] = {}
        self.client.on_publish = self._on_publish
        # paho reuses packet ids past 65,535 unacked publishes: keep the window far below.
        self.client.max_queued_messages_set(0)
        self.client.connect(parsed.host, parsed.port, keepalive=30)
        self.client.loop_start()

    def publish(self, topic: str, payload: bytes, timeout_s: float = 30.0) -> None:
        self.publish_many([(topic, payload)], timeout_s=timeout_s)

    def publish_many(
        self, messages: list[tuple[str, bytes]], window: int = 500, timeout_s: float = 60.0
    ) -> None:
        """Publish in windows; a window not fully acked in time is published again."""
        deadline = time.monotonic() + timeout_s
        for start in range(0, len(messages), window):
            chunk = messages[start : start + window]
            while True:
                infos = [self.client.publish(topic, payload, qos=1) for topic, payload in chunk]
                acked = self._all_acked(infos, min(10.0, max(0.1, deadline - time.monotonic())))
                dropped = [self.reasons.get(info.mid) == NO_MATCHING_SUBSCRIBERS for info in infos]
                if acked and not any(dropped):
                    break
                if time.monotonic() > deadline:
                    raise AssertionError("broker did not take the publishes in time")
                chunk = [
                    msg
                    for msg, info, drop in zip(chunk, infos, dropped, strict=True)
                    if drop or not info.is_published()
                ]
                time.sleep(0.1)

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        # Called before the message info is marked published, so the check above sees it.
        self.reasons[mid] = int(reason.value)

    @staticmethod
    def _all_acked(infos: list[mqtt.MQTTMessageInfo], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        for info in infos:
            while not info.is_published():
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.005)
        return True

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        release_sockets(self.client)


@pytest.fixture
def publisher(mqtt_broker: Any) -> Iterator[Publisher]:
    pub = Publisher(mqtt_broker.url)
    yield pub
    pub.close()


def forget_session(url: str, worker_id: str) -> None:
    """Delete a worker's persistent session so it cannot hold messages of later tests."""
    parsed = parse_mqtt_url(url)
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id(worker_id),
        protocol=mqtt.MQTTv5,
    )
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0
    try:
        client.connect(parsed.host, parsed.port, clean_start=True, properties=properties)
        client.loop_start()
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()
    except OSError:
        pass
    release_sockets(client)


def ingest_settings(**ingest: Any) -> Settings:
    """Settings for one test: its own worker id and share group, so no old session interferes."""
    tag = uuid.uuid4().hex[:8]
    fields: dict[str, Any] = {
        "worker_id": f"w-{tag}",
        "share_group": f"g-{tag}",
        "batch_max_ms": 50,
    }
    fields |= ingest
    return Settings(ingest=IngestSettings(**fields))


class IngestThread:
    """`hubsense.ingest.service.run` in a thread, stopped like SIGTERM stops the CLI."""

    def __init__(self, settings: Settings, dsn: str, url: str) -> None:
        self.settings, self.dsn, self.url = settings, dsn, url
        self.stop = threading.Event()
        self.result: IngestStats | None = None
        self.latest: IngestStats | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.result = run(
            self.settings,
            self.stop,
            self._on_stats,
            dsn=self.dsn,
            mqtt_url=self.url,
            ready=self.ready,
        )

    def _on_stats(self, stats: IngestStats) -> None:
        self.latest = stats

    def close(self) -> IngestStats:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "ingest did not stop"
        assert self.result is not None
        return self.result


@pytest.fixture
def start_ingest(mqtt_broker: Any) -> Iterator[Callable[..., IngestThread]]:
    started: list[IngestThread] = []

    def factory(dsn: str, url: str | None = None, **ingest: Any) -> IngestThread:
        runner = IngestThread(ingest_settings(**ingest), dsn, url or mqtt_broker.url)
        started.append(runner)
        # Publishes before the group has a subscriber would go nowhere.
        assert runner.ready.wait(20), "ingest did not subscribe"
        return runner

    yield factory
    for runner in started:
        if runner.thread.is_alive():
            runner.close()
        forget_session(runner.url, runner.settings.ingest.worker_id)


class IngestProcess:
    """`hubsense ingest run` as a child process, for SIGTERM and SIGKILL."""

    def __init__(
        self, dsn: str, url: str, worker_id: str, share_group: str, log_path: Path, **ingest: Any
    ) -> None:
        self.worker_id, self.url, self.log_path = worker_id, url, log_path
        env = dict(os.environ)
        env["HUBSENSE_INGEST__SHARE_GROUP"] = share_group
        for key, value in ingest.items():
            env[f"HUBSENSE_INGEST__{key.upper()}"] = str(value)
        self.log_file = log_path.open("ab")
        self.process = subprocess.Popen(
            [
                HUBSENSE,
                "--log-format",
                "json",
                "ingest",
                "run",
                "--dsn",
                dsn,
                "--mqtt-url",
                url,
                "--worker-id",
                worker_id,
            ],
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_started(self, timeout_s: float = 30.0) -> None:
        wait_for(
            lambda: b"mqtt_subscribed" in self.log_path.read_bytes(), timeout_s, "ingest process"
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)

    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
        return records

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        self.log_file.close()
