"""CalDAV in the API process, end to end: a real Radicale server holds a desk calendar; the API's
background sync brings its bookings in by itself; events over real MQTT through real ingest
show the desks vacant and observed; the release watcher releases the no-shows and writes them
back to the calendar as STATUS:CANCELLED (an override for a recurring occurrence, the event
itself for a single one); the next sync keeps them released and the other occurrences booked."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from api_helpers import ApiServer, api_settings, now_ms, sense_desks, utc
from hubsense.devstack.ports import free_port
from support.database import query
from support.ingest_runs import IngestThread
from support.mqtt_clients import Publisher
from support.radicale import Radicale
from support.waiting import wait_for

from hubsense.settings import BookingSettings

pytestmark = pytest.mark.service

NOTE = "Released by hubsense (test): no-show"
SERIES_UID = "series-1@outlook.example"
SINGLE_UID = "single-1@outlook.example"


@pytest.fixture
def radicale(service_tmp_path: Path) -> Iterator[Radicale]:
    server = Radicale(service_tmp_path)
    yield server
    server.close()


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def event_object(uid: str, desk: str, start: dt.datetime, rule: str | None) -> bytes:
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//hubsense tests//EN", "BEGIN:VEVENT",
        f"UID:{uid}", f"DTSTAMP:{stamp(start)}", f"DTSTART:{stamp(start)}",
        f"DTEND:{stamp(start + dt.timedelta(hours=1))}", f"LOCATION:{desk}", "SUMMARY:Desk",
        *([f"RRULE:{rule}"] if rule else []), "END:VEVENT", "END:VCALENDAR", "",
    ]  # fmt: skip
    return "\r\n".join(lines).encode()


def booking_rows(dsn: str) -> list[tuple[Any, ...]]:
    return query(
        dsn,
        """SELECT booking_id, released_at IS NOT NULL, cancelled_at IS NOT NULL,
                  release_written_back_at IS NOT NULL
           FROM bookings WHERE source LIKE 'caldav:%' ORDER BY start_at, booking_id""",
    )


def test_synced_no_shows_are_released_and_written_back(
    api_dsn: str,
    mqtt_broker: Any,
    ingest: IngestThread,
    radicale: Radicale,
    start_api: Callable[..., ApiServer],
) -> None:
    publisher = Publisher(mqtt_broker.url)
    try:
        sense_desks(publisher, api_dsn, "pi-a", {"d-1": "vacant", "d-2": "vacant"})
        start = utc(now_ms()).replace(microsecond=0)  # after the vacant events, on a second
        url = radicale.make_calendar("/hs/desks/", "HQ desk bookings")
        radicale.put(
            "/hs/desks/series.ics", event_object(SERIES_UID, "d-1", start, "FREQ=DAILY;COUNT=3")
        )
        radicale.put("/hs/desks/single.ics", event_object(SINGLE_UID, "d-2", start, None))
        settings = api_settings(
            bookings=BookingSettings(
                release_after_min=3 / 60,
                watch_interval_s=0.2,
                caldav_url=url,
                caldav_every_s=0.5,
                caldav_write_back=True,
                caldav_write_back_note=NOTE,
            )
        )
        start_api(settings, api_dsn, mqtt_broker.url, watcher=True)
        today = f"{SERIES_UID}~{stamp(start)}"
        later = [f"{SERIES_UID}~{stamp(start + dt.timedelta(days=n))}" for n in (1, 2)]
        wait_for(lambda: len(booking_rows(api_dsn)) == 4, 15, "the background sync")
        wait_for(lambda: sum(row[3] for row in booking_rows(api_dsn)) == 2, 30, "both written back")
        written_back = query(api_dsn, "SELECT max(release_written_back_at) FROM bookings")[0][0]

        series = icalendar.Calendar.from_ical(radicale.get("/hs/desks/series.ics"))
        overrides = [e for e in series.walk("VEVENT") if e.get("RECURRENCE-ID") is not None]
        assert [(e.decoded("RECURRENCE-ID"), str(e["STATUS"])) for e in overrides] == [
            (start, "CANCELLED")
        ]
        assert NOTE in str(overrides[0]["DESCRIPTION"])
        (single,) = icalendar.Calendar.from_ical(radicale.get("/hs/desks/single.ics")).walk(
            "VEVENT"
        )
        assert str(single["STATUS"]) == "CANCELLED" and NOTE in str(single["DESCRIPTION"])

        # Syncs after the write-back read the cancelled occurrences: released stays released
        # (a no-show is what the analytics must show), the later occurrences stay booked.
        wait_for(
            lambda: (
                query(api_dsn, "SELECT max(synced_at) FROM booking_sources")[0][0]
                > written_back + dt.timedelta(seconds=1)
            ),
            15,
            "a sync after the write-back",
        )
        assert booking_rows(api_dsn) == [
            (today, True, False, True),
            (SINGLE_UID, True, False, True),
            *[(booking, False, False, False) for booking in later],
        ]
    finally:
        publisher.close()


def test_a_calendar_server_away_leaves_the_api_serving(
    api_dsn: str, start_api: Callable[..., ApiServer]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hs/desks/"  # nobody listens there
    settings = api_settings(bookings=BookingSettings(caldav_url=dead, caldav_every_s=0.2))
    api = start_api(settings, api_dsn)
    for _ in range(3):  # several failed rounds later, the API still answers
        assert httpx.get(f"{api.url}/healthz", timeout=10).json() == {"status": "ok"}
        time.sleep(0.3)
    assert query(
        api_dsn, "SELECT count(*) FROM booking_sources WHERE source = %s", (f"caldav:{dead}",)
    ) == [(0,)]
