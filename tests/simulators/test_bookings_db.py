"""Simulated bookings written to a real PostgreSQL, idempotently; the CLI end to end."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from hubsense.bookings.store import BookingRow, upsert_bookings
from hubsense.simulators.run import booking_rows
from hubsense.simulators.world import World

from hubsense.inventory.model import Inventory

pytestmark = pytest.mark.service

EXAMPLE = Path(__file__).parents[2] / "firmware-config" / "examples" / "inventory.yaml"
HUBSENSE = Path(sys.executable).parent / "hubsense"
EXAMPLE_SIM = "origin = 'simulator' AND site_id NOT IN ('hq', 'hub-a')"
WEEK = [dt.date(2026, 3, 2) + dt.timedelta(days=i) for i in range(7)]


def _rows(dsn: str, where: str = "TRUE") -> list[tuple]:  # type: ignore[type-arg]
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT booking_id, site_id, desk_id, start_at, end_at, origin, released_at, "
            f"updated_at FROM bookings WHERE {where} ORDER BY booking_id"
        ).fetchall()


def test_upsert_is_idempotent_and_keeps_releases(inventory: Inventory, db_dsn: str) -> None:
    bookings = World(inventory, 17).bookings(WEEK)
    assert len(bookings) > 20
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        assert upsert_bookings(conn, booking_rows(bookings), origin="simulator") == len(bookings)
        first = _rows(db_dsn, "booking_id LIKE 'sim-%'")
        conn.execute(
            "UPDATE bookings SET released_at = start_at + interval '15 minutes' "
            "WHERE booking_id = %s",
            (bookings[0].booking_id,),
        )
        upsert_bookings(conn, booking_rows(bookings), origin="simulator")
        again = _rows(db_dsn, "booking_id LIKE 'sim-%'")
        assert len(again) == len(first) == len(bookings)
        released = {row[0]: row[6] for row in again if row[6] is not None}
        assert list(released) == [bookings[0].booking_id]
        # Unchanged rows are not rewritten (updated_at stays).
        assert [row[:6] + row[7:] for row in again] == [row[:6] + row[7:] for row in first]
        one = bookings[1]
        start = dt.datetime.fromtimestamp(one.start_ms / 1000, tz=dt.UTC)
        moved = BookingRow(one.booking_id, one.site, one.desk, start, start + dt.timedelta(hours=2))
        upsert_bookings(conn, [moved], origin="simulator")
    row = _rows(db_dsn, f"booking_id = '{one.booking_id}'")[0]
    assert (row[3], row[4], row[5]) == (start, start + dt.timedelta(hours=2), "simulator")
    by_id = {b.booking_id: b for b in bookings}
    for booking_id, site, desk, start_at, end_at, origin, *_ in again:
        expected = by_id[booking_id]
        assert (site, desk, origin) == (expected.site, expected.desk, "simulator")
        assert int(start_at.timestamp() * 1000) == expected.start_ms
        assert int(end_at.timestamp() * 1000) == expected.end_ms


def test_upsert_rejects_unknown_origin(db_dsn: str) -> None:
    with psycopg.connect(db_dsn) as conn, pytest.raises(ValueError, match="origin 'sim'"):
        upsert_bookings(conn, [], origin="sim")


def test_cli_backfill_writes_bookings_and_persists_seqs(
    db_dsn: str,
    mqtt_broker,
    tmp_path: Path,
    collector,  # type: ignore[no-untyped-def]
) -> None:
    from hubsense.db.inventory_sync import apply_inventory
    from hubsense.inventory.file import load_inventory

    apply_inventory(db_dsn, load_inventory(EXAMPLE))  # its coworking sites, for the day passes
    sub = collector("hubsense/v1/hub-gaxsjo/+/events")
    state = tmp_path / "seq.json"
    args = [
        str(HUBSENSE), "simulate", "-i", str(EXAMPLE), "--seed", "2", "--backfill", "1d",
        "--end", "2026-03-03T18:00:00+01:00", "--backfill-only", "--no-faults",
        "--mqtt-url", mqtt_broker.url, "--dsn", db_dsn, "--state-file", str(state), "--json",
    ]  # fmt: skip
    first = subprocess.run(args, capture_output=True, text=True, timeout=180, check=False)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["nodes"] == 17 and summary["seed"] == 2
    seqs = json.loads(state.read_text())["next_seq"]
    assert len(seqs) == 17 and sum(seqs.values()) == summary["events"]
    stored = _rows(db_dsn, EXAMPLE_SIM)
    assert len(stored) == summary["bookings"] > 50
    # A second run continues every node's seq and upserts the same bookings.
    second = subprocess.run(args, capture_output=True, text=True, timeout=180, check=False)
    assert second.returncode == 0, second.stderr
    assert json.loads(state.read_text())["next_seq"] == {
        node: 2 * seq for node, seq in seqs.items()
    }
    assert len(_rows(db_dsn, EXAMPLE_SIM)) == len(stored)
    node_seq = seqs["pi-gaxsjo"]
    sub.wait_for(lambda got: sum(len(json.loads(p)["events"]) for _, p, _ in got) >= 2 * node_seq)
    gaxsjo = [e["seq"] for _, p, _ in sub.snapshot() for e in json.loads(p)["events"]]
    assert gaxsjo == list(range(2 * node_seq))
