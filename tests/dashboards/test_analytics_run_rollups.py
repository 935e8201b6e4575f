"""Every panel gives the same rows on rollups written by `hubsense analytics run` as on
rollups loaded from `hubsense analytics compute`'s files (what the other tests use), so the
boards read the writer's columns as the writer means them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from board_data import HAND_FROM, HAND_TO, HUBSENSE, fill_rollups, load_raw, local, write_hand_csvs
from board_sql import context, run_sql, targets

pytestmark = pytest.mark.service

ROLLUPS = ("analytics_desk_day", "analytics_booking_outcome",
           "analytics_site_day")  # fmt: skip
VARIABLES = {
    "site": ["office-a", "hub-b"], "zone": ["z1", "z2", "open"], "percentile": ["95"],
    "hub": ["hub-b"], "low_use_pct": ["20"],
}  # fmt: skip


def _all_rows(dsn: str, boards: dict[str, Any]) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    ctx = context(local(2, 0), local(4, 0), **VARIABLES)
    rows = {}
    for name, board in boards.items():
        for title, sql in targets(board):
            names, found = run_sql(dsn, sql, ctx)
            keep = [i for i, n in enumerate(names) if n != "last seen (s ago)"]
            rows[(name, title)] = [tuple(r[i] for i in keep) for r in found]
    return rows


def test_writer_and_files_agree(db_dsn: str, tmp_path: Path, boards: dict[str, Any]) -> None:
    inventory, events, bookings = write_hand_csvs(tmp_path)
    load_raw(db_dsn, inventory, events, bookings)
    run = subprocess.run(
        [str(HUBSENSE), "analytics", "run", "--from", HAND_FROM.isoformat(),
         "--to", HAND_TO.isoformat(), "--dsn", db_dsn],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    written = _all_rows(db_dsn, boards)
    with psycopg.connect(db_dsn) as conn:
        conn.execute(f"TRUNCATE {', '.join(ROLLUPS)}")
    fill_rollups(db_dsn, inventory, events, bookings, HAND_FROM, HAND_TO, tmp_path / "files")
    from_files = _all_rows(db_dsn, boards)
    assert written.keys() == from_files.keys()
    for key, rows in from_files.items():
        assert written[key] == rows, key
    assert from_files[("facilities", "No-show rate")] == [(0.5,)]
