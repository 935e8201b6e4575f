"""Bookings over real HTTP: CRUD idempotent by id, CSV and iCalendar imports (twice: same
rows), errors that name the line or UID, booker only as a salted hash, hub managers limited
to their sites."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from api_helpers import HUB, SALT, SITE, ApiServer, Keys
from support.database import query

from hubsense.privacy import hash_booker

pytestmark = pytest.mark.service

ROWS_SQL = """SELECT booking_id, site_id, desk_id, start_at, end_at, booker_hash, origin,
                     released_at
              FROM bookings WHERE booking_id LIKE %s ORDER BY booking_id"""

CSV = b"""booking_id,site,desk,start,end,booker
csv-1,hq,d-1,2026-03-02T08:00:00+01:00,2026-03-02T12:00:00+01:00,Anna.Berg@region.se
csv-2,hq,d-2,2026-03-02T07:00:00Z,2026-03-02T16:00:00Z,
csv-3,hub-north,h-1,2026-03-03T09:00:00+01:00,2026-03-03T17:00:00+01:00,erik@region.se
"""

ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example booking tool//EN
BEGIN:VEVENT
UID:ical-1@tool.example
DTSTAMP:20260301T120000Z
DTSTART;TZID=Europe/Stockholm:20260302T080000
DTEND;TZID=Europe/Stockholm:20260302T120000
LOCATION:d-3
ORGANIZER:mailto:anna.berg@region.se
SUMMARY:Desk booking
END:VEVENT
BEGIN:VEVENT
UID:ical-2@tool.example
DTSTAMP:20260301T120000Z
DTSTART:20260302T130000
DURATION:PT2H
X-HUBSENSE-DESK:h-2
X-HUBSENSE-SITE:hub-north
END:VEVENT
BEGIN:VEVENT
UID:ical-3@tool.example
DTSTAMP:20260301T120000Z
DTSTART;VALUE=DATE:20260304
LOCATION:h-3
END:VEVENT
BEGIN:VEVENT
UID:ical-4@tool.example
DTSTAMP:20260301T120000Z
DTSTART:20260305T080000Z
DTEND:20260305T090000Z
LOCATION:d-1
STATUS:CANCELLED
END:VEVENT
END:VCALENDAR
"""


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_csv_import_twice_gives_the_same_rows(api: ApiServer, api_dsn: str, keys: Keys) -> None:
    with api.client(keys.booking_tool) as client:
        first = client.post(
            "/v1/bookings/import", content=CSV, headers={"Content-Type": "text/csv"}
        )
        assert first.status_code == 200, first.text
        assert first.json() == {
            "rows": 3,
            "created": 3,
            "updated": 0,
            "unchanged": 0,
            "cancelled": 0,
            "dry_run": False,
        }
        rows = query(api_dsn, ROWS_SQL, ("csv-%",))
        second = client.post(
            "/v1/bookings/import?format=csv",
            content=CSV,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert second.json() == {
            "rows": 3,
            "created": 0,
            "updated": 0,
            "unchanged": 3,
            "cancelled": 0,
            "dry_run": False,
        }
    assert query(api_dsn, ROWS_SQL, ("csv-%",)) == rows
    assert [(r[0], r[1], r[2], r[3], r[4], r[6]) for r in rows] == [
        ("csv-1", SITE, "d-1", at("2026-03-02T07:00:00Z"), at("2026-03-02T11:00:00Z"), "csv"),
        ("csv-2", SITE, "d-2", at("2026-03-02T07:00:00Z"), at("2026-03-02T16:00:00Z"), "csv"),
        ("csv-3", HUB, "h-1", at("2026-03-03T08:00:00Z"), at("2026-03-03T16:00:00Z"), "csv"),
    ]
    # The booker is stored only as the salted hash; case and spaces do not matter.
    assert rows[0][5] == hash_booker("anna.berg@region.se", SALT)
    assert rows[0][5].startswith("hmac-sha256:") and "anna" not in rows[0][5]
    assert rows[1][5] is None


def test_csv_moved_booking_updates_and_keeps_the_rest(
    api: ApiServer, api_dsn: str, keys: Keys
) -> None:
    moved = (
        b"booking_id,site,desk,start,end\ncsvm-1,hq,d-1,2026-04-01T08:00:00Z,2026-04-01T10:00:00Z\n"
    )
    with api.client(keys.facilities) as client:
        assert (
            client.post(
                "/v1/bookings/import", content=moved, headers={"Content-Type": "text/csv"}
            ).json()["created"]
            == 1
        )
        moved2 = moved.replace(b"d-1", b"d-2")
        result = client.post(
            "/v1/bookings/import", content=moved2, headers={"Content-Type": "text/csv"}
        )
    assert result.json() == {
        "rows": 1,
        "created": 0,
        "updated": 1,
        "unchanged": 0,
        "cancelled": 0,
        "dry_run": False,
    }
    assert query(api_dsn, "SELECT desk_id FROM bookings WHERE booking_id = 'csvm-1'") == [("d-2",)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"booking_id,site,desk,start\n", "bookings.csv:1: header: missing column(s) end"),
        (
            b"booking_id,site,desk,start,end\nx,hq,d-9,2026-03-02T08:00:00Z,2026-03-02T09:00:00Z\n",
            "bookings.csv:2: desk: unknown desk 'd-9'",
        ),
        (
            b"booking_id,site,desk,start,end\nx,hq,h-1,2026-03-02T08:00:00Z,2026-03-02T09:00:00Z\n",
            "bookings.csv:2: desk: 'h-1' belongs to site 'hub-north', not 'hq'",
        ),
        (
            b"booking_id,site,desk,start,end\nx,hq,d-1,2026-03-02T08:00:00,2026-03-02T09:00:00Z\n",
            "bookings.csv:2: start: '2026-03-02T08:00:00' has no offset (add Z or +01:00)",
        ),
        (
            b"booking_id,site,desk,start,end\nok,hq,d-1,2026-03-02T08:00:00Z,2026-03-02T09:00:00Z\n"
            b"x,hq,d-1,2026-03-02T09:00:00Z,2026-03-02T09:00:00Z\n",
            "bookings.csv:3: end: must be after start",
        ),
        (
            b"booking_id,site,desk,start,end\nx,nowhere,d-1,2026-03-02T08:00:00Z,2026-03-02T09:00:00Z\n",
            "bookings.csv:2: site: unknown site 'nowhere'",
        ),
    ],
)
def test_csv_errors_name_line_and_field_and_write_nothing(
    api: ApiServer, api_dsn: str, keys: Keys, body: bytes, message: str
) -> None:
    before = query(api_dsn, "SELECT count(*) FROM bookings")
    with api.client(keys.booking_tool) as client:
        response = client.post(
            "/v1/bookings/import", content=body, headers={"Content-Type": "text/csv"}
        )
    assert response.status_code == 422
    assert response.json() == {"detail": message}
    assert query(api_dsn, "SELECT count(*) FROM bookings") == before


