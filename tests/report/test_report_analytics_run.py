"""The report on rollups written by the analytics' own writer (`hubsense analytics run`)
equals the report computed from the events."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from board_data import load_raw, write_hand_csvs
from test_report_rollups import _report, _sources, _without_provenance

pytestmark = pytest.mark.service

HUBSENSE = Path(sys.executable).parent / "hubsense"


def test_report_reads_what_analytics_run_wrote(
    db_dsn: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    inventory, events, bookings = write_hand_csvs(tmp_path_factory.mktemp("hand"))
    load_raw(db_dsn, inventory, events, bookings)
    run = subprocess.run(
        [str(HUBSENSE), "analytics", "run", "--from", "2026-03-02", "--to", "2026-03-04",
         "--dsn", db_dsn],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    rolled = _report(db_dsn, tmp_path / "rolled.html")
    assert all(s.startswith("from the analytics rollups") for s in _sources(rolled).values())
    assert len(_sources(rolled)) == 2
    computed = _report(db_dsn, tmp_path / "events.html", "--from-events")
    assert _without_provenance(rolled) == _without_provenance(computed)
