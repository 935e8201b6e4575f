"""Real paho MQTT 5 clients for the services tests: connect, collect, publish and wait."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

SESSION_EXPIRY_S = 3600


class Collector:
    """A started paho client that records every message it receives, in order."""

    def __init__(self, port: int, client_id: str, *, clean_start: bool = False) -> None:
        self.messages: list[tuple[str, bytes, int]] = []
        self.connack: mqtt.ReasonCode | None = None
        self.session_present: bool | None = None
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect("127.0.0.1", port, clean_start=clean_start, properties=props)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise AssertionError("no CONNACK within 10 s")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connack = reason_code
        self.session_present = flags.session_present
        self._connected.set()

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, message.qos))

    def subscribe(self, topic: str, qos: int = 1) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *args: done.set()
        self.client.subscribe(topic, qos)
        if not done.wait(10):
            raise AssertionError("no SUBACK within 10 s")

    def wait_for(
        self, count: int, timeout_s: float = 20, idle_s: float = 3.0
    ) -> list[tuple[str, bytes, int]]:
        """Wait for `count` messages, or until nothing new arrived for `idle_s` after the first."""
        deadline = time.monotonic() + timeout_s
        seen, last_change = -1, time.monotonic()
        while time.monotonic() < deadline:
            with self._lock:
                n = len(self.messages)
            if n >= count:
                break
            if n != seen:
                seen, last_change = n, time.monotonic()
            elif n > 0 and time.monotonic() - last_change > idle_s:
                break
            time.sleep(0.01)
        time.sleep(0.2)  # catch any extra (duplicate) deliveries
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publish_all(port: int, topic: str, payloads: list[bytes], qos: int = 1) -> None:
    """Publish each payload and wait until the broker acknowledged every one."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=qos) for payload in payloads]
        for info in infos:
            info.wait_for_publish(timeout=20)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()
