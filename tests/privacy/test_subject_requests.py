"""No personal data in bookings: a booker only as a salted hash, found and erased by it."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from hubsense.bookings.store import BookingRow, upsert_bookings

from hubsense.privacy import hash_booker

pytestmark = pytest.mark.service

HUBSENSE = str(Path(sys.executable).parent / "hubsense")
SALT = "a-salt-from-the-settings-file-only"
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def _privacy(
    command: str, dsn: str, stdin: str, salt: str | None = SALT
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBSENSE_")}
    if salt is not None:
        env["HUBSENSE_PRIVACY__BOOKER_SALT"] = salt
    return subprocess.run(
        [HUBSENSE, "privacy", command, "--dsn", dsn],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _hashes(dsn: str) -> dict[str, str | None]:
    with psycopg.connect(dsn) as conn:
        return dict(conn.execute("SELECT booking_id, booker_hash FROM bookings").fetchall())


def test_find_and_erase_a_booker_by_salted_hash(db_dsn: str) -> None:
    anna = hash_booker("Anna.Berg@Region.se ", SALT)
    assert (
        anna == hash_booker("anna.berg@region.se", SALT) != hash_booker("anna.berg@region.se", "x")
    )
    rows = [
        BookingRow("b-1", "hq", "hq-1", T0, T0 + HOUR, anna),
        BookingRow("b-2", "hq", "hq-2", T0 + 24 * HOUR, T0 + 25 * HOUR, anna),
        BookingRow(
            "b-3", "hq", "hq-1", T0 + HOUR, T0 + 2 * HOUR, hash_booker("bo@region.se", SALT)
        ),
        BookingRow("b-4", "hq", "hq-3", T0, T0 + HOUR, None),
    ]
    with psycopg.connect(db_dsn) as conn:
        upsert_bookings(conn, rows, origin="api")
    found = _privacy("bookings", db_dsn, "anna.berg@region.se\n")
    assert found.returncode == 0, found.stderr
    answer = json.loads(found.stdout)
    assert [(b["booking_id"], b["desk"], b["start"]) for b in answer] == [
        ("b-1", "hq-1", "2026-03-02 08:00:00+00:00"),
        ("b-2", "hq-2", "2026-03-03 08:00:00+00:00"),
    ]
    erased = _privacy("erase", db_dsn, "ANNA.BERG@REGION.SE\n")
    assert erased.returncode == 0 and erased.stdout.strip() == "erased the booker from 2 booking(s)"
    assert _hashes(db_dsn) == {"b-1": None, "b-2": None, "b-3": rows[2].booker_hash, "b-4": None}
    again = _privacy("bookings", db_dsn, "anna.berg@region.se\n")
    assert json.loads(again.stdout) == []


def test_without_a_salt_nothing_was_stored_and_the_command_says_so(db_dsn: str) -> None:
    result = _privacy("bookings", db_dsn, "anna.berg@region.se\n", salt=None)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "hubsense: error: privacy.booker_salt: not set, so no booker was ever stored; "
        "hubsense holds no booking linked to this person"
    )


@pytest.mark.parametrize(
    "booker", ["Anna Berg", "anna.berg@region.se", "hmac-sha256:abc", "0" * 63]
)
def test_the_database_refuses_a_booker_that_is_not_a_hash(db_dsn: str, booker: str) -> None:
    row = BookingRow("b-bad", "hq", "hq-1", T0, T0 + HOUR, booker)
    with (
        psycopg.connect(db_dsn) as conn,
        pytest.raises(psycopg.errors.CheckViolation, match="bookings_booker_hash_is_a_hash"),
    ):
        upsert_bookings(conn, [row], origin="csv")
    assert "b-bad" not in _hashes(db_dsn)
