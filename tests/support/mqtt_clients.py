"""Real paho MQTT 5 clients for tests: a careful QoS 1 publisher and session clean-up.

paho's types stay in here and in the tests that drive paho directly; everything else
hands over topics, payloads and URLs.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from hubsense.ingest.service import client_id
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hubsense.mqtt_url import parse_mqtt_url


def release_sockets(client: mqtt.Client) -> None:
    """Close paho's wake-up socket pair now; paho leaves it to garbage collection, and a
    collection in the middle of another test turns it into a ResourceWarning there."""
    client._reset_sockets()


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

    def publish_events(self, site: str, node: str, events: list[dict[str, Any]]) -> None:
        """Publish one events message of `node`, as its agent would."""
        payload = json.dumps({"node": node, "events": events}).encode()
        self.publish(f"hubsense/v1/{site}/{node}/events", payload)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        release_sockets(self.client)


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
