"""A broker restart in the middle of a backfill loses nothing (QoS 1 resends; dups allowed)."""

from __future__ import annotations

import json
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from hubsense.simulators.fleet import backfill
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hubsense.inventory.model import Inventory

pytestmark = [pytest.mark.service, pytest.mark.chaos, pytest.mark.slow]

T0 = 1_772_406_000_000


def test_broker_restart_during_backfill_loses_nothing(inventory: Inventory, make_broker) -> None:  # type: ignore[no-untyped-def]
    broker = make_broker()
    seen: dict[tuple[str, int], int] = {}
    lock = threading.Lock()

    def on_message(client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        body = json.loads(message.payload)
        with lock:
            for event in body["events"]:
                key = (body["node"], event["seq"])
                seen[key] = seen.get(key, 0) + 1

    # A persistent subscriber session, so the broker queues for it across the restart.
    sub = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="sim-chaos-sub",
        protocol=mqtt.MQTTv5,
    )
    sub.on_message = on_message
    sub.on_connect = lambda client, *args: client.subscribe("hubsense/v1/+/+/events", qos=1)
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600
    sub.connect(broker.host, broker.port, clean_start=False, properties=properties)
    sub.loop_start()
    time.sleep(0.5)
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["ok"] = backfill(
                inventory, broker.url, duration_s=60 * 86_400, seed=5, end_ms=T0 + 60 * 86_400_000
            )
        except Exception as error:
            result["error"] = error

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.7)
    assert worker.is_alive(), "the backfill ended before the restart; make it longer"
    broker.restart()
    worker.join(300)
    assert "error" not in result, result.get("error")
    summary, seqs = result["ok"]  # type: ignore[misc]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(seen) < summary.events:
        time.sleep(0.2)
    sub.disconnect()
    sub.loop_stop()
    expected = {(node, seq) for node, top in seqs.items() for seq in range(top)}
    assert set(seen) == expected and len(expected) == summary.events
