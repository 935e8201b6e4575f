"""The database part of bench/analytics.py: `analytics run` beside the raw binary COPY-out rate.

Loads synthetic events into a migrated PostgreSQL database (inventory applied, events and
bookings bulk-loaded), then measures per site and in total: the raw `COPY (SELECT the
site's rows) TO STDOUT (FORMAT binary)` rate (the ceiling of any reader), our reader
(`copy_events`: the same rows cast to integers, decoded by numpy), the whole `analytics
run` (read, compute, write rollups) and an incremental run of the last day.
Not part of the installed package.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import resource
import statistics
import time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg
import synth
from hubsense.analytics.arrays import Layout
from hubsense.analytics.calendar import Period
from hubsense.analytics.io.db_read import copy_events
from hubsense.analytics.run import DEFAULT_WORKERS, run_period

from hubsense.db.inventory_sync import apply_inventory
from hubsense.db.migrate import migrate
from hubsense.site_time import local_ms

KINDS = np.array(["desk", "alive", "stop"])
RAW_SQL = (
    "COPY (SELECT node_id, seq, ts, type, desk_id, state FROM events "
    "WHERE site_id = %s AND ts >= %s AND ts < %s ORDER BY ts, seq) TO STDOUT (FORMAT binary)"
)


def load(dsn: str, s: synth.Synthetic) -> None:
    migrate(dsn)
    apply_inventory(dsn, s.inventory)
    lay, e, b = s.layout, s.events, s.bookings
    node_ids = np.asarray(lay.node_ids)
    desk_ids = np.asarray([*lay.desk_ids, ""])
    site_of_node = np.asarray([site.id for site in lay.sites for _ in site.nodes])
    frame = pd.DataFrame(
        {
            "node_id": node_ids[e.node],
            "seq": e.seq,
            "ts": e.ts,
            "site_id": site_of_node[e.node],
            "type": KINDS[e.kind],
            "desk_id": desk_ids[e.desk],
            "source": np.where(e.kind == 0, "fused", ""),
            "state": np.where(e.kind == 0, np.where(e.state == 1, "occupied", "vacant"), ""),
        }
    )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False)
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE events, coverage, coverage_heads, bookings")
        cur.execute(
            "CREATE TEMP TABLE staged (node_id text, seq bigint, ts bigint, site_id text, type text, "
            "desk_id text, source text, state text)"
        )
        with cur.copy("COPY staged FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        cur.execute(
            "INSERT INTO events (node_id, seq, ts, site_id, type, desk_id, source, state) "
            "SELECT node_id, seq, timestamptz 'epoch' + ts * interval '1 millisecond', site_id, "
            "type::event_type, nullif(desk_id, ''), nullif(source, '')::event_source, "
            "nullif(state, '')::desk_state FROM staged"
        )
        desk_site = [lay.sites[int(i)].id for i in lay.desk_site]
        bookings = pd.DataFrame(
            {
                "booking_id": [f"b{i}" for i in range(len(b))],
                "site_id": [desk_site[d] for d in b.desk],
                "desk_id": [lay.desk_ids[d] for d in b.desk],
                "start": b.start_ms,
                "end": b.end_ms,
            }
        )
        buffer = io.StringIO()
        bookings.to_csv(buffer, index=False, header=False)
        cur.execute(
            "CREATE TEMP TABLE staged_b (booking_id text, site_id text, desk_id text, s bigint, e bigint)"
        )
        with cur.copy("COPY staged_b FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getvalue())
        cur.execute(
            "INSERT INTO bookings (booking_id, site_id, desk_id, start_at, end_at, origin) SELECT booking_id, "
            "site_id, desk_id, timestamptz 'epoch' + s * interval '1 millisecond', "
            "timestamptz 'epoch' + e * interval '1 millisecond', 'simulator' FROM staged_b"
        )
        # Written beside ingest: coverage from the raw rows, as after a migration.
        started = time.perf_counter()
        cur.execute("SELECT hubsense_rebuild_coverage()")
        print(f"coverage rebuilt from the raw rows in {time.perf_counter() - started:.1f} s")
        cur.execute("VACUUM ANALYZE events")
        cur.execute("VACUUM ANALYZE bookings")
        cur.execute("VACUUM ANALYZE coverage")


def _utc(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)


def raw_copy(dsn: str, s: synth.Synthetic) -> tuple[float, int]:
    """Seconds and bytes of the raw binary COPY-out of every site's rows of the period."""
    total = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        for site in s.layout.sites:
            zone = ZoneInfo(site.timezone)
            args = (
                site.id,
                _utc(local_ms(s.period.start, 0, zone)),
                _utc(local_ms(s.period.end, 0, zone)),
            )
            with cur.copy(RAW_SQL, args) as copy:
                for chunk in copy:
                    total += len(chunk)
        return time.perf_counter() - started, total


