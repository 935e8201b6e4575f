"""Edge test helpers: node configs, a real paho subscriber, ingest into a real database.

A uniquely named module (not conftest) so `from edge_helpers import …` never
collides with another folder's conftest.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hubsense.edge.config import NodeConfig
from hubsense.mqtt_url import parse_mqtt_url

SITE = "edge-site"


def node_config(
    state_dir: Path, broker_url: str, node: str = "pi-e1", *, pins: int = 2, ble: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> NodeConfig:
    sensors: list[dict[str, Any]] = [
        {"type": "gpio_pir", "pin": 17 + i, "desk": f"{node}-d{i}", "hold_s": 1} for i in range(pins)
    ]
    sensors.extend(ble or [])
    data = {"node": node, "site": SITE, "broker": {"url": broker_url}, "state_dir": str(state_dir),
            "debounce_ms": 100, "tick_s": 0.05, "sensors": sensors, **extra}
    return NodeConfig.model_validate(data)


def inventory_for(*configs: NodeConfig) -> Any:
    """The organisation the nodes belong to, so ingest accepts their desks."""
    from hubsense.inventory import Inventory

    desks = sorted({s.desk for c in configs for s in c.sensors})
    return Inventory.model_validate({
        "organisation": "Edge tests",
        "sites": [{
            "id": SITE, "name": "Edge site", "kind": "office", "timezone": "Europe/Stockholm",
            "desks": [{"id": d} for d in desks],
            "nodes": [{"id": c.node, "heartbeat_s": c.heartbeat_s,
                       "sensors": [s.model_dump() for s in c.sensors]} for c in configs],
        }],
    })


class Collector:
    """A real paho MQTT 5 subscriber to every node's events and status (QoS 1)."""

    def __init__(self, url: str) -> None:
        import paho.mqtt.client as mqtt

        parsed = parse_mqtt_url(url)
        self.events: list[dict[str, Any]] = []
        self.messages = 0
        self.status: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"collector-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5,
        )
        self.subscribed = threading.Event()
        self.client.on_connect = self._connected
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._message
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect(parsed.host, parsed.port)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def _connected(self, client: Any, *_: Any) -> None:
        client.subscribe([("hubsense/v1/+/+/events", 1), ("hubsense/v1/+/+/status", 1)])

    def _message(self, _c: Any, _u: Any, message: Any) -> None:
        body = json.loads(message.payload)
        with self.lock:
            if message.topic.endswith("/events"):
                self.messages += 1
                self.events.extend(body["events"])
            elif message.payload:
                self.status[body["node"]] = body

    def seqs(self) -> list[int]:
        with self.lock:
            return [e["seq"] for e in self.events]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_for(check: Callable[[], Any], timeout_s: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


class Ingest:
    """`hubsense.ingest` running in a thread against a real database."""

    def __init__(self, dsn: str, url: str, worker: str) -> None:
        from hubsense.ingest.service import run
        from hubsense.settings import Settings

        settings = Settings.model_validate({"ingest": {"worker_id": worker, "share_group": worker}})
        self.stop_event = threading.Event()
        ready = threading.Event()
        self.thread = threading.Thread(
            target=run, args=(settings, self.stop_event),
            kwargs={"dsn": dsn, "mqtt_url": url, "ready": ready}, daemon=True,
        )
        self.thread.start()
        assert ready.wait(30), "ingest did not subscribe"

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)


def query(dsn: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def load_inventory(dsn: str, *configs: NodeConfig) -> None:
    from hubsense.db.inventory_sync import apply_inventory

    apply_inventory(dsn, inventory_for(*configs))
