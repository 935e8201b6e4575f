"""End-to-end fuzz helpers: the fuzz inventory in PostgreSQL, a careful paho publisher, ingest
in a thread. A uniquely named module (not conftest) so imports never collide."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from fuzz_cases import INVENTORY
from hubsense.ingest.service import IngestStats, run

from hubsense.mqtt_url import parse_mqtt_url
from hubsense.settings import IngestSettings, Settings

# PUBACK 0x10: no subscriber matched, the broker dropped it (see tests/ingest/conftest.py).
NO_MATCHING_SUBSCRIBERS = 0x10


def insert_inventory(dsn: str) -> None:
    """The same organisation as fuzz_cases.INVENTORY, with pi-old retired."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for site in ("hq", "hub-1"):
            conn.execute("INSERT INTO sites (id, name, kind, timezone)"
                         " VALUES (%s, %s, 'office', 'Europe/Stockholm')", (site, site))
        nodes = {**{n: s for n, s in INVENTORY.node_site.items()}, "pi-old": "hq"}
        for node, site in nodes.items():
            conn.execute(
                "INSERT INTO nodes (id, site_id, heartbeat_s, retired_at) VALUES (%s, %s, 60, %s)",
                (node, site, "2026-01-01T00:00:00Z" if node == "pi-old" else None))
            for pin, desk in enumerate(sorted(INVENTORY.node_desks.get(node, ())), start=17):
                conn.execute("INSERT INTO desks (id, site_id) VALUES (%s, %s)", (desk, site))
                conn.execute("INSERT INTO sensors (node_id, key, type, desk_id)"
                             " VALUES (%s, %s, 'gpio_pir', %s)", (node, f"gpio:{pin}", desk))


def query(dsn: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def wait_for(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)
    return value


class Publisher:
    """paho MQTT 5, QoS 1, windows of publishes; what the broker dropped is sent again."""

    def __init__(self, url: str) -> None:
        parsed = parse_mqtt_url(url)
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"fuzz-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
        self.reasons: dict[int, int] = {}
        self.client.on_publish = lambda c, u, mid, reason, p: self.reasons.__setitem__(
            mid, int(reason.value))
        self.client.max_queued_messages_set(0)
        self.client.connect(parsed.host, parsed.port, keepalive=30)
        self.client.loop_start()

    def publish_many(self, messages: list[tuple[str, bytes]], window: int = 200) -> None:
        for start in range(0, len(messages), window):
            chunk = messages[start:start + window]
            for _ in range(50):
                infos = [self.client.publish(t, p, qos=1) for t, p in chunk]
                for info in infos:
                    info.wait_for_publish(30)
                chunk = [m for m, i in zip(chunk, infos, strict=True)
                         if self.reasons.get(i.mid) == NO_MATCHING_SUBSCRIBERS]
                if not chunk:
                    break
                time.sleep(0.1)
            assert not chunk, "the broker kept dropping messages (no subscriber)"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class IngestThread:
    """`hubsense.ingest.service.run` on a thread with its own worker id and share group."""

    def __init__(self, dsn: str, url: str) -> None:
        tag = uuid.uuid4().hex[:8]
        self.settings = Settings(ingest=IngestSettings(
            worker_id=f"fz-{tag}", share_group=f"fz-{tag}", batch_max_ms=100, session_expiry_s=0))
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.latest: IngestStats | None = None
        self.result: IngestStats | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(dsn, url), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.ready.wait(0.1):
            assert self.error is None, f"ingest failed to start: {self.error!r}"
            assert time.monotonic() < deadline, "ingest did not subscribe"

    def _run(self, dsn: str, url: str) -> None:
        try:
            self.result = run(self.settings, self.stop, self._stats, dsn=dsn, mqtt_url=url,
                              ready=self.ready)
        except BaseException as error:
            self.error = error

    def _stats(self, stats: IngestStats) -> None:
        self.latest = stats

    def acked(self) -> int:
        return self.latest.messages_acked if self.latest else 0

    def close(self) -> IngestStats:
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive() and self.error is None, self.error
        assert self.result is not None
        return self.result
