"""The holes a security review found in the booking import (issue 14, item 5), over real HTTP
against a real PostgreSQL: each test here failed before the fix."""

from __future__ import annotations

import select
import socket
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest
from api_helpers import HUB, SITE, ApiServer, Keys, api_settings
from support.database import query

from hubsense.settings import BookingSettings

pytestmark = pytest.mark.service

CSV_HEAD = b"booking_id,site,desk,start,end\n"


def post_csv(client: httpx.Client, body: bytes, query_string: str = "") -> httpx.Response:
    return client.post(
        f"/v1/bookings/import{query_string}", content=body, headers={"Content-Type": "text/csv"}
    )


def post_ics(client: httpx.Client, body: bytes) -> httpx.Response:
    return client.post(
        "/v1/bookings/import", content=body, headers={"Content-Type": "text/calendar"}
    )


def ics(event_lines: str, uid: str = "bad-1@tool.example") -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260301T120000Z\r\nLOCATION:d-1\r\n"
        + event_lines.replace("\n", "\r\n")
        + "END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def test_hub_manager_cannot_move_another_sites_booking_by_import(
    api: ApiServer, api_dsn: str, keys: Keys
) -> None:
    """The file names only the manager's own site, but the id is stored at another site: 404,
    as if the booking did not exist, and the stored row stays where it was."""
    with api.client(keys.booking_tool) as tool:
        stored = post_csv(
            tool, CSV_HEAD + b"sec-1,hq,d-1,2026-11-02T08:00:00Z,2026-11-02T10:00:00Z\n"
        )
        assert stored.status_code == 200, stored.text
    before = query(api_dsn, "SELECT * FROM bookings WHERE booking_id = 'sec-1'")
    take = CSV_HEAD + b"sec-1,hub-north,h-1,2026-11-02T08:00:00Z,2026-11-02T10:00:00Z\n"
    with api.client(keys.hub_manager) as manager:
        response = post_csv(manager, take)
        assert response.status_code == 404
        assert response.json() == {"detail": "no booking sec-1"}
        # Nor by iCalendar, nor by REST, nor by looking: 404, never "may not see site hq".
        as_ics = ics("DTSTART:20261102T080000Z\nDTEND:20261102T100000Z\n", uid="sec-1")
        as_ics = as_ics.replace(b"LOCATION:d-1", b"LOCATION:h-1")
        assert post_ics(manager, as_ics).status_code == 404
        body = {
            "site": HUB,
            "desk": "h-1",
            "start": "2026-11-02T08:00:00Z",
            "end": "2026-11-02T10:00:00Z",
        }
        put = manager.put("/v1/bookings/sec-1", json=body)
        assert (put.status_code, put.json()) == (404, {"detail": "no booking sec-1"})
        assert manager.get("/v1/bookings/sec-1").status_code == 404
        assert manager.delete("/v1/bookings/sec-1").status_code == 404
    assert query(api_dsn, "SELECT * FROM bookings WHERE booking_id = 'sec-1'") == before


def test_a_mixed_file_writes_nothing_when_one_row_is_another_sites(
    api: ApiServer, api_dsn: str, keys: Keys
) -> None:
    with api.client(keys.booking_tool) as tool:
        post_csv(tool, CSV_HEAD + b"sec-2,hq,d-2,2026-11-03T08:00:00Z,2026-11-03T10:00:00Z\n")
    mixed = (
        CSV_HEAD + b"sec-3,hub-north,h-2,2026-11-03T08:00:00Z,2026-11-03T10:00:00Z\n"
        b"sec-2,hub-north,h-2,2026-11-03T08:00:00Z,2026-11-03T10:00:00Z\n"
    )
    with api.client(keys.hub_manager) as manager:
        assert post_csv(manager, mixed).status_code == 404
    assert query(
        api_dsn, "SELECT booking_id, site_id FROM bookings WHERE booking_id IN ('sec-2', 'sec-3')"
    ) == [("sec-2", SITE)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            CSV_HEAD + b"y-1,hq,d-1,9999-12-31T08:00:00Z,9999-12-31T10:00:00Z\n",
            "bookings.csv:2: start: start and end must lie in the years 2000 to 2099",
        ),
        (
            CSV_HEAD + b"y-2,hq,d-1,0001-01-01T08:00:00Z,0001-01-01T10:00:00Z\n",
            "bookings.csv:2: start: start and end must lie in the years 2000 to 2099",
        ),
        (
            CSV_HEAD + b"y-3,hq,d-1,2026-11-02T08:00:00Z,2026-11-04T08:00:00Z\n",
            "bookings.csv:2: end: longer than 24 h (settings bookings.max_duration_h)",
        ),
    ],
)
def test_out_of_range_rows_are_refused_and_reads_keep_working(
    api: ApiServer, api_dsn: str, keys: Keys, body: bytes, message: str
) -> None:
    with api.client(keys.booking_tool) as client:
        response = post_csv(client, body)
        assert (response.status_code, response.json()) == (422, {"detail": message})
        assert client.get("/v1/bookings").status_code == 200


