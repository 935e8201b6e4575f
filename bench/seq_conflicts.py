"""What the conflicting-duplicate guard costs ingest's batched write path (BatchWriter).

Starts a private PostgreSQL (hubsense.devstack) and writes the same new events through
BatchWriter twice per round, alternating: with the seq guard (the clearing of seq conflicts
in the insert's statement; the stored-row comparison runs only when the insert skipped rows, which
new events never make it do) and without it (the write path before the guard). Prints
the medians of 3 rounds, ours beside the baseline, and their ratio; then the cost of a
batch holding one conflicting message (the transaction is redone without it).

Run: .venv/bin/python bench/seq_conflicts.py [--events 200000] [--batch 2000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TS0_MS = 1_764_000_000_000


def rows_for(offset: int, events: int) -> list[tuple[Any, ...]]:
    return [
        (f"bn-{seq % 8}", offset + seq, TS0_MS + seq, "bench", "alive", None, None, None)
        for seq in range(events)
    ]


def write_all(dsn: str, rows: list[tuple[Any, ...]], batch_events: int) -> float:
    from hubsense.ingest.batch import Batch
    from hubsense.ingest.copy_writer import BatchWriter
    from hubsense.ingest.decode import Decoded

    writer = BatchWriter(dsn)
    writer.connect()
    start = time.perf_counter()
    for first in range(0, len(rows), batch_events):
        batch = Batch()
        batch.add("t", b"", Decoded(events=rows[first : first + batch_events]), None, 0.0)
        writer.write(batch)
    elapsed = time.perf_counter() - start
    writer.close()
    return len(rows) / elapsed


def main() -> None:
    import psycopg
    from hubsense.devstack.postgres import PostgresServer
    from hubsense.ingest import copy_writer

    from hubsense.db.migrate import migrate

    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        pg = PostgresServer(Path(work) / "pg")
        pg.start()
        try:
            pg.create_database("bench")
            dsn = pg.dsn("bench")
            migrate(dsn)
            guarded = copy_writer._insert_clearing_conflicts

            def before(*, skip_stored: bool = False) -> str:  # the statement without the guard
                tail = f" {copy_writer._SKIP_STORED}" if skip_stored else ""
                return copy_writer._INSERT_EVENTS + tail

            ours, base = [], []
            for round_ in range(3):
                for with_guard in (True, False) if round_ % 2 == 0 else (False, True):
                    with psycopg.connect(dsn, autocommit=True) as conn:
                        conn.execute("TRUNCATE events, dead_letters, seq_conflicts")
                    copy_writer._insert_clearing_conflicts = guarded if with_guard else before
                    rate = write_all(dsn, rows_for(0, args.events), args.batch)
                    (ours if with_guard else base).append(rate)
            copy_writer._insert_clearing_conflicts = guarded
            # Each batch one message whose last event reuses a stored seq with another ts: the
            # whole message is dead-lettered and the transaction redone once.
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("TRUNCATE events, dead_letters, seq_conflicts")
            write_all(dsn, rows_for(0, args.batch * 10), args.batch)
            mixed = []
            for index in range(10):
                fresh = rows_for(10_000_000 + index * args.batch, args.batch - 1)
                reused = (
                    "bn-0",
                    index * args.batch,
                    TS0_MS - 1,
                    "bench",
                    "alive",
                    None,
                    None,
                    None,
                )
                mixed.extend([*fresh, reused])
            conflict_rate = write_all(dsn, mixed, args.batch)
        finally:
            pg.stop()
    o, b = statistics.median(ours), statistics.median(base)
    print(
        f"batched write, seq guard     {o:>10,.0f} events/s  (median of 3: {[round(x) for x in ours]})"
    )
    print(
        f"batched write, before guard  {b:>10,.0f} events/s  (median of 3: {[round(x) for x in base]})"
    )
    print(f"ratio guard / before         {o / b:>10.3f}")
    print(
        f"batches holding a conflict   {conflict_rate:>10,.0f} events/s  (each batch redone once)"
    )


if __name__ == "__main__":
    main()