def our_reader(dsn: str, s: synth.Synthetic) -> float:
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        for site in s.layout.sites:
            layout = Layout.from_sites([site], s.inventory.node_of_desk)
            zone = ZoneInfo(site.timezone)
            copy_events(
                conn, layout, local_ms(s.period.start, 0, zone), local_ms(s.period.end, 0, zone)
            )
        return time.perf_counter() - started


def timed_runs(
    dsn: str, period: Period, runs: int, workers: int = DEFAULT_WORKERS
) -> tuple[float, Any]:
    """Median wall seconds of `runs` analytics runs of the period, and the last run's sites."""
    times, site_runs = [], []
    for _ in range(runs):
        started = time.perf_counter()
        site_runs = run_period(dsn, period, workers=workers)
        times.append(time.perf_counter() - started)
    return statistics.median(times), site_runs


def section_db(args: Any, out: dict[str, Any]) -> None:
    shape = synth.SIMULATOR if args.db_shape == "simulator" else synth.KERNEL
    s = synth.generate(args.db_desks, dt.date(2026, 1, 5), args.db_days, seed=5, shape=shape)
    n = len(s.events)
    n_desk = int((s.events.kind == 0).sum())
    print(
        f"\n## Database path: {args.db_desks} desks x {args.db_days} days, {n:,} events in PostgreSQL"
        f" ({args.db_shape} shape: {shape}; {n_desk:,} desk changes, {n - n_desk:,} alives)"
    )
    started = time.perf_counter()
    load(args.dsn, s)
    print(f"loaded in {time.perf_counter() - started:.1f} s")
    raws = [raw_copy(args.dsn, s) for _ in range(args.runs)]
    raw_s = statistics.median(r[0] for r in raws)
    ours = statistics.median(our_reader(args.dsn, s) for _ in range(args.runs))
    print(
        f"raw binary COPY-out       {raw_s:7.2f} s {n / raw_s / 1e6:7.2f} M rows/s ({raws[0][1] / n:.0f} bytes/row)"
    )
    print(
        f"our reader (COPY->numpy)  {ours:7.2f} s {n / ours / 1e6:7.2f} M rows/s = {raw_s / ours:.0%} of raw"
    )
    total, site_runs = timed_runs(args.dsn, s.period, args.runs)
    rows_read = sum(r.events for r in site_runs)
    rollup_rows = sum(r.desk_hours for r in site_runs)
    desk_day_rows = sum(r.desk_days for r in site_runs)
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    read = sum(r.read_s for r in site_runs)
    comp = sum(r.compute_s for r in site_runs)
    write = sum(r.write_s for r in site_runs)
    print(
        f"analytics run (all)       {total:7.2f} s {n / total / 1e6:7.2f} M events/s = {raw_s / total:.0%} of raw COPY-out "
        f"(summed over sites run {DEFAULT_WORKERS} at a time: read {read:.2f} s, compute {comp:.2f} s, write {write:.2f} s; hour + day rollups)"
    )
    print(
        f"                          ratio run / raw COPY-out {total / raw_s:.2f} (target <= 0.20); "
        f"rows read {rows_read:,} (desk changes + 2 a coverage interval) of {n:,} raw; "
        f"desk-day rows written {desk_day_rows:,} holding {rollup_rows:,} desk-hours; peak RSS of this process {peak_rss_mib:.0f} MiB"
    )
    by_workers = {}
    for workers in (1, 2, 4):
        by_workers[workers], _ = timed_runs(args.dsn, s.period, args.runs, workers)
    print(
        "sites at once (workers)   "
        + ", ".join(f"{w}: {t:.2f} s" for w, t in by_workers.items())
        + f" (median of {args.runs} each, {os.cpu_count()} cores)"
    )
    last_day_s, _ = timed_runs(
        args.dsn, Period(s.period.end - dt.timedelta(days=1), s.period.end), args.runs
    )
    print(f"incremental, last day     {last_day_s:7.2f} s (median of {args.runs})")
    out["db"] = {
        "run_s_by_workers": by_workers,
        "events": n,
        "raw_copy_s": raw_s,
        "reader_s": ours,
        "run_s": total,
        "read_s": read,
        "compute_s": comp,
        "write_s": write,
        "rows_read": rows_read,
        "desk_hour_rows": rollup_rows,
        "desk_day_rows": desk_day_rows,
        "peak_rss_mib": peak_rss_mib,
        "last_day_s": last_day_s,
    }