def test_out_of_range_ical_and_the_database_check(api: ApiServer, api_dsn: str, keys: Keys) -> None:
    with api.client(keys.booking_tool) as client:
        far = ics("DTSTART:99991231T080000Z\nDTEND:99991231T100000Z\n")
        response = post_ics(client, far)
        assert response.json() == {
            "detail": "bookings.ics: UID bad-1@tool.example: DTSTART: must lie in the years"
            " 2000 to 2099"
        }
    # The last line of defence, for any writer that skips the checks.
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        for start, end in (
            ("9999-12-31T08:00Z", "9999-12-31T10:00Z"),
            ("2026-11-02T08:00Z", "2026-12-10T08:00Z"),
        ):
            with pytest.raises(psycopg.errors.CheckViolation):
                conn.execute(
                    "INSERT INTO bookings (booking_id, site_id, desk_id, start_at, end_at)"
                    " VALUES ('y-db', 'hq', 'd-1', %s, %s)",
                    (start, end),
                )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            CSV_HEAD + b"m-1,hq,d-1,2026-11-02T08:00:00Z," + b"x" * (129 * 1024) + b"\n",
            "bookings.csv:2: row: field larger than field limit (131072)",
        ),
        (
            CSV_HEAD + b"m-2,hq,d-1,2026-11-02T08:00:00Z,2026-11-02T09\x00:00:00Z\n",
            "bookings.csv:2: row: contains a NUL byte",
        ),
        (
            CSV_HEAD + b"m\x01x,hq,d-1,2026-11-02T08:00:00Z,2026-11-02T09:00:00Z\n",
            "bookings.csv:2: booking_id: 1 to 200 characters without '/' or control characters",
        ),
        (
            CSV_HEAD + b"m-4,hq,d-1,2026-11-02T08:00:00Z,2026-11-02T09:00:00Z\n\xff\xfe\n",
            "bookings.csv:3: row: not UTF-8 text",
        ),
    ],
)
def test_malformed_csv_names_line_and_field(
    api: ApiServer, api_dsn: str, keys: Keys, body: bytes, message: str
) -> None:
    before = query(api_dsn, "SELECT count(*) FROM bookings")
    with api.client(keys.booking_tool) as client:
        response = post_csv(client, body)
    assert (response.status_code, response.json()) == (422, {"detail": message})
    assert query(api_dsn, "SELECT count(*) FROM bookings") == before