def test_ical_import_twice_gives_the_same_rows(api: ApiServer, api_dsn: str, keys: Keys) -> None:
    with api.client(keys.booking_tool) as client:
        first = client.post(
            "/v1/bookings/import", content=ICS, headers={"Content-Type": "text/calendar"}
        )
        assert first.status_code == 200, first.text
        assert first.json() == {
            "rows": 3,
            "created": 3,
            "updated": 0,
            "unchanged": 0,
            "cancelled": 0,
            "dry_run": False,
        }
        rows = query(api_dsn, ROWS_SQL, ("ical-%",))
        second = client.post(
            "/v1/bookings/import", content=ICS, headers={"Content-Type": "text/calendar"}
        )
        assert second.json() == {
            "rows": 3,
            "created": 0,
            "updated": 0,
            "unchanged": 3,
            "cancelled": 0,
            "dry_run": False,
        }
    assert query(api_dsn, ROWS_SQL, ("ical-%",)) == rows
    assert [(r[0], r[1], r[2], r[3], r[4], r[6]) for r in rows] == [
        # TZID Europe/Stockholm in March is +01:00.
        (
            "ical-1@tool.example",
            SITE,
            "d-3",
            at("2026-03-02T07:00:00Z"),
            at("2026-03-02T11:00:00Z"),
            "ical",
        ),
        # Floating time: the site's local time; DURATION instead of DTEND.
        (
            "ical-2@tool.example",
            HUB,
            "h-2",
            at("2026-03-02T12:00:00Z"),
            at("2026-03-02T14:00:00Z"),
            "ical",
        ),
        # A DATE: the whole local day.
        (
            "ical-3@tool.example",
            HUB,
            "h-3",
            at("2026-03-03T23:00:00Z"),
            at("2026-03-04T23:00:00Z"),
            "ical",
        ),
    ]
    assert rows[0][5] == hash_booker("anna.berg@region.se", SALT)


