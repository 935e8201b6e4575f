"""A small organisation built in code: one office with a PIR node and a BLE node, one hub."""

from __future__ import annotations

import datetime as dt

import pytest
from support.small_org import CLOSED, build_inventory

from hubsense.inventory.model import Inventory


@pytest.fixture(scope="session")
def inventory() -> Inventory:
    return build_inventory()


@pytest.fixture(scope="session")
def closed_date() -> dt.date:
    return CLOSED


class Collector:
    """A real paho MQTT 5 subscriber that records (topic, payload, retain) of what it receives."""

    def __init__(self, url: str, client_id: str, topic: str = "hubsense/v1/#") -> None:
        import threading

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from hubsense.mqtt_url import parse_mqtt_url

        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        parsed = parse_mqtt_url(url)
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.on_connect = lambda client, *args: client.subscribe(topic, qos=1)
        self.client.connect(parsed.host, parsed.port)
        self.client.loop_start()
        assert subscribed.wait(10), "subscriber did not get SUBACK"

    def _on_message(self, client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def snapshot(self) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, predicate, timeout_s: float = 30.0) -> list[tuple[str, bytes, bool]]:  # type: ignore[no-untyped-def]
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.snapshot()
            if predicate(got):
                return got
            time.sleep(0.05)
        raise AssertionError(f"timed out; got {len(self.snapshot())} messages")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def collector(mqtt_broker):  # type: ignore[no-untyped-def]
    made: list[Collector] = []
    counter = iter(range(1000))

    def make(topic: str = "hubsense/v1/#") -> Collector:
        item = Collector(mqtt_broker.url, f"test-sub-{id(made)}-{next(counter)}", topic)
        made.append(item)
        return item

    yield make
    for item in made:
        item.close()
