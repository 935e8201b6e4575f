"""Announce a released booking: the paho and HTTP adapters of the release watcher.

`ReleasePublisher` publishes a `BookingReleaseMessage` at QoS 1, not retained, on
`hubsense/v1/{site}/bookings` and reports whether the broker acknowledged it;
`WebhookSender` POSTs the same JSON and reports whether the receiver answered 2xx
(signed `X-Hubsense-Signature: sha256=<HMAC>` when a secret is set). The only modules
of the watcher that import paho or httpx; their types never leave. Must not touch
the database.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
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


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, url: str, secret: str | None = None) -> None:
        self.url = url
        self.secret = secret
        self.client = httpx.Client(timeout=WEBHOOK_TIMEOUT_S)

    def send(self, message: BookingReleaseMessage) -> bool:
        """True when the receiver answered 2xx."""
        body = encode(message)
        headers = {"Content-Type": "application/json", "User-Agent": "hubsense-release"}
        if self.secret:
            headers["X-Hubsense-Signature"] = signature(self.secret, body)
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
