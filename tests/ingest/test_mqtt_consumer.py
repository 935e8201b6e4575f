"""The paho adapter against a real Mosquitto: ingest keeps its own in-flight window."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from hubsense.ingest.mqtt_consumer import ConsumerOptions, Delivery, MqttConsumer
from support.mqtt_clients import Publisher

from hubsense.mqtt_url import parse_mqtt_url

pytestmark = pytest.mark.service


def drain(consumer: MqttConsumer, seconds: float) -> list[Delivery]:
    got: list[Delivery] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got.extend(consumer.get(0.05))
    return got


def payloads(deliveries: list[Delivery]) -> list[bytes]:
    return [delivery.payload for delivery in deliveries]


def numbered(first: int, last: int) -> list[bytes]:
    return [b"%d" % i for i in range(first, last)]


def test_window_holds_even_when_the_broker_sends_past_it(make_broker: Any) -> None:
    broker = make_broker()
    tag = uuid.uuid4().hex[:8]
    options = ConsumerOptions(
        client_id=f"hubsense-ingest-win-{tag}",
        subscriptions=(f"$share/g-{tag}/window/x",),
        receive_maximum=10,
        session_expiry_s=300,
    )
    consumer = MqttConsumer(parse_mqtt_url(broker.url), options)
    consumer.start()
    publisher = Publisher(broker.url)
    try:
        assert consumer.subscribed.wait(10)
        publisher.publish_many([("window/x", b"%d" % i) for i in range(100)])
        first = drain(consumer, 1.0)
        assert payloads(first) == numbered(0, 10)
        consumer.ack([d.ack for d in first])
        # Mosquitto 2.0.11 now sends the other 90 at once; ingest still takes only ten.
        second = drain(consumer, 1.0)
        assert payloads(second) == numbered(10, 20)
        assert consumer.held == 10
        assert drain(consumer, 1.0) == []  # the window is full: nothing more is read
        consumer.ack([d.ack for d in second])
        third = drain(consumer, 1.0)
        assert payloads(third) == numbered(20, 30)
        consumer.ack([d.ack for d in third[:4]])
        assert payloads(drain(consumer, 1.0)) == numbered(30, 34)
        assert consumer.held == 10
    finally:
        consumer.close()
        publisher.close()