UID = "bookings.ics: UID bad-1@tool.example"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            "DTSTART:notadate\nDTEND:20261102T100000Z\n",
            f"{UID}: DTSTART: Wrong date format notadate",
        ),
        (
            "DTSTART;VALUE=PERIOD:20261102T080000Z/20261102T100000Z\n",
            f"{UID}: DTSTART: must be a DATE or DATE-TIME (VALUE=PERIOD is not)",
        ),
        (
            "DTSTART:20261102T080000Z\nDURATION:P-garbage\n",
            f"{UID}: DURATION: Invalid iCalendar duration: P-garbage",
        ),
        (
            "DTSTART:20261102T080000Z\nDTEND:20261102T100000Z\nRECURRENCE-ID:zzz\n",
            f"{UID}: RECURRENCE-ID: Expected datetime, date, or time. Got: 'zzz'",
        ),
        (
            "DTSTART;TZID=Mars/Olympus_Mons:20261102T080000\n"
            "DTEND;TZID=Mars/Olympus_Mons:20261102T100000\n",
            f"{UID}: DTSTART: unknown time zone 'Mars/Olympus_Mons' (not a VTIMEZONE of the"
            " file, nor an IANA or Windows zone name)",
        ),
        (
            "DTSTART:20261102T080000Z\nDTEND:20261102T080100Z\nRRULE:FREQ=SECONDLY\n",
            f"{UID}: RRULE: FREQ finer than HOURLY is not a desk booking",
        ),
    ],
)
def test_malformed_ical_names_uid_and_property(
    api: ApiServer, api_dsn: str, keys: Keys, lines: str, message: str
) -> None:
    before = query(api_dsn, "SELECT count(*) FROM bookings")
    with api.client(keys.booking_tool) as client:
        response = post_ics(client, ics(lines))
    assert (response.status_code, response.json()) == (422, {"detail": message})
    assert query(api_dsn, "SELECT count(*) FROM bookings") == before


def test_control_characters_in_a_uid_are_refused(api: ApiServer, keys: Keys) -> None:
    body = ics("DTSTART:20261102T080000Z\nDTEND:20261102T100000Z\n", uid="a\x07b")
    with api.client(keys.booking_tool) as client:
        response = post_ics(client, body)
    assert response.json() == {
        "detail": "bookings.ics: UID 'a\\x07b': UID: control characters are not allowed"
    }


@pytest.fixture
def small_api(api_dsn: str, keys: Keys, start_api: Callable[..., ApiServer]) -> Iterator[ApiServer]:
    settings = api_settings(bookings=BookingSettings(import_concurrency=1, max_import_rows=3))
    yield start_api(settings, api_dsn)


def test_row_cap_is_named_in_the_error(small_api: ApiServer, api_dsn: str, keys: Keys) -> None:
    rows = b"".join(
        b"cap-%d,hq,d-1,2026-11-0%dT08:00:00Z,2026-11-0%dT09:00:00Z\n" % (i, i, i)
        for i in range(1, 5)
    )
    with small_api.client(keys.booking_tool) as client:
        response = post_csv(client, CSV_HEAD + rows)
    assert response.json() == {
        "detail": "bookings.csv:5: row: more than 3 rows (settings bookings.max_import_rows)"
    }
    assert query(api_dsn, "SELECT count(*) FROM bookings WHERE booking_id LIKE 'cap-%'") == [(0,)]


def _open_slow_import(server: ApiServer, key: str, body: bytes) -> socket.socket:
    """An import whose head and first bytes are sent, the rest (Content-Length) held back."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    head = (
        f"POST /v1/bookings/import HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body[:10])
    return sock


def test_a_second_import_while_one_runs_is_answered_429(small_api: ApiServer, keys: Keys) -> None:
    """The first import's body arrives slowly (held back on a raw socket); meanwhile a second
    gets 429 with Retry-After; once the first is done the next one is served."""
    slow = CSV_HEAD + b"busy-1,hq,d-1,2026-11-05T08:00:00Z,2026-11-05T09:00:00Z\n"
    one_row = CSV_HEAD + b"busy-2,hq,d-2,2026-11-05T08:00:00Z,2026-11-05T09:00:00Z\n"
    with small_api.client(keys.booking_tool) as client:
        held = _open_slow_import(small_api, keys.booking_tool, slow)
        for _ in range(100):
            busy = post_csv(client, one_row)
            if busy.status_code == 429:
                break
            # The second import came first: if the held one was refused meanwhile (its
            # answer is waiting on the socket), hold a new one and try again.
            if select.select([held], [], [], 0)[0]:
                held.close()
                held = _open_slow_import(small_api, keys.booking_tool, slow)
        assert busy.status_code == 429
        assert busy.headers["Retry-After"] == "5"
        assert busy.json() == {"detail": "another booking import is running; retry in a moment"}
        held.sendall(slow[10:])
        answer = held.recv(65536).split(b"\r\n", 1)[0]
        held.close()
        assert answer == b"HTTP/1.1 200 OK"
        assert post_csv(client, one_row).status_code == 200
