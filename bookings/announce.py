"""Announce a released booking: the paho and HTTP adapters of the release watcher.

`ReleasePublisher` publishes a `BookingReleaseMessage` at QoS 1, not retained, on
`hubsense/v1/{site}/bookings` and reports whether the broker acknowledged it;
`WebhookSender` POSTs the same JSON and reports whether the receiver answered 2xx.
With a secret each POST is signed over its delivery id, its timestamp and its body
(`X-Hubsense-Delivery`, `X-Hubsense-Timestamp`, `X-Hubsense-Signature: sha256=<HMAC>`),
so a captured delivery replays only within the receiver's tolerance and only once
per delivery id; while a secret is rotated both are used (two signatures). The only modules
of the watcher that import paho or httpx; their types never leave. Must not touch
the database.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hubsense.logs import get_logger
from hubsense.mqtt_url import MqttUrl
from hubsense.wire import BookingReleaseMessage, bookings_topic, encode

log = get_logger(__name__)

ACK_TIMEOUT_S = 10.0
WEBHOOK_TIMEOUT_S = 5.0


class ReleasePublisher:
    """One MQTT 5 connection for release messages; reconnects by itself (paho's loop)."""

    def __init__(self, url: MqttUrl, ca_file: str | None = None) -> None:
        self.url = url
        self._connected = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"hubsense-release-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if url.username:
            self.client.username_pw_set(url.username, url.password)
        if url.tls:
            self.client.tls_set(ca_certs=ca_file)
        self.client.reconnect_delay_set(1, 5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if not reason_code.is_failure:
            self._connected.set()
            log.info("release_publisher_connected", broker=self.url.redacted())

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        self._connected.clear()

    def start(self) -> None:
        self.client.connect_async(self.url.host, self.url.port, keepalive=30)
        self.client.loop_start()

    def publish(self, message: BookingReleaseMessage) -> bool:
        """True once the broker acknowledged (PUBACK) the message."""
        if not self._connected.wait(ACK_TIMEOUT_S):
            return False
        info = self.client.publish(
            bookings_topic(message.site), encode(message), qos=1, retain=False
        )
        try:
            info.wait_for_publish(ACK_TIMEOUT_S)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# How far a receiver should accept a delivery's timestamp from its own clock (docs/api.md).
SIGNATURE_TOLERANCE_S = 300
# A release is announced once; its delivery id stays the same on every retry so the
# receiver can drop a repeat it already handled.
_DELIVERY_NAMESPACE = uuid.UUID("6f1d3b52-2f4e-4c56-9d55-6b0f1d7c2a11")


def signed_content(delivery_id: str, timestamp_s: int, body: bytes) -> bytes:
    return f"{delivery_id}.{timestamp_s}.".encode() + body


def signature(secret: str, delivery_id: str, timestamp_s: int, body: bytes) -> str:
    content = signed_content(delivery_id, timestamp_s, body)
    return "sha256=" + hmac.new(secret.encode(), content, hashlib.sha256).hexdigest()


def delivery_id(message: BookingReleaseMessage) -> str:
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{message.booking_id}/{message.released_at_ms}"))


def signature_valid(
    secrets: list[str],
    headers: dict[str, str],
    body: bytes,
    now_s: float,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> bool:
    """What a receiver checks: a fresh timestamp and one signature matching one secret."""
    try:
        stamp = int(headers["X-Hubsense-Timestamp"])
        delivery = headers["X-Hubsense-Delivery"]
        offered = headers["X-Hubsense-Signature"].split()
    except (KeyError, ValueError):
        return False
    if abs(now_s - stamp) > tolerance_s:
        return False
    expected = [signature(secret, delivery, stamp, body) for secret in secrets]
    return any(hmac.compare_digest(o, e) for o in offered for e in expected)


class WebhookSender:
    def __init__(
        self, url: str, secret: str | None = None, previous_secret: str | None = None
    ) -> None:
        self.url = url
        # The current secret first; the previous one only while receivers switch over.
        self.secrets = [s for s in (secret, previous_secret) if s]
        self.client = httpx.Client(timeout=WEBHOOK_TIMEOUT_S)

    def send(self, message: BookingReleaseMessage) -> bool:
        """True when the receiver answered 2xx."""
        body = encode(message)
        delivery = delivery_id(message)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "hubsense-release",
            "X-Hubsense-Delivery": delivery,
        }
        if self.secrets:
            stamp = int(time.time())  # signed again on each retry: a fresh timestamp
            headers["X-Hubsense-Timestamp"] = str(stamp)
            headers["X-Hubsense-Signature"] = " ".join(
                signature(secret, delivery, stamp, body) for secret in self.secrets
            )
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            log.warning("release_webhook_failed", booking_id=message.booking_id, error=str(error))
            return False
        if not response.is_success:
            log.warning(
                "release_webhook_refused",
                booking_id=message.booking_id,
                status=response.status_code,
            )
        return response.is_success

    def close(self) -> None:
        self.client.close()
