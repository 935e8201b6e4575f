"""The release watcher end to end: events published over real MQTT, stored by real ingest; the API
process's watcher releases a booking whose desk stays vacant and observed, publishes it on the
bookings topic (QoS 1, not retained) and POSTs it to a local webhook, retrying a failed POST."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from api_helpers import (
    SITE,
    ApiServer,
    Keys,
    Subscriber,
    WebhookReceiver,
    api_settings,
    now_ms,
    sense_desks,
    utc,
)
from hubsense.bookings.announce import signature, signature_valid
from support.database import query
from support.ingest_runs import IngestThread
from support.mqtt_clients import Publisher
from support.waiting import wait_for

from hubsense.settings import BookingSettings
from hubsense.wire import BookingReleaseMessage

pytestmark = pytest.mark.service

RELEASE_AFTER_S = 3.0
SECRET = "hook-secret"


def book(dsn: str, booking_id: str, desk: str, start_ms: int, end_ms: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO bookings (booking_id, site_id, desk_id, start_at, end_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (booking_id, SITE, desk, utc(start_ms), utc(end_ms)),
        )


def test_vacant_observed_desk_is_released_published_and_posted(
    api_dsn: str,
    keys: Keys,
    mqtt_broker: Any,
    ingest: IngestThread,
    start_api: Callable[..., ApiServer],
) -> None:
    hook = WebhookReceiver(fail=1)  # the first POST fails: the watcher must retry it
    subscriber = Subscriber(mqtt_broker.url, f"hubsense/v1/{SITE}/bookings")
    publisher = Publisher(mqtt_broker.url)
    try:
        # pi-a senses: alive (heartbeat 60 s: observed for 3 min), d-1 vacant, d-2 occupied.
        sense_desks(publisher, api_dsn, "pi-a", {"d-1": "vacant", "d-2": "occupied"})
        start = now_ms()
        book(api_dsn, "no-show", "d-1", start, start + 3_600_000)
        book(api_dsn, "attended", "d-2", start, start + 3_600_000)
        book(api_dsn, "unobserved", "d-3", start, start + 3_600_000)  # pi-b never said alive
        settings = api_settings(
            bookings=BookingSettings(
                release_after_min=RELEASE_AFTER_S / 60,
                watch_interval_s=0.2,
                webhook_url=hook.url,
                webhook_secret=SECRET,  # type: ignore[arg-type]
            )
        )
        api = start_api(settings, api_dsn, mqtt_broker.url, watcher=True)
        released = wait_for(
            lambda: query(api_dsn, "SELECT released_at FROM bookings WHERE booking_id = 'no-show'")[
                0
            ][0],
            30,
            "the no-show booking to be released",
        )
        assert released >= utc(start) + dt.timedelta(seconds=RELEASE_AFTER_S)
        assert released < utc(start) + dt.timedelta(seconds=RELEASE_AFTER_S + 10)
        wait_for(lambda: subscriber.messages, 15, "the release message")
        wait_for(lambda: [r for r in hook.requests if r[2] == 204], 15, "a successful webhook POST")
        time.sleep(1.0)  # more ticks: nothing may be announced twice or released wrongly
        expected = BookingReleaseMessage(
            booking_id="no-show",
            site=SITE,
            desk="d-1",
            start_ms=start,
            end_ms=start + 3_600_000,
            released_at_ms=int(released.timestamp() * 1000),
        )
        ((topic, payload, retain, qos),) = subscriber.messages
        assert (topic, retain, qos) == (f"hubsense/v1/{SITE}/bookings", False, 1)
        assert BookingReleaseMessage.model_validate_json(payload) == expected
        assert [status for _, _, status in hook.requests] == [500, 204]
        for headers, body, _ in hook.requests:
            assert json.loads(body) == json.loads(payload)
            assert headers["Content-Type"] == "application/json"
            delivery, stamp = headers["X-Hubsense-Delivery"], int(headers["X-Hubsense-Timestamp"])
            assert headers["X-Hubsense-Signature"] == signature(SECRET, delivery, stamp, body)
            assert signature_valid([SECRET], headers, body, time.time())
        # A retry keeps its delivery id, so a receiver drops a repeat it handled.
        assert len({headers["X-Hubsense-Delivery"] for headers, _, _ in hook.requests}) == 1
        rows = query(
            api_dsn,
            """SELECT booking_id, released_at IS NOT NULL, release_published_at IS NOT NULL,
                      release_webhook_at IS NOT NULL
               FROM bookings ORDER BY booking_id""",
        )
        assert rows == [
            ("attended", False, False, False),
            ("no-show", True, True, True),
            ("unobserved", False, False, False),
        ]
        with api.client(keys.facilities) as client:
            assert client.get("/v1/bookings/no-show").json()["released_at"] is not None
            desks = {
                d["desk"]: d for d in client.get(f"/v1/sites/{SITE}/occupancy").json()["desks"]
            }
        # Released: d-1 is free again; d-2 is occupied under its booking (not a walk-in).
        assert (desks["d-1"]["status"], desks["d-1"]["booking_id"]) == ("free", None)
        assert (desks["d-2"]["status"], desks["d-2"]["walk_in"]) == ("occupied", False)
    finally:
        publisher.close()
        subscriber.close()
        hook.close()