def test_ical_errors_name_the_uid(api: ApiServer, keys: Keys) -> None:
    bad = ICS.replace(b"LOCATION:d-3", b"LOCATION:d-99")
    recurring = ICS.replace(b"LOCATION:d-3", b"LOCATION:d-3\nRRULE:FREQ=SOMETIMES;COUNT=3")
    with api.client(keys.booking_tool) as client:
        response = client.post(
            "/v1/bookings/import", content=bad, headers={"Content-Type": "text/calendar"}
        )
        assert response.status_code == 422
        assert response.json() == {
            "detail": "bookings.ics: UID ical-1@tool.example: LOCATION: unknown desk 'd-99'"
        }
        response = client.post(
            "/v1/bookings/import", content=recurring, headers={"Content-Type": "text/calendar"}
        )
        assert response.status_code == 422
        assert response.json()["detail"] == (
            "bookings.ics: UID ical-1@tool.example: RRULE: Expected frequency, got: SOMETIMES"
        )
        response = client.post(
            "/v1/bookings/import", content=b"hello", headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 415


def test_rest_put_is_idempotent_and_post_updates(api: ApiServer, api_dsn: str, keys: Keys) -> None:
    body = {
        "site": SITE,
        "desk": "d-1",
        "start": "2026-05-04T08:00:00+02:00",
        "end": "2026-05-04T17:00:00+02:00",
        "booker": "Nils",
    }
    with api.client(keys.booking_tool) as client:
        created = client.put("/v1/bookings/rest-1", json=body)
        assert created.status_code == 201, created.text
        assert created.json() == {
            "booking_id": "rest-1",
            "site": SITE,
            "desk": "d-1",
            "start": "2026-05-04T06:00:00Z",
            "end": "2026-05-04T15:00:00Z",
            "origin": "api",
            "booker_hashed": True,
            "released_at": None,
            "cancelled_at": None,
        }
        again = client.put("/v1/bookings/rest-1", json=body)
        assert again.status_code == 200 and again.json() == created.json()
        moved = client.post("/v1/bookings", json={**body, "booking_id": "rest-1", "desk": "d-2"})
        assert moved.status_code == 200 and moved.json()["desk"] == "d-2"
        assert client.get("/v1/bookings/rest-1").json()["desk"] == "d-2"
        listed = client.get(
            "/v1/bookings", params={"desk": "d-2", "from": "2026-05-04T00:00:00Z"}
        ).json()
        assert [b["booking_id"] for b in listed] == ["rest-1"]
        bad = client.put("/v1/bookings/rest-2", json={**body, "end": body["start"]})
        assert bad.status_code == 422
        naive = client.put("/v1/bookings/rest-2", json={**body, "start": "2026-05-04T08:00:00"})
        assert naive.status_code == 422
        assert client.delete("/v1/bookings/rest-1").status_code == 204
        cancelled = client.get("/v1/bookings/rest-1").json()["cancelled_at"]
        assert cancelled is not None  # kept, never deleted
        assert client.delete("/v1/bookings/rest-1").status_code == 204  # again: no change
        assert client.get("/v1/bookings/rest-1").json()["cancelled_at"] == cancelled
        window = {"desk": "d-2", "from": "2026-05-04T00:00:00Z"}
        assert client.get("/v1/bookings", params=window).json() == []
        kept = client.get("/v1/bookings", params={**window, "cancelled": "true"}).json()
        assert [b["booking_id"] for b in kept] == ["rest-1"]
        revived = client.put("/v1/bookings/rest-1", json={**body, "desk": "d-2"})
        assert revived.status_code == 200 and revived.json()["cancelled_at"] is None
    assert query(api_dsn, "SELECT count(*) FROM bookings WHERE booking_id LIKE 'rest-%'") == [(1,)]


def test_released_booking_cannot_be_deleted(api: ApiServer, api_dsn: str, keys: Keys) -> None:
    body = {
        "site": HUB,
        "desk": "h-1",
        "start": "2026-05-05T08:00:00Z",
        "end": "2026-05-05T09:00:00Z",
    }
    with api.client(keys.facilities) as client:
        assert client.put("/v1/bookings/rel-1", json=body).status_code == 201
        with psycopg.connect(api_dsn, autocommit=True) as conn:
            conn.execute("UPDATE bookings SET released_at = now() WHERE booking_id = 'rel-1'")
        response = client.delete("/v1/bookings/rel-1")
        assert response.status_code == 409
        assert response.json() == {"detail": "booking rel-1 was released for no-show and is kept"}
        assert client.get("/v1/bookings/rel-1").json()["released_at"] is not None


def test_hub_manager_writes_only_its_sites(api: ApiServer, keys: Keys) -> None:
    mine = {
        "site": HUB,
        "desk": "h-2",
        "start": "2026-05-06T08:00:00Z",
        "end": "2026-05-06T09:00:00Z",
    }
    other = {**mine, "site": SITE, "desk": "d-1"}
    with api.client(keys.hub_manager) as client:
        assert client.put("/v1/bookings/hm-1", json=mine).status_code == 201
        response = client.put("/v1/bookings/hm-2", json=other)
        assert response.status_code == 403
        assert response.json() == {"detail": f"this key may not see site {SITE}"}
        # Moving its own booking to another site is refused too.
        assert client.put("/v1/bookings/hm-1", json=other).status_code == 403
        assert {b["site"] for b in client.get("/v1/bookings").json()} == {HUB}
        csv = (
            b"booking_id,site,desk,start,end\n"
            b"hm-3,hq,d-1,2026-05-06T08:00:00Z,2026-05-06T09:00:00Z\n"
        )
        assert (
            client.post(
                "/v1/bookings/import", content=csv, headers={"Content-Type": "text/csv"}
            ).status_code
            == 403
        )
