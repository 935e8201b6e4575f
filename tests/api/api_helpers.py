"""API test helpers: the inventory, settings, the API served by uvicorn in a thread, ingest.

A uniquely named module (not conftest) so `from api_helpers import …` never
resolves to another folder's conftest.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from hubsense.api.app import run_api
from hubsense.devstack.ports import free_port
from support.database import insert_node

from hubsense.clock import Clock, wall_clock
from hubsense.settings import (
    ApiSettings,
    BookingSettings,
    PrivacySettings,
    Settings,
)

SITE = "hq"
HUB = "hub-north"
# site -> (kind, node -> [(desk, zone)])
INVENTORY: dict[str, tuple[str, dict[str, list[tuple[str, str]]]]] = {
    SITE: (
        "office",
        {"pi-a": [("d-1", "floor-3"), ("d-2", "floor-3")], "pi-b": [("d-3", "floor-4")]},
    ),
    HUB: ("hub", {"pi-h": [("h-1", "room-a"), ("h-2", "room-a"), ("h-3", "room-b")]}),
}
ALL_DAY = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
SALT = "test-salt"


def insert_inventory(dsn: str) -> None:
    """Both test sites, open all day, with their nodes, desks, zones and PIR sensors."""
    import json

    with psycopg.connect(dsn, autocommit=True) as conn:
        for site, (kind, nodes) in INVENTORY.items():
            conn.execute(
                """INSERT INTO sites (id, name, kind, municipality, timezone, opening_hours,
                   area_m2, cost_per_desk_month)
                   VALUES (%s, %s, %s, 'Östersund', 'Europe/Stockholm', %s, %s, %s)""",
                (site, f"{site.upper()} place", kind, json.dumps(ALL_DAY), 120.0, 250.0),
            )
            for node, desks in nodes.items():
                insert_node(conn, site, node, dict(desks))


@dataclass(frozen=True)
class Keys:
    facilities: str
    hub_manager: str  # of HUB only
    booking_tool: str


def api_settings(**sections: Any) -> Settings:
    fields: dict[str, Any] = {
        "api": ApiSettings(hub_poll_s=0.2),
        "privacy": PrivacySettings(booker_salt=SALT),  # type: ignore[arg-type]
        "bookings": BookingSettings(),
    }
    fields |= sections
    return Settings(**fields)


class ApiServer:
    """`run_api` in a thread on a free port; `.url`, `.client(key)`, `.close()`."""

    def __init__(
        self,
        settings: Settings,
        dsn: str,
        mqtt_url: str | None,
        watcher: bool,
        clock: Clock = wall_clock,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._run, args=(settings, dsn, mqtt_url, watcher, clock), daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.ready.wait(0.1):
            assert self.thread.is_alive(), f"the API did not start: {self.error!r}"
            assert time.monotonic() < deadline, "the API did not start in 60 s"

    def _run(
        self, settings: Settings, dsn: str, mqtt_url: str | None, watcher: bool, clock: Clock
    ) -> None:
        try:
            run_api(
                settings,
                "127.0.0.1",
                self.port,
                self.stop,
                dsn=dsn,
                mqtt_url=mqtt_url,
                ready=self.ready,
                watcher=watcher,
                clock=clock,
            )
        except BaseException as error:
            self.error = error
            raise

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the API did not stop"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


class Subscriber:
    """A real paho MQTT 5 subscriber collecting (topic, payload, retain, qos)."""

    def __init__(self, url: str, topic: str) -> None:
        import paho.mqtt.client as mqtt

        from hubsense.mqtt_url import parse_mqtt_url

        parsed = parse_mqtt_url(url)
        self.messages: list[tuple[str, bytes, bool, int]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"test-sub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.client.on_message = lambda c, u, m: self.messages.append(
            (m.topic, m.payload, bool(m.retain), m.qos)
        )
        self.client.connect(parsed.host, parsed.port, keepalive=30)
        self.client.loop_start()
        assert self.subscribed.wait(10), "subscription not granted"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class WebhookReceiver:
    """A local HTTP server (http.server, free port) recording POSTs; fails the first `fail`."""

    def __init__(self, fail: int = 0) -> None:
        import http.server

        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        self.fail = fail
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = 500 if len(receiver.requests) < receiver.fail else 204
                receiver.requests.append((dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/release"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sense_desks(publisher: Any, dsn: str, node: str, states: dict[str, str]) -> None:
    """`node` of SITE says alive and each desk's PIR state 2 s ago, over MQTT; returns once
    ingest has stored them (so a booking starting now sees them as what was before it)."""
    ts = now_ms() - 2000
    events: list[dict[str, Any]] = [{"seq": 1, "ts": ts, "type": "alive"}]
    for seq, (desk, state) in enumerate(states.items(), start=2):
        events.append(
            {"seq": seq, "ts": ts, "type": "desk", "desk": desk, "source": "pir", "state": state}
        )
    publisher.publish_events(SITE, node, events)
    sql = "SELECT count(*) FROM events WHERE node_id = %s"

    def stored() -> bool:
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute(sql, (node,)).fetchone()
        return row is not None and row[0] == len(events)

    deadline = time.monotonic() + 10
    while not stored():
        assert time.monotonic() < deadline, "ingest did not store the events in 10 s"
        time.sleep(0.05)
