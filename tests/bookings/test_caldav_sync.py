"""CalDAV sync against a real Radicale server started here (free port, temporary storage):
calendars written the way Outlook, Google and a Nextcloud desk calendar write them, put over
HTTP; sync, change the server side (EXDATE added, event deleted, occurrence moved), sync again
and look at the bookings table (real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hubsense.bookings.caldav_sync import Credentials, sync_caldav
from hubsense.bookings.ical import Window
from hubsense.bookings.importer import read_inventory
from hubsense.bookings.imports import Limits
from support.database import insert_node
from support.radicale import Radicale

pytestmark = pytest.mark.service

FIXTURES = Path(__file__).parent / "fixtures"
OUTLOOK_UID = "040000008200E00074C5B7101A82E00800000000D0E2A5B3F2A0DC01000000000000000010000000"
GOOGLE_UID = "7kq2m1c9v0p3l8s5d4e6f2g1h0@google.com"
WINDOW = Window(dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC))


def objects_by_uid(data: bytes) -> dict[str, bytes]:
    """A calendar export as CalDAV stores it: one object a UID (with the zones it uses)."""
    import icalendar

    calendar = icalendar.Calendar.from_ical(data)
    found: dict[str, icalendar.Calendar] = {}
    for event in calendar.walk("VEVENT"):
        uid = str(event["UID"])
        if uid not in found:
            found[uid] = icalendar.Calendar()
            for name, value in calendar.property_items(recursive=False)[1:-1]:
                found[uid][name] = value
            for zone in calendar.walk("VTIMEZONE"):
                found[uid].add_component(zone)
        found[uid].add_component(event)
    return {uid: cal.to_ical() for uid, cal in found.items()}


@pytest.fixture
def radicale(service_tmp_path: Path) -> Iterator[Radicale]:
    server = Radicale(service_tmp_path)
    yield server
    server.close()


@pytest.fixture(scope="module")
def dsn(db_dsn: str) -> str:
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        for site in ("hq", "hub-north"):
            conn.execute(
                "INSERT INTO sites (id, name, kind, timezone, opening_hours) VALUES"
                " (%s, %s, 'office', 'Europe/Stockholm', '{}')",
                (site, site),
            )
        insert_node(conn, "hq", "pi-a", {"d-1": "f3", "d-2": "f3"})
        insert_node(conn, "hub-north", "pi-h", {"h-1": "a"})
    return db_dsn


def sync(dsn: str, url: str) -> list[object]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return list(
            sync_caldav(conn, url, Credentials(), read_inventory(conn), "salt", WINDOW,
                        Limits(), max_objects=1000)
        )  # fmt: skip


def bookings(dsn: str, source_like: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT booking_id, desk_id, start_at, end_at, cancelled_at IS NOT NULL"
            " FROM bookings WHERE source LIKE %s ORDER BY start_at, booking_id",
            (source_like,),
        ).fetchall()


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def outlook_row(original: str, start: str, cancelled: bool = False) -> tuple[object, ...]:
    return (
        f"{OUTLOOK_UID}~{original}",
        "d-1",
        at(start),
        at(start) + dt.timedelta(hours=8),
        cancelled,
    )


def test_outlook_calendar_syncs_then_follows_changes(radicale: Radicale, dsn: str) -> None:
    url = radicale.make_calendar("/hs/outlook/", "HQ desk bookings")
    outlook = (FIXTURES / "outlook_recurring.ics").read_bytes()
    radicale.put("/hs/outlook/series.ics", outlook)
    (first,) = sync(dsn, url)
    assert (first.full, first.fetched) == (True, 1)  # type: ignore[attr-defined]
    # Tuesdays and Thursdays 3-26 Nov, 08:00 W. Europe (CET, +01:00) = 07:00Z; 12 Nov is an
    # EXDATE; 17 Nov moved to Wednesday 18th (its id keeps the original start).
    expected = [
        outlook_row("20261103T070000Z", "2026-11-03T07:00:00Z"),
        outlook_row("20261105T070000Z", "2026-11-05T07:00:00Z"),
        outlook_row("20261110T070000Z", "2026-11-10T07:00:00Z"),
        outlook_row("20261117T070000Z", "2026-11-18T07:00:00Z"),
        outlook_row("20261119T070000Z", "2026-11-19T07:00:00Z"),
        outlook_row("20261124T070000Z", "2026-11-24T07:00:00Z"),
        outlook_row("20261126T070000Z", "2026-11-26T07:00:00Z"),
    ]
    assert bookings(dsn, "caldav:%/hs/outlook/") == expected
    # Nothing changed: an incremental sync reads nothing and writes nothing.
    (again,) = sync(dsn, url)
    assert (again.full, again.fetched, again.applied.rows) == (False, 0, 0)  # type: ignore[attr-defined]
    # Server side: one more EXDATE (24 Nov) and the moved occurrence moved again, to Thu 19th
    # 12:00 (a second booking that day for the same person is their business, not ours).
    changed = (
        outlook.replace(
            b'EXDATE;TZID="W. Europe Standard Time":20261112T080000',
            b'EXDATE;TZID="W. Europe Standard Time":20261112T080000,20261124T080000',
        )
        .replace(b"20261118T080000", b"20261119T120000")
        .replace(b"20261118T160000", b"20261119T200000")
    )
    radicale.put("/hs/outlook/series.ics", changed)
    (third,) = sync(dsn, url)
    assert (third.full, third.fetched) == (False, 1)  # type: ignore[attr-defined]
    assert third.applied.cancelled == [f"{OUTLOOK_UID}~20261124T070000Z"]  # type: ignore[attr-defined]
    assert bookings(dsn, "caldav:%/hs/outlook/") == [
        expected[0], expected[1], expected[2], expected[4],
        outlook_row("20261117T070000Z", "2026-11-19T11:00:00Z"),
        outlook_row("20261124T070000Z", "2026-11-24T07:00:00Z", cancelled=True),
        expected[6],
    ]  # fmt: skip
    # The whole series deleted on the server: every occurrence cancelled, none deleted.
    radicale.delete("/hs/outlook/series.ics")
    (fourth,) = sync(dsn, url)
    assert fourth.deleted == 1  # type: ignore[attr-defined]
    rows = bookings(dsn, "caldav:%/hs/outlook/")
    assert len(rows) == 7 and all(row[4] for row in rows)


def test_google_and_desk_calendars_under_one_home(radicale: Radicale, dsn: str) -> None:
    google = radicale.make_calendar("/hs2/google/", "HQ desks")
    desk = radicale.make_calendar("/hs2/desk/", "h-1")
    for n, body in enumerate(
        objects_by_uid((FIXTURES / "google_recurring.ics").read_bytes()).values()
    ):
        radicale.put(f"/hs2/google/g{n}.ics", body)
    radicale.put("/hs2/desk/e.ics", (FIXTURES / "desk_calendar.ics").read_bytes())
    results = sync(dsn, f"{radicale.url}/hs2/")  # the home: every calendar under it
    assert sorted(r.source for r in results) == [f"caldav:{desk}", f"caldav:{google}"]  # type: ignore[attr-defined]
    g = GOOGLE_UID
    assert bookings(dsn, "caldav:%/hs2/google/") == [
        # Mondays 07:00Z, 16 Nov cancelled in Google's way (an override with STATUS:CANCELLED).
        (f"{g}~20261102T070000Z", "d-2", at("2026-11-02T07:00Z"), at("2026-11-02T11:00Z"), False),
        # Floating 09:00 in X-WR-TIMEZONE Europe/Stockholm (+01:00).
        ("floating-1@google.com", "d-2", at("2026-11-04T08:00Z"), at("2026-11-04T11:00Z"), False),
        (f"{g}~20261109T070000Z", "d-2", at("2026-11-09T07:00Z"), at("2026-11-09T11:00Z"), False),
        (f"{g}~20261123T070000Z", "d-2", at("2026-11-23T07:00Z"), at("2026-11-23T11:00Z"), False),
    ]  # fmt: skip
    # The desk calendar "h-1": an all-day event without LOCATION is the whole local day.
    assert bookings(dsn, "caldav:%/hs2/desk/") == [
        ("desk-h1-2026-11-05@nextcloud.example", "h-1", at("2026-11-04T23:00Z"),
         at("2026-11-05T23:00Z"), False),
    ]  # fmt: skip


def test_a_bad_object_leaves_bookings_and_token_untouched(radicale: Radicale, dsn: str) -> None:
    url = radicale.make_calendar("/hs3/cal/", "HQ")
    google = (FIXTURES / "google_recurring.ics").read_bytes().replace(b"@google.com", b"@g3")
    (series, _floating) = objects_by_uid(google).values()
    radicale.put("/hs3/cal/g.ics", series)
    sync(dsn, url)
    before = bookings(dsn, "caldav:%/hs3/cal/")
    with psycopg.connect(dsn) as conn:
        token = conn.execute(
            "SELECT sync_token FROM booking_sources WHERE source = %s", (f"caldav:{url}",)
        ).fetchone()
    # Radicale accepts the event; our check refuses it (an unknown desk) and names it.
    radicale.put("/hs3/cal/g.ics", series.replace(b"LOCATION:d-2", b"LOCATION:d-99", 1))
    from hubsense.errors import InputError

    with pytest.raises(
        InputError,
        match=r"^caldav .*/hs3/cal/g.ics: UID 7kq2m1c9v0p3l8s5d4e6f2g1h0@g3: LOCATION: "
        r"unknown desk 'd-99'$",
    ):
        sync(dsn, url)
    assert bookings(dsn, "caldav:%/hs3/cal/") == before
    with psycopg.connect(dsn) as conn:
        assert (
            conn.execute(
                "SELECT sync_token FROM booking_sources WHERE source = %s", (f"caldav:{url}",)
            ).fetchone()
            == token
        )