def load_coverage(dsn: str, s: synth.Synthetic, heartbeat_s: int) -> None:
    """Each node's coverage for the period as its alives every heartbeat would give it
    (always on: one interval from the first midnight to the end + 3 heartbeats), written
    straight into `coverage`: the year's database holds no aged-out alives to rebuild from."""
    first = s.period.start
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO coverage (site_id, node_id, start_ts, end_ts) VALUES (%s, %s, "
            "(%s::date)::timestamp AT TIME ZONE 'Europe/Stockholm', "
            "(%s::date)::timestamp AT TIME ZONE 'Europe/Stockholm' + %s * interval '3 seconds')",
            [
                (site.id, node.id, first, s.period.end, heartbeat_s)
                for site in s.inventory.sites
                for node in site.nodes
            ],
        )
        cur.execute("VACUUM ANALYZE coverage")


def section_db_year(args: Any, out: dict[str, Any], raw_rows_s: float | None) -> None:
    """A year of 10,000 desks from the database: desk changes, bookings and coverage as a
    database holds them a year on (raw alives older than retention.raw_alive_days are gone,
    and `analytics run` never reads alives), generated straight into it with COPY."""
    shape = synth.SIMULATOR
    started = time.perf_counter()
    s = synth.generate(
        args.year_desks, dt.date(2026, 1, 1), args.year_days, seed=9, shape=shape, alives=False
    )
    generated = time.perf_counter() - started
    n_nodes = len(s.layout.node_ids)
    raw_rows = len(s.events) + n_nodes * args.year_days * 86_400 // shape.heartbeat_s
    print(
        f"\n## Database path, a year: {args.year_desks:,} desks x {args.year_days} days "
        f"({shape}); {len(s.events):,} desk changes, {len(s.bookings):,} bookings, "
        f"{n_nodes:,} nodes' coverage (the raw stream would be {raw_rows / 1e6:,.0f} M rows with "
        f"its alives)"
    )
    started = time.perf_counter()
    load(args.dsn, s)
    load_coverage(args.dsn, s, shape.heartbeat_s)
    print(
        f"generated in {generated:.1f} s, loaded (COPY + inventory + coverage) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    if raw_rows_s:
        print(
            f"raw binary COPY-out of the full year's stream at the 60-day rate "
            f"({raw_rows_s / 1e6:.2f} M rows/s): ~{raw_rows / raw_rows_s:,.0f} s (estimated, "
            f"not loaded)"
        )
    total, site_runs = timed_runs(args.dsn, s.period, args.runs)
    read = sum(r.read_s for r in site_runs)
    comp = sum(r.compute_s for r in site_runs)
    write = sum(r.write_s for r in site_runs)
    rows_read = sum(r.events for r in site_runs)
    desk_days = sum(r.desk_days for r in site_runs)
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"analytics run (all)       {total:7.2f} s (median of {args.runs}; target < 60 s; summed "
        f"over sites run {DEFAULT_WORKERS} at a time: read {read:.2f} s, compute {comp:.2f} s, write {write:.2f} s)"
    )
    print(
        f"                          rows read {rows_read:,}; desk-day rows written {desk_days:,};"
        f" peak RSS of this process {peak_rss_mib:.0f} MiB (the generator's arrays included)"
    )
    last_day_s, _ = timed_runs(
        args.dsn, Period(s.period.end - dt.timedelta(days=1), s.period.end), args.runs
    )
    print(f"incremental, last day     {last_day_s:7.2f} s (median of {args.runs})")
    out["db_year"] = {
        "desk_changes": len(s.events),
        "raw_rows_with_alives": raw_rows,
        "run_s": total,
        "read_s": read,
        "compute_s": comp,
        "write_s": write,
        "rows_read": rows_read,
        "desk_day_rows": desk_days,
        "peak_rss_mib": peak_rss_mib,
        "last_day_s": last_day_s,
    }
