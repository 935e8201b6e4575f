"""Benchmark the hub page's two reads on a big site: desks now and today's summary.

Starts its own private PostgreSQL (hubsense.devstack), fills one office of 300 desks on
10 nodes with a week of events (an alive a minute per node, ~20 state changes a day per
desk, one desk per node untouched for the whole week: ~141,000 events), and prints the
median of five runs of `read_desks_now` and `read_today` (what the live feed reads per
poll). Run: `python bench/api_occupancy.py`.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from hubsense.api.occupancy import read_desks_now
from hubsense.api.today import read_today
from hubsense.devstack.postgres import PostgresServer

from hubsense.db.migrate import migrate

NODES, DESKS_PER_NODE, DAYS = 10, 30, 7
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def fill(conn: psycopg.Connection[Any], now: dt.datetime) -> int:
    t0 = int(now.timestamp() * 1000) - DAYS * 86_400_000
    rng = random.Random(1)
    hours = json.dumps({day: ["07:00-18:00"] for day in WEEKDAYS})
    conn.execute(
        "INSERT INTO sites (id, name, kind, timezone, opening_hours)"
        " VALUES ('big', 'Big', 'office', 'Europe/Stockholm', %s)",
        (hours,),
    )
    for n in range(NODES):
        node = f"n-{n}"
        conn.execute("INSERT INTO nodes (id, site_id, heartbeat_s) VALUES (%s, 'big', 60)", (node,))
        desks = [f"d-{n}-{i}" for i in range(DESKS_PER_NODE)]
        for i, desk in enumerate(desks):
            conn.execute("INSERT INTO desks (id, site_id) VALUES (%s, 'big')", (desk,))
            conn.execute(
                "INSERT INTO sensors (node_id, key, type, desk_id) VALUES (%s, %s, 'gpio_pir', %s)",
                (node, f"gpio:{i}", desk),
            )
        rows = [(node, 0, t0, "desk", desks[0], "vacant")]  # the untouched desk
        seq = 1
        for minute in range(DAYS * 1440):
            ts = t0 + minute * 60_000
            rows.append((node, seq, ts, "alive", None, None))
            seq += 1
            for desk in desks[1:]:
                if rng.random() < 20 / 1440:
                    rows.append((node, seq, ts, "desk", desk, rng.choice(["occupied", "vacant"])))
                    seq += 1
        copy_sql = (
            "COPY events (node_id, seq, ts, site_id, type, desk_id, source, state) FROM STDIN"
        )
        with conn.cursor().copy(copy_sql) as copy:
            for node_id, s, ts, kind, desk, state in rows:
                when = dt.datetime.fromtimestamp(ts / 1000, dt.UTC)
                copy.write_row(
                    (node_id, s, when, "big", kind, desk, "pir" if desk else None, state)
                )
    conn.execute("ANALYZE")
    return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])  # type: ignore[index]


def median_ms(read: Callable[[], object]) -> float:
    read()
    times = []
    for _ in range(5):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return sorted(times)[2] * 1000


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-api-"))
    base.chmod(0o711)  # the server runs as postgres and must pass through
    server = PostgresServer(base / "pg", durable=False)
    server.start()
    try:
        server.create_database("bench")
        dsn = server.dsn("bench")
        migrate(dsn)
        now = dt.datetime.now(dt.UTC)
        with psycopg.connect(dsn, autocommit=True) as conn:
            events = fill(conn, now)
            desks = NODES * DESKS_PER_NODE
            for label, read in (
                ("desks_now", lambda: read_desks_now(conn, "big", now)),
                ("today", lambda: read_today(conn, "big", now)),
            ):
                print(f"{label}: events={events} desks={desks} median_ms={median_ms(read):.1f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
