"""`hubsense bookings import|list` as a user runs it (the installed script, a real PostgreSQL):
dry run first, then the import, a re-import after the series changed, errors in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from support.database import insert_node

pytestmark = pytest.mark.service

HUBSENSE = str(Path(sys.executable).parent / "hubsense")
FIXTURES = Path(__file__).parent / "fixtures"
UID = "040000008200E00074C5B7101A82E00800000000D0E2A5B3F2A0DC01000000000000000010000000"
WINDOW = ["--from", "2026-10-01", "--to", "2027-01-01"]


@pytest.fixture(scope="module")
def dsn(db_dsn: str) -> str:
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sites (id, name, kind, timezone, opening_hours) VALUES"
            " ('hq', 'HQ', 'office', 'Europe/Stockholm', '{}')"
        )
        insert_node(conn, "hq", "pi-a", {"d-1": "f3", "d-2": "f3"})
    return db_dsn


def hubsense(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HUBSENSE, "bookings", *args], capture_output=True, text=True, timeout=120, check=False
    )


def count(dsn: str, where: str = "true") -> int:
    with psycopg.connect(dsn) as conn:
        return int(conn.execute(f"SELECT count(*) FROM bookings WHERE {where}").fetchone()[0])


def test_import_dry_run_then_import_then_replace(dsn: str, tmp_path: Path) -> None:
    ics = tmp_path / "hq-desks.ics"
    ics.write_bytes((FIXTURES / "outlook_recurring.ics").read_bytes())
    dry = hubsense("import", str(ics), *WINDOW, "--dry-run", "--dsn", dsn)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0] == (
        "hq-desks.ics: 7 rows, 7 added, 0 changed, 0 unchanged, 0 cancelled"
        " (would be written: dry run)"
    )
    days = ("1103", "1105", "1110", "1117", "1119", "1124", "1126")
    assert lines[1:] == sorted(f"+ {UID}~2026{d}T070000Z" for d in days)  # fmt: skip
    assert count(dsn) == 0
    done = hubsense("import", str(ics), *WINDOW, "--dsn", dsn)
    assert (
        done.stdout.strip() == "hq-desks.ics: 7 rows, 7 added, 0 changed, 0 unchanged, 0 cancelled"
    )
    # The series is shortened on the booking tool's side (UNTIL 20 Nov): a re-import of the
    # same source cancels the two occurrences gone, keeps them, and they stop counting.
    ics.write_bytes(ics.read_bytes().replace(b"UNTIL=20261127T230000Z", b"UNTIL=20261120T230000Z"))
    again = hubsense("import", str(ics), *WINDOW, "--dsn", dsn)
    assert again.stdout.strip() == (
        "hq-desks.ics: 5 rows, 0 added, 0 changed, 5 unchanged, 2 cancelled"
    )
    assert count(dsn, "cancelled_at IS NOT NULL") == 2
    listed = hubsense("list", "--site", "hq", *WINDOW, "--dsn", dsn)
    assert len(listed.stdout.splitlines()) == 5
    assert listed.stdout.splitlines()[3] == (
        f"2026-11-18T07:00:00+00:00  2026-11-18T15:00:00+00:00  hq           d-1          "
        f"{UID}~20261117T070000Z"
    )
    with_cancelled = hubsense("list", "--site", "hq", *WINDOW, "--cancelled", "--dsn", dsn)
    assert with_cancelled.stdout.splitlines()[-1].endswith("~20261126T070000Z  cancelled")


def test_bad_files_exit_2_with_one_line_and_write_nothing(dsn: str, tmp_path: Path) -> None:
    before = count(dsn)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "booking_id,site,desk,start,end\nok-1,hq,d-1,2026-11-02T08:00:00Z,2026-11-02T09:00:00Z\n"
        "ok-2,hq,d-1,2026-11-02T08:00:00Z,notatime\n"
    )
    result = hubsense("import", str(bad), "--dsn", dsn)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "hubsense: error: bad.csv:3: end: not an ISO-8601 instant: 'notatime'\n"
    )
    missing = hubsense("import", str(tmp_path / "nope.csv"), "--dsn", dsn)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "nope.csv: No such file or directory" in missing.stderr
    assert count(dsn) == before
