"""The SQLite outbox: seq across reopen, deletion after ack, disk full, SIGKILL mid-write."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hubsense.edge.io.outbox import PLAUSIBLE_AFTER_MS, SEQS_PER_MS, Outbox, open_outbox

from hubsense.errors import ConfigError
from hubsense.wire import EVENTS_ADAPTER

NOW = 1_800_000_000_000


def alive(ts: int) -> dict[str, object]:
    return {"ts": ts, "type": "alive"}


def test_seq_is_seeded_from_the_clock_and_survives_reopen(tmp_path: Path) -> None:
    box = open_outbox(tmp_path, "pi-1", NOW)
    first = NOW * SEQS_PER_MS
    out = box.append(
        [
            alive(NOW),
            {"ts": NOW + 1, "type": "desk", "desk": "d1", "source": "pir", "state": "occupied"},
        ]
    )
    assert [e["seq"] for e in out] == [first, first + 1]
    box.close()
    box = open_outbox(tmp_path, "pi-1", NOW + 999_999)  # reopen later: no new seed
    assert box.next_seq == first + 2 and box.depth == 2 and box.last_ts_ms == NOW + 1
    assert [e["seq"] for e in box.append([alive(NOW + 5)])] == [first + 2]
    rows = box.pending(-1, 10)
    assert [seq for seq, _ in rows] == [first, first + 1, first + 2]
    # Bodies are wire events: the message built from them validates against the contract.
    bodies = ",".join(b for _, b in rows)
    message = EVENTS_ADAPTER.validate_json(f'{{"node":"pi-1","events":[{bodies}]}}')
    assert message.events[1].desk == "d1"
    box.close()


def test_an_unset_clock_seeds_zero(tmp_path: Path) -> None:
    box = open_outbox(tmp_path, "pi-1", PLAUSIBLE_AFTER_MS - 1)
    assert box.next_seq == 0
    box.close()


def test_delete_only_what_was_acked(tmp_path: Path) -> None:
    box = open_outbox(tmp_path, "pi-1", NOW)
    seqs = [e["seq"] for e in box.append([alive(NOW + i) for i in range(10)])]
    assert box.delete_range(seqs[0], seqs[3]) == 4
    assert box.delete_range(seqs[0], seqs[3]) == 0  # a duplicate ack deletes nothing
    assert box.depth == 6
    assert [s for s, _ in box.pending(seqs[5], 100)] == seqs[6:]
    assert box.oldest_ts_ms() == NOW + 4
    box.close()


def test_outbox_of_another_node_is_refused(tmp_path: Path) -> None:
    open_outbox(tmp_path, "pi-1", NOW).close()
    with pytest.raises(ConfigError, match="belongs to node 'pi-1'"):
        open_outbox(tmp_path, "pi-2", NOW)


def test_full_disk_evicts_the_oldest_and_keeps_alive_flowing(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", "pi-1", NOW, max_bytes=256 * 1024)  # cap = a full disk
    appended = 0
    for i in range(3_000):
        box.append(
            [
                {
                    "ts": NOW + i,
                    "type": "desk",
                    "desk": f"desk-{i % 30}",
                    "source": "fused",
                    "state": "occupied",
                }
            ]
        )
        appended += 1
    assert box.disk_full is True
    assert box.evicted_total > 0
    assert box.depth == appended - box.evicted_total
    # The newest events are all there, contiguous, ending with the last one appended.
    newest = box.append([alive(NOW + 10_000)])[0]["seq"]
    seqs = [s for s, _ in box.pending(-1, 100_000)]
    assert seqs[-1] == newest and seqs == list(range(seqs[0], newest + 1))
    assert box.health().integrity == "ok"
    # Space comes back once acknowledged events are deleted.
    box.delete_range(seqs[0], seqs[-1])
    assert box.disk_full is False
    box.close()


_WRITER = r"""
import sys
from pathlib import Path
from hubsense.edge.io.outbox import open_outbox
from hubsense.logs import configure_logging
configure_logging("warning", "json")  # logs to stderr; stdout carries committed seqs
box = open_outbox(Path(sys.argv[1]), "pi-1", 1_800_000_000_000)
ts = 1_800_000_000_000
while True:
    events = [{"ts": ts + i, "type": "desk", "desk": "d1", "source": "pir",
               "state": "occupied" if i % 2 else "vacant"} for i in range(1 + ts % 7)]
    out = box.append(events)
    ts += 1
    if ts % 5 == 0:  # acks delete from the front, as the agent does
        rows = box.pending(-1, 3)
        if rows:
            box.delete_range(rows[0][0], rows[-1][0])
    sys.stdout.write(f"{out[-1]['seq']}\n")
    sys.stdout.flush()
"""


@pytest.mark.chaos
def test_sigkill_during_writes_leaves_a_usable_outbox(tmp_path: Path) -> None:
    rng = random.Random(4)
    committed_max = -1
    for round_ in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(0.4 + rng.random() * 0.8)
        os.kill(child.pid, signal.SIGKILL)
        out, _ = child.communicate()
        reported = [int(line) for line in out.split()]
        assert reported, f"round {round_}: the writer committed nothing"
        # Integrity and seq continuity after the kill.
        db = sqlite3.connect(tmp_path / "outbox.sqlite3")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seqs = [r[0] for r in db.execute("SELECT seq FROM events ORDER BY seq")]
        next_seq = int(db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0])
        db.close()
        assert seqs == list(range(seqs[0], seqs[-1] + 1)), "a gap inside the outbox"
        # Everything the writer saw committed is there; nothing was handed out twice.
        assert seqs[-1] >= reported[-1] and next_seq == seqs[-1] + 1
        assert reported[0] > committed_max
        committed_max = reported[-1]
    box = open_outbox(tmp_path, "pi-1", 1_800_000_000_000)
    assert box.append([alive(1_800_000_000_000)])[0]["seq"] == next_seq
    box.close()
