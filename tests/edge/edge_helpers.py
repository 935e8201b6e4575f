"""Edge test helpers: node configs, a real paho subscriber, ingest into a real database.

A uniquely named module (not conftest) so `from edge_helpers import …` never
collides with another folder's conftest.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubsense.mqtt_url import parse_mqtt_url
from hubsense.node_config import NodeConfig

if TYPE_CHECKING:  # ingest (psycopg) is loaded only by the tests that run it
    from support.ingest_runs import IngestThread

SITE = "edge-site"


def node_config(
    state_dir: Path,
    broker_url: str,
    node: str = "pi-e1",
    *,
    pins: int = 2,
    ble: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> NodeConfig:
    sensors: list[dict[str, Any]] = [
        {"type": "gpio_pir", "pin": 17 + i, "desk": f"{node}-d{i}", "hold_s": 1}
        for i in range(pins)
    ]
    sensors.extend(ble or [])
    # This container's kernel cannot report NTP sync (adjtimex says TIME_ERROR): the
    # real processes started from these configs trust the (host-set) clock instead.
    outbox = {"wait_for_clock_sync": False, **extra.pop("outbox", {})}
    data = {
        "node": node,
        "site": SITE,
        "broker": {"url": broker_url},
        "state_dir": str(state_dir),
        "debounce_ms": 100,
        "tick_s": 0.05,
        "sensors": sensors,
        "outbox": outbox,
        **extra,
    }
    return NodeConfig.model_validate(data)


def inventory_for(*configs: NodeConfig) -> Any:
    """The organisation the nodes belong to, so ingest accepts their desks."""
    from hubsense.inventory.model import Inventory

    desks = sorted({s.desk for c in configs for s in c.sensors})
    return Inventory.model_validate(
        {
            "organisation": "Edge tests",
            "sites": [
                {
                    "id": SITE,
                    "name": "Edge site",
                    "kind": "office",
                    "timezone": "Europe/Stockholm",
                    "desks": [{"id": d} for d in desks],
                    "nodes": [
                        {
                            "id": c.node,
                            "heartbeat_s": c.heartbeat_s,
                            "sensors": [s.model_dump() for s in c.sensors],
                        }
                        for c in configs
                    ],
                }
            ],
        }
    )


class Collector:
    """A real paho MQTT 5 subscriber to every node's events and status (QoS 1)."""

    def __init__(self, url: str, username: str | None = None, password: str | None = None) -> None:
        import paho.mqtt.client as mqtt

        parsed = parse_mqtt_url(url)
        self.events: list[dict[str, Any]] = []
        self.messages = 0
        self.arrivals: list[tuple[float, int]] = []  # (monotonic s, events in the message)
        self.status: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"collector-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.subscribed = threading.Event()
        self.client.on_connect = self._connected
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._message
        self.client.reconnect_delay_set(0.1, 0.5)
        if username:
            self.client.username_pw_set(username, password)
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        # A persistent session: messages published while the broker restarts are kept for us.
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect(parsed.host, parsed.port, clean_start=False, properties=props)
        self.client.loop_start()
        assert self.subscribed.wait(10)

    def _connected(self, client: Any, *_: Any) -> None:
        client.subscribe([("hubsense/v1/+/+/events", 1), ("hubsense/v1/+/+/status", 1)])

    def _message(self, _c: Any, _u: Any, message: Any) -> None:
        body = json.loads(message.payload)
        with self.lock:
            if message.topic.endswith("/events"):
                self.messages += 1
                self.arrivals.append((time.monotonic(), len(body["events"])))
                self.events.extend(body["events"])
            elif message.payload:
                self.status[body["node"]] = body

    def seqs(self) -> list[int]:
        with self.lock:
            return [e["seq"] for e in self.events]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_ingest(dsn: str, url: str, worker: str) -> IngestThread:
    """Ingest in a thread, subscribed, with `worker` as its worker id and share group."""
    from support.ingest_runs import IngestThread

    from hubsense.settings import Settings

    settings = Settings.model_validate({"ingest": {"worker_id": worker, "share_group": worker}})
    runner = IngestThread(settings, dsn, url)
    runner.wait_ready(30)
    return runner


def load_inventory(dsn: str, *configs: NodeConfig) -> None:
    from hubsense.db.inventory_sync import apply_inventory

    apply_inventory(dsn, inventory_for(*configs))


class SimClock:
    """A wall clock in ms whose speed the test changes (24 simulated hours in seconds)."""

    def __init__(self, start_ms: int) -> None:
        self._sim_ms = float(start_ms)
        self._mono = time.monotonic()
        self.speed = 1.0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            now = time.monotonic()
            self._sim_ms += (now - self._mono) * 1000 * self.speed
            self._mono = now
            return int(self._sim_ms)

    def jump(self, delta_ms: int) -> None:
        self()
        with self._lock:
            self._sim_ms += delta_ms

    def set_speed(self, speed: float) -> None:
        self()
        with self._lock:
            self.speed = speed
