"""Measure bytes per event of `events` on the TimescaleDB lane, uncompressed and compressed.

    .venv/bin/python tests/timescale/measure_compression.py --events 100000 [--postgres]

Starts its own lane (and, with --postgres, a private PostgreSQL 15 for the plain-table
figure), applies the migrations with their defaults, loads synthetic events shaped like
a fleet's (an alive per node per minute, desks changing state every ~20 min in office
hours), then compares hypertable_size before and after compress_chunk, for the
segmentby of 0002 (node_id) and the alternative (site_id). A measurement for the
scaling notes, not a test: it asserts nothing and must not be collected by pytest.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "db"))
from timescale_lane import cached_template, start_lane

from hubsense.db.migrate import migrate

T0 = datetime(2026, 3, 2, tzinfo=UTC)
BATCH = 10_000
INSERT_EVENTS = """
INSERT INTO events (node_id, seq, ts, site_id, type, desk_id, source, state)
SELECT * FROM unnest(%s::text[], %s::bigint[], %s::timestamptz[], %s::text[],
                     %s::event_type[], %s::text[], %s::event_source[], %s::desk_state[])
ON CONFLICT DO NOTHING
"""


def fleet_events(total: int, sites: int = 10, nodes_per_site: int = 4, desks: int = 8) -> list[Any]:
    """`total` events of a fleet, in ts order per node, seeded for repeatability."""
    rnd = random.Random(20260302)
    # An alive a minute is 1,440 events a node-day; desks add ~260 more. One spare day.
    days = total // (sites * nodes_per_site * 1440) + 2
    streams = []
    for s in range(sites):
        for n in range(nodes_per_site):
            node = f"pi-site{s:02d}-{n}"
            times: list[tuple[float, str | None]] = [(60.0 * k, None) for k in range(days * 1440)]
            for d in range(desks):
                t = 7 * 3600.0
                while t < days * 86400:
                    t += rnd.expovariate(1 / 1200)
                    if 7 <= (t % 86400) / 3600 < 18:
                        times.append((t, f"{node}-desk{d}"))
            times.sort()
            streams.append((node, f"site-{s:02d}", times))
    rows: list[Any] = []
    cursor = [0] * len(streams)
    while len(rows) < total:  # interleave nodes so the data covers the same days for all
        for i, (node, site, times) in enumerate(streams):
            t, desk = times[cursor[i]]
            ts = T0 + timedelta(seconds=t, milliseconds=rnd.randrange(1000))
            if desk is None:
                rows.append((node, cursor[i], ts, site, "alive", None, None, None))
            else:
                state = rnd.choice(["occupied", "vacant"])
                rows.append((node, cursor[i], ts, site, "desk", desk, "fused", state))
            cursor[i] += 1
    return rows[:total]


def load(conn: psycopg.Connection[Any], rows: list[Any]) -> float:
    started = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        columns = [list(c) for c in zip(*rows[i : i + BATCH], strict=True)]
        conn.execute(INSERT_EVENTS, columns)
    return time.perf_counter() - started


def hypertable_bytes(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT hypertable_size('events')").fetchone()
    assert row is not None
    return int(row[0])


def compress_all(conn: psycopg.Connection[Any]) -> tuple[int, float]:
    started = time.perf_counter()
    row = conn.execute("SELECT count(compress_chunk(c)) FROM show_chunks('events') c").fetchone()
    assert row is not None
    return int(row[0]), time.perf_counter() - started


def measure_lane(rows: list[Any], base_dir: Path) -> None:
    lane = start_lane(base_dir, template=cached_template())
    try:
        migrate(lane.dsn, {}, prepare_threshold=None)
        with psycopg.connect(lane.dsn, prepare_threshold=None, autocommit=True) as conn:
            load_s = load(conn, rows)
            raw = hypertable_bytes(conn)
            print(
                f"lane: loaded {len(rows)} events in {load_s:.1f} s ({len(rows) / load_s:,.0f}/s)"
            )
            print(f"lane: uncompressed {raw:,} B = {raw / len(rows):.1f} B/event")
            for segmentby in ("node_id", "site_id"):
                if segmentby != "node_id":
                    conn.execute("SELECT count(decompress_chunk(c)) FROM show_chunks('events') c")
                    conn.execute(
                        f"ALTER TABLE events SET (timescaledb.compress_segmentby = '{segmentby}')"
                    )
                chunks, compress_s = compress_all(conn)
                packed = hypertable_bytes(conn)
                print(
                    f"lane: segmentby {segmentby}: compressed {packed:,} B = "
                    f"{packed / len(rows):.1f} B/event, ratio {raw / packed:.1f}x "
                    f"({chunks} chunks in {compress_s:.2f} s)"
                )
    finally:
        lane.stop()


def measure_postgres(rows: list[Any], base_dir: Path) -> None:
    from hubsense.devstack.postgres import PostgresServer

    server = PostgresServer(base_dir / "postgres", durable=False)
    server.start()
    try:
        migrate(server.dsn())
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            load(conn, rows)
            conn.execute("VACUUM ANALYZE events")
            row = conn.execute("SELECT pg_total_relation_size('events')").fetchone()
            assert row is not None
            print(f"postgres 15 plain table: {row[0]:,} B = {row[0] / len(rows):.1f} B/event")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="synthetic events to load")
    parser.add_argument("--postgres", action="store_true", help="also measure plain PostgreSQL 15")
    args = parser.parse_args()
    rows = fleet_events(args.events)
    alive = sum(1 for r in rows if r[4] == "alive")
    last = max(r[2] for r in rows)
    print(f"{len(rows)} events ({alive} alive, {len(rows) - alive} desk), {rows[0][2]} to {last}")
    with tempfile.TemporaryDirectory(prefix="hubsense-measure-") as tmp:
        measure_lane(rows, Path(tmp))
        if args.postgres:
            measure_postgres(rows, Path(tmp))


if __name__ == "__main__":
    main()
