"""Scale-out: a second ingest worker on the shared subscription really takes a share.

Two workers drain a queued backlog of 40,000 single-event messages
(bench/workers.py's drain, a real Mosquitto and PostgreSQL): every event is stored
exactly once and the broker splits the backlog so that each worker stores at least a
fifth. How much faster two workers drain than one is a benchmark, not a test:
`bench/workers.py` prints both medians and their ratio, and docs/scaling.md quotes them
(≈ 1.2x on a quiet machine, anything from 0.7x to 1.2x when other work holds the cores).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.service, pytest.mark.slow]

BENCH = Path(__file__).parents[2] / "bench" / "workers.py"
_spec = importlib.util.spec_from_file_location("workers_bench", BENCH)
assert _spec is not None and _spec.loader is not None
wb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wb)

EVENTS = 40_000
MIN_SHARE = 0.2


def test_a_second_worker_takes_a_real_share_of_the_backlog_and_nothing_twice(
    db_dsn: str, make_broker: Any, tmp_path: Path
) -> None:
    broker = make_broker()
    wb.ib.insert_inventory(db_dsn, wb.PUBLISHERS, wb.NODES)
    wb.SHARES.clear()
    rate = wb.drain_rate(db_dsn, broker.url, tmp_path, 2, broker._pid(), EVENTS)
    print(f"\n2 workers drained {EVENTS} events at {rate:,.0f} events/s; shares {wb.SHARES}")
    [shares] = wb.SHARES
    assert len(shares) == 2
    assert min(shares) >= MIN_SHARE, shares
    assert abs(sum(shares) - 1) < 1e-9, shares  # each event stored by exactly one worker
