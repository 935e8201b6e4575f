"""`hubsense fleet gaps` against a real PostgreSQL: seqs never received, new outboxes, conflicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hubsense.ingest.batch import Batch
from hubsense.ingest.copy_writer import BatchWriter
from hubsense.ingest.decode import Decoded

pytestmark = pytest.mark.service

HUBSENSE = str(Path(sys.executable).parent / "hubsense")
TS0 = 1_764_000_000_000


def alive(node: str, seq: int, ts_ms: int) -> tuple:
    return (node, seq, ts_ms, "hq", "alive", None, None, None)


def write(dsn: str, *rows: tuple) -> None:
    writer = BatchWriter(dsn)
    try:
        batch = Batch()
        batch.add("hubsense/v1/hq/x/events", b"raw", Decoded(events=list(rows)), 1, 0.0)
        writer.write(batch)
    finally:
        writer.close()


def gaps(dsn: str, *args: str) -> tuple[int, dict]:
    out = subprocess.run(
        [HUBSENSE, "fleet", "gaps", "--dsn", dsn, "--json", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return out.returncode, json.loads(out.stdout) if out.stdout else {"stderr": out.stderr}


def test_gaps_count_missing_seqs_and_tell_a_new_outbox_from_a_loss(dsn: str) -> None:
    seed = (TS0 + 60_000) * 1000  # a reflashed node's first seq: its clock's ms x 1000
    write(
        dsn,
        alive("pi-a", 1, TS0 + 1),
        alive("pi-a", 2, TS0 + 2),
        alive("pi-a", 5, TS0 + 5),
        alive("pi-a", seed, TS0 + 60_000),
        alive("pi-a", seed + 1, TS0 + 60_001),
        alive("pi-b", 10, TS0),
        alive("pi-b", 11, TS0 + 1),
    )
    code, report = gaps(dsn, "--since", "2025-11-24T00:00Z")
    assert code == 1
    assert [
        (g["node"], g["after_seq"], g["before_seq"], g["missing"], g["new_outbox"])
        for g in report["gaps"]
    ] == [("pi-a", 2, 5, 2, False), ("pi-a", 5, seed, None, True)]
    assert report["missing_total"] == 2 and report["conflicts"] == []
    # --since after the hole: only what follows it counts.
    code, report = gaps(dsn, "--since", "2025-11-24T16:00:00.005Z", "--node", "pi-a")
    assert (code, report["missing_total"], len(report["gaps"])) == (0, 0, 1)
    assert gaps(dsn, "--since", "2025-11-24T00:00Z", "--node", "pi-b")[1]["gaps"] == []


def test_an_open_seq_conflict_fails_the_check(dsn: str) -> None:
    write(dsn, alive("pi-a", 1, TS0), alive("pi-a", 2, TS0 + 1))
    write(dsn, alive("pi-a", 1, TS0 + 999))
    code, report = gaps(dsn, "--since", "2025-11-24T00:00Z")
    assert code == 1 and report["missing_total"] == 0
    assert [(c["node"], c["last_seq"], c["dead_letters"]) for c in report["conflicts"]] == [
        ("pi-a", 1, 1)
    ]


def test_a_bad_since_is_one_line_exit_2(dsn: str) -> None:
    out = subprocess.run(
        [HUBSENSE, "fleet", "gaps", "--dsn", dsn, "--since", "yesterday"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.startswith("hubsense: error: --since:") and out.stderr.count("\n") == 1
