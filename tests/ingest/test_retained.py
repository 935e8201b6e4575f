"""Ingest ignores retained messages when it subscribes (MQTT 5, 4.8.2).

A shared subscription gets no retained messages by the standard; Mosquitto
2.0.11 sends them anyway, so without retain handling every (re)subscribe would
replay every node's retained status (unknown nodes' ones as dead letters).
"""

from __future__ import annotations

import time
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from ingest_helpers import alive_message, events_topic
from support.database import query
from support.waiting import wait_for

from hubsense.mqtt_url import parse_mqtt_url

pytestmark = pytest.mark.service


def _publish_retained(url: str, topic: str, payload: bytes) -> None:
    parsed = parse_mqtt_url(url)
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5
    )
    client.connect(parsed.host, parsed.port)
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def test_retained_statuses_are_not_replayed_to_a_new_ingest(
    dsn: str, publisher: Any, start_ingest: Any, make_broker: Any
) -> None:
    broker = make_broker()
    stranger = "hubsense/v1/elsewhere/pi-stranger/status"
    _publish_retained(broker.url, stranger, b'{"node":"pi-stranger","online":false}')
    _publish_retained(broker.url, "hubsense/v1/hq/pi-a/status", b'{"node":"pi-a","online":true}')
    ingest = start_ingest(dsn, url=broker.url)
    from support.mqtt_clients import Publisher

    own = Publisher(broker.url, "retained")
    try:
        own.publish(events_topic("pi-a"), alive_message("pi-a", range(1, 4)))
        wait_for(lambda: query(dsn, "SELECT count(*) FROM events")[0][0] == 3, what="3 rows")
        time.sleep(0.5)  # anything retained would have arrived with the subscription
        stats = ingest.close()
    finally:
        own.client.disconnect()
        own.client.loop_stop()
    assert (stats.messages, stats.statuses, stats.dead_letters) == (1, 0, 0)
    assert query(dsn, "SELECT count(*) FROM dead_letters")[0][0] == 0
