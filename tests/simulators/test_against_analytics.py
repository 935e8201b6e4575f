"""The simulator's truth agrees with the offline analytics (SPEC §10 files in, §6 outcomes out).

A no-show is a booking whose person never came (SPEC §7); with faults off every
booking is fully observed, so the analytics must call exactly the simulator's
no-shows `no_show` and every other booking `attended`.
"""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path

from hubsense.simulators.world import NO_FAULTS, World

from hubsense.inventory.file import load_inventory

EXAMPLE = Path(__file__).parents[2] / "firmware-config" / "examples" / "inventory.yaml"
HUBSENSE = Path(sys.executable).parent / "hubsense"


def _run(*args: str) -> None:
    result = subprocess.run(
        [str(HUBSENSE), *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_booking_outcomes_match_the_simulated_truth(tmp_path: Path) -> None:
    period = ("--from", "2026-03-02", "--to", "2026-03-04")
    _run(
        "simulate",
        "-i",
        str(EXAMPLE),
        "--seed",
        "8",
        "--no-faults",
        "--to-csv",
        str(tmp_path),
        *period,
    )
    _run(
        "analytics", "compute", "--inventory", str(EXAMPLE),
        "--events", str(tmp_path / "events.csv"), "--bookings", str(tmp_path / "bookings.csv"),
        *period, "--bucket", "day", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    with (tmp_path / "out" / "booking_outcomes.csv").open(newline="") as handle:
        outcomes = {row["booking_id"]: row["outcome"] for row in csv.DictReader(handle)}
    world = World(load_inventory(EXAMPLE), 8, faults=NO_FAULTS)
    truth = {
        b.booking_id: "no_show" if b.no_show else "attended"
        for b in world.bookings([dt.date(2026, 3, 2), dt.date(2026, 3, 3)])
    }
    assert len(truth) > 100 and 0 < list(truth.values()).count("no_show") < len(truth) / 3
    assert outcomes == truth
