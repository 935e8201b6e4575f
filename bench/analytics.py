"""Benchmark the analytics (docs/scaling.md): kernels vs pandas, DuckDB and PostgreSQL SQL, a year, the database path.

    .venv/bin/python bench/analytics.py              # everything (minutes)
    .venv/bin/python bench/analytics.py --skip-year --skip-db

Prints, in one run: numba compile time; events/s of the kernels on one core for the whole
docs/metrics.md metric set (sorted and unsorted input); the same metrics with idiomatic pandas,
DuckDB (one thread) and SQL on PostgreSQL over the same data, each checked equal to
ours, and the ratios; a year of 10,000 desks from arrays (wall, CPU, peak RSS, in a
child process); the database path (`analytics run`) beside the raw binary COPY-out rate
of the same rows; and an incremental update of the last day. Times are medians of
--runs runs. These machines are shared: CPU time is printed beside wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import baselines_pandas
import baselines_sql
import synth
from hubsense.analytics.calendar import Bucket
from hubsense.analytics.compute import Results, compute
from hubsense.analytics.kernels.intervals import STATE_UNKNOWN

START = dt.date(2026, 1, 5)


def timed(fn: Any, runs: int) -> tuple[float, float, Any]:
    """Median wall and CPU seconds of `runs` calls, and the last result."""
    return timed_alternating([fn], runs)[0]


def timed_alternating(fns: list[Any], runs: int) -> list[tuple[float, float, Any]]:
    """`timed` for several functions called in turn, so each sees the same machine load."""
    walls: list[list[float]] = [[] for _ in fns]
    cpus: list[list[float]] = [[] for _ in fns]
    results: list[Any] = [None for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            w, c = time.perf_counter(), time.process_time()
            results[i] = fn()
            walls[i].append(time.perf_counter() - w)
            cpus[i].append(time.process_time() - c)
    return [
        (statistics.median(walls[i]), statistics.median(cpus[i]), results[i])
        for i in range(len(fns))
    ]


def tables(s: synth.Synthetic, results: Results) -> dict[str, dict[str, np.ndarray]]:
    """The integer tables the baselines read (calendars come from the same calendar code)."""
    cal, lay, e, b = results.calendars, s.layout, s.events, s.bookings
    n_sites = len(lay.sites)
    h_site = np.repeat(np.arange(n_sites), np.diff(cal.h_off) // 2)
    b_counts = np.diff(cal.b_off) - 1
    b_site = np.repeat(np.arange(n_sites), b_counts)
    b_start = np.concatenate(
        [cal.b_bounds[cal.b_off[i] : cal.b_off[i + 1] - 1] for i in range(n_sites)]
    )
    b_end = np.concatenate(
        [cal.b_bounds[cal.b_off[i] + 1 : cal.b_off[i + 1]] for i in range(n_sites)]
    )
    d_counts = np.diff(cal.d_off) - 1
    d_site = np.repeat(np.arange(n_sites), d_counts)
    d_start = np.concatenate(
        [cal.d_bounds[cal.d_off[i] : cal.d_off[i + 1] - 1] for i in range(n_sites)]
    )
    d_end = np.concatenate(
        [cal.d_bounds[cal.d_off[i] + 1 : cal.d_off[i + 1]] for i in range(n_sites)]
    )
    return {
        "ev": {
            "node": e.node.astype(np.int32),
            "seq": e.seq,
            "ts": e.ts,
            "kind": e.kind.astype(np.int16),
            "desk": e.desk,
            "state": e.state.astype(np.int16),
            "rn": np.arange(len(e), dtype=np.int64),
        },
        "desk_t": {
            "desk": np.arange(len(lay.desk_ids), dtype=np.int32),
            "node": lay.desk_node,
            "site": lay.desk_site,
        },
        "node_t": {
            "node": np.arange(len(lay.node_ids), dtype=np.int32),
            "cover_ms": 3 * lay.node_heartbeat_ms,
        },
        "bk": {
            "b": np.arange(len(b), dtype=np.int32),
            "desk": b.desk,
            "s": b.start_ms,
            "e": b.end_ms,
        },
        "h_t": {"site": h_site.astype(np.int32), "s": cal.h_tog[0::2], "e": cal.h_tog[1::2]},
        "bucket_t": {
            "site": b_site.astype(np.int32),
            "bucket": np.arange(len(b_site), dtype=np.int32),
            "s": b_start,
            "e": b_end,
        },
        "day_t": {
            "site": d_site.astype(np.int32),
            "day": np.arange(len(d_site), dtype=np.int32),
            "s": d_start,
            "e": d_end,
            "open": cal.open_day,
        },
    }


def expected(results: Results, s: synth.Synthetic) -> dict[str, np.ndarray]:
    r = results
    return {
        "desk": np.stack(
            [r.observed_ms, r.occupied_ms, r.booked_ms, r.booked_observed_ms, r.booked_occupied_ms]
        )
        // 1000,
        "bookings": np.stack(
            [r.booking_observed_ms // 1000, r.booking_occupied_ms // 1000, r.booking_outcome]
        ),
        "days": np.stack([r.peak, r.peak_at_ms, r.copresence_ms // 1000]),
        "needed": np.asarray(r.desks_needed),
    }


def check(name: str, got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    for key, values in want.items():
        if not np.array_equal(np.asarray(got[key], dtype=np.int64), values.astype(np.int64)):
            raise SystemExit(f"{name}: {key} differs from the kernels")


def run_pandas(t: dict[str, dict[str, np.ndarray]], p: Fraction) -> dict[str, np.ndarray]:
    import pandas as pd

    frames = {name: pd.DataFrame(cols) for name, cols in t.items()}
    x = baselines_pandas.sets(frames)
    dm = baselines_pandas.desk_metrics(frames, x)
    bo = baselines_pandas.booking_outcomes(frames, x, 900_000)
    sd = baselines_pandas.site_days(frames, x)
    sites = sorted(set(t["desk_t"]["site"].tolist()))
    return {
        "desk": dm[
            ["observed_s", "occupied_s", "booked_s", "booked_observed_s", "booked_occupied_s"]
        ]
        .to_numpy()
        .T,
        "bookings": bo[["observed_s", "occupied_s", "outcome"]].to_numpy().T,
        "days": sd[["peak", "at", "copresence_s"]].to_numpy().T,
        "needed": np.asarray(baselines_pandas.desks_needed(sd, sites, p.numerator, p.denominator)),
    }


def sql_queries(div: str, p: Fraction) -> dict[str, str]:
    fill = {"div": div, "noshow_ms": 900_000, "p_num": p.numerator, "p_den": p.denominator}
    return {
        "desk": baselines_sql.DESK_METRICS.format(**fill),
        "bookings": baselines_sql.BOOKINGS.format(**fill),
        "days": baselines_sql.SITE_DAYS.format(**fill),
        "needed": baselines_sql.DESKS_NEEDED.format(
            site_days=baselines_sql.SITE_DAYS.format(**fill), **fill
        ),
    }


def as_result(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, np.ndarray]:
    return {
        "desk": np.asarray([r[2:] for r in rows["desk"]], dtype=np.int64).T,
        "bookings": np.asarray([r[1:] for r in rows["bookings"]], dtype=np.int64).T,
        "days": np.asarray([r[2:] for r in rows["days"]], dtype=np.int64).T,
        "needed": np.asarray([r[1] for r in rows["needed"]], dtype=np.int64),
    }


def duckdb_setup(t: dict[str, dict[str, np.ndarray]]) -> Any:
    import duckdb
    import pandas as pd

    con = duckdb.connect()
    con.execute("SET threads = 1")
    for name, cols in t.items():
        frame = pd.DataFrame(cols)  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
    return con


def run_sql(execute: Any, queries: dict[str, str]) -> dict[str, np.ndarray]:
    return as_result({name: execute(sql) for name, sql in queries.items()})


def pg_setup(dsn: str, t: dict[str, dict[str, np.ndarray]]) -> None:
    import psycopg
    from hubsense.analytics.io.pgcopy import encode

    types = {np.dtype(np.int16): "int2", np.dtype(np.int32): "int4", np.dtype(np.int64): "int8"}
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        for name, cols in t.items():
            ints = {c: v for c, v in cols.items() if v.dtype != np.bool_}
            cur.execute(f"DROP TABLE IF EXISTS {name}")
            cur.execute(
                f"CREATE TABLE {name} ({', '.join(f'{c} {types[v.dtype]}' for c, v in ints.items())})"
            )
            with cur.copy(f"COPY {name} ({', '.join(ints)}) FROM STDIN (FORMAT binary)") as copy:
                copy.write(encode(ints))
            for c, v in cols.items():
                if v.dtype == np.bool_:
                    cur.execute(f"ALTER TABLE {name} ADD COLUMN {c} boolean")
                    cur.execute(
                        f"UPDATE {name} SET {c} = (day = ANY(%s))", (np.flatnonzero(v).tolist(),)
                    )
            cur.execute(f"ANALYZE {name}")


def section_small(args: argparse.Namespace, out: dict[str, Any]) -> None:
    s = synth.generate(args.desks, START, args.days, seed=3)
    n = len(s.events)
    p = Fraction(95)
    print(
        f"\n## Same metrics, same data: {args.desks} desks x {args.days} days, {n:,} events, "
        f"{len(s.bookings):,} bookings, day buckets"
    )
    # Beside it the same with the calendars built beforehand (the issue puts them outside
    # the kernels): what the kernels themselves take, sweep plus outcomes and percentiles.
    # Called in turn, so both see the same load of this shared machine.
    cal = compute(s.layout, s.events, s.bookings, s.period, Bucket.DAY).calendars
    (w, c, results), (wk, ck, _) = timed_alternating(
        [
            lambda: compute(s.layout, s.events, s.bookings, s.period, Bucket.DAY),
            lambda: compute(s.layout, s.events, s.bookings, s.period, Bucket.DAY, calendars=cal),
        ],
        args.kernel_runs,
    )
    unsorted = synth.shuffle_late(s.events)
    wu, cu, results_u = timed(
        lambda: compute(s.layout, unsorted, s.bookings, s.period, Bucket.DAY), args.kernel_runs
    )
    want = expected(results, s)
    check("unsorted kernels", expected(results_u, s), want)
    rates = {"kernels (sorted)": n / w, "kernels (unsorted)": n / wu}
    # In-process CPU time as well: on a shared machine wall time also counts other tenants.
    cpu_rates = {"kernels (sorted)": n / c, "kernels (unsorted)": n / cu}
    print(
        f"kernels, sorted input     {w * 1000:9.1f} ms wall {c * 1000:9.1f} ms cpu {n / w / 1e6:9.1f} M events/s"
    )
    print(
        f"  of which kernels alone  {wk * 1000:9.1f} ms wall {ck * 1000:9.1f} ms cpu {n / wk / 1e6:9.1f} M events/s"
        f"  (calendars built beforehand: {(w - wk) * 1000:.1f} ms of the above)"
    )
    print(
        f"kernels, unsorted input   {wu * 1000:9.1f} ms wall {cu * 1000:9.1f} ms cpu {n / wu / 1e6:9.1f} M events/s"
    )
    rates["kernels alone (sorted)"] = n / wk
    unknown_section(s, args, out)
    if args.skip_baselines:
        return
    t = tables(s, results)
    baseline_runs = max(1, args.baseline_runs)
    w, c, got = timed(lambda: run_pandas(t, p), baseline_runs)
    check("pandas", got, want)
    rates["pandas"] = n / w
    cpu_rates["pandas"] = n / c
    print(
        f"pandas                    {w * 1000:9.1f} ms wall {c * 1000:9.1f} ms cpu {n / w / 1e6:9.2f} M events/s  equal"
    )
    con = duckdb_setup(t)
    queries = sql_queries("//", p)
    w, c, got = timed(lambda: run_sql(lambda q: con.execute(q).fetchall(), queries), baseline_runs)
    check("duckdb", got, want)
    rates["duckdb (1 thread)"] = n / w
    cpu_rates["duckdb (1 thread)"] = n / c
    print(
        f"DuckDB, 1 thread          {w * 1000:9.1f} ms wall {c * 1000:9.1f} ms cpu {n / w / 1e6:9.2f} M events/s  equal"
    )
    if args.dsn:
        import psycopg

        pg_setup(args.dsn, t)
        pg_queries = sql_queries("/", p)
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute("SET max_parallel_workers_per_gather = 0")
            w, _, got = timed(
                lambda: run_sql(lambda q: conn.execute(q).fetchall(), pg_queries), baseline_runs
            )
        check("postgresql", got, want)
        rates["postgresql sql"] = n / w
        print(
            f"PostgreSQL SQL (1 worker) {w * 1000:9.1f} ms wall {'':>9}          {n / w / 1e6:9.2f} M events/s  equal"
        )
    base = rates["kernels (sorted)"]
    for name in ("pandas", "duckdb (1 thread)", "postgresql sql"):
        if name in rates:
            by_cpu = (
                f", by CPU time {cpu_rates['kernels (sorted)'] / cpu_rates[name]:.1f}x"
                if name in cpu_rates
                else " (server-side work: wall time only)"
            )
            print(
                f"ratio kernels(sorted) / {name:18s} {base / rates[name]:8.1f}x by wall time{by_cpu}"
            )
    out["same_data"] = {"events": n, "events_per_s": rates, "events_per_cpu_s": cpu_rates}


def unknown_section(s: Any, args: argparse.Namespace, out: dict[str, Any]) -> None:
    """What `unknown` states cost (docs/metrics.md, C = N - U): input without any pays one compare
    over the state column; input with some runs the kernels a second time (compute.py)."""
    rng = np.random.default_rng(16)
    vacant = np.flatnonzero((s.events.kind == 0) & (s.events.state == 0))
    state = s.events.state.copy()
    state[rng.choice(vacant, size=max(1, len(vacant) // 50), replace=False)] = STATE_UNKNOWN
    with_unknown = replace(s.events, state=state)
    n = len(s.events)
    (w0, c0, _), (w1, c1, _) = timed_alternating(
        [
            lambda: compute(s.layout, s.events, s.bookings, s.period, Bucket.DAY),
            lambda: compute(s.layout, with_unknown, s.bookings, s.period, Bucket.DAY),
        ],
        args.kernel_runs,
    )
    wc, _, _ = timed(lambda: bool((s.events.state == STATE_UNKNOWN).any()), args.kernel_runs)
    print(
        f"kernels, no unknown       {w0 * 1000:9.1f} ms wall {c0 * 1000:9.1f} ms cpu {n / w0 / 1e6:9.1f} M events/s"
        f"  (of which the unknown check {wc * 1000:.2f} ms = {wc / w0:.2%})"
    )
    print(
        f"kernels, 2% vacant->unknown {w1 * 1000:7.1f} ms wall {c1 * 1000:9.1f} ms cpu {n / w1 / 1e6:9.1f} M events/s"
        f"  ratio {w1 / w0:.2f}x (second kernel pass for U)"
    )
    out["unknown"] = {"none_s": w0, "check_s": wc, "with_unknown_s": w1}


def section_year(args: argparse.Namespace, out: dict[str, Any]) -> None:
    print(
        f"\n## A year from arrays: {args.year_desks} desks x {args.year_days} days (child process for peak RSS)"
    )
    code = f"""
import sys, time, json, resource, statistics, datetime as dt
sys.path.insert(0, {str(Path(__file__).parent)!r})
import synth
from hubsense.analytics.compute import compute
from hubsense.analytics.calendar import Bucket
s = synth.generate({args.year_desks}, dt.date(2026, 1, 1), {args.year_days})
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
walls, cpus = [], []
for _ in range({args.runs}):
    w, c = time.perf_counter(), time.process_time()
    r = compute(s.layout, s.events, s.bookings, s.period, Bucket.DAY)
    walls.append(time.perf_counter() - w); cpus.append(time.process_time() - c)
    del r
print(json.dumps({{"events": len(s.events), "bookings": len(s.bookings), "wall_s": statistics.median(walls),
    "cpu_s": statistics.median(cpus), "walls": walls, "input_rss_gib": base_rss / 2**20,
    "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    year = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"events {year['events']:,}, bookings {year['bookings']:,}")
    print(
        f"median wall {year['wall_s']:.2f} s (runs {', '.join(f'{x:.2f}' for x in year['walls'])}), "
        f"cpu {year['cpu_s']:.2f} s, {year['events'] / year['cpu_s'] / 1e6:.1f} M events/s per core (cpu)"
    )
    print(
        f"peak RSS {year['peak_rss_gib']:.2f} GiB (of which the generated input {year['input_rss_gib']:.2f} GiB)"
    )
    out["year"] = year


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--desks", type=int, default=400, help="desks of the same-data comparison")
    parser.add_argument("--days", type=int, default=42, help="days of the same-data comparison")
    parser.add_argument("--year-desks", type=int, default=10_000)
    parser.add_argument("--year-days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--kernel-runs",
        type=int,
        default=51,
        help="runs of the kernels on the same-data set (milliseconds each; median)",
    )
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument(
        "--dsn",
        help="PostgreSQL for the SQL baseline and the database path (default: a private one)",
    )
    parser.add_argument("--skip-year", action="store_true")
    parser.add_argument(
        "--skip-baselines", action="store_true", help="only our kernels on the same-data set"
    )
    parser.add_argument(
        "--skip-small", action="store_true", help="no same-data comparison (pandas, SQL, DuckDB)"
    )
    parser.add_argument("--skip-db", action="store_true", help="no PostgreSQL at all")
    parser.add_argument("--db-desks", type=int, default=1_000)
    parser.add_argument("--skip-db-small", action="store_true", help="no 1,000-desk database run")
    parser.add_argument(
        "--skip-db-year", action="store_true", help="no year of --year-desks from the database"
    )
    parser.add_argument("--db-days", type=int, default=60)
    parser.add_argument(
        "--db-shape",
        choices=["simulator", "kernel"],
        default="simulator",
        help="database path data: shaped like the simulator's (1 alive a node a minute, 10 "
        "desks a node, 2.6 changes a desk-day) or the kernels' synthetic shape",
    )
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    from hubsense.logs import configure_logging

    configure_logging("warning")
    out: dict[str, Any] = {}
    server = None
    if not args.skip_db and not args.dsn:
        from hubsense.devstack.postgres import PostgresServer

        server = PostgresServer(
            Path(tempfile.mkdtemp(prefix="hubsense-bench-")) / "pg", durable=False
        )
        server.start()
        server.create_database("bench")
        args.dsn = server.dsn("bench")
    try:
        section_compile(out)
        if not args.skip_small:
            section_small(args, out)
        if not args.skip_year:
            section_year(args, out)
        if not args.skip_db:
            import bench_db

            if not args.skip_db_small:
                bench_db.section_db(args, out)
            if not args.skip_db_year:
                rate = out["db"]["events"] / out["db"]["raw_copy_s"] if "db" in out else None
                bench_db.section_db_year(args, out, rate)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))


def section_compile(out: dict[str, Any]) -> None:
    """Compile time of the kernels with an empty cache (child process, private cache dir)."""
    print("## numba compile")
    code = f"""
import sys, time, datetime as dt
sys.path.insert(0, {str(Path(__file__).parent)!r})
import synth
from hubsense.analytics.compute import compute
from hubsense.analytics.calendar import Bucket
s = synth.generate(50, dt.date(2026, 1, 5), 7)
t = time.perf_counter(); compute(s.layout, s.events, s.bookings, s.period, Bucket.DAY)
first = time.perf_counter() - t
u = synth.shuffle_late(s.events)
t = time.perf_counter(); compute(s.layout, u, s.bookings, s.period, Bucket.DAY)
print(first, first + time.perf_counter() - t)
"""
    timings = {}
    with tempfile.TemporaryDirectory() as cache:
        for label in ("cold (empty cache)", "warm (from cache)"):
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
            done = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
            )
            _, both = (float(x) for x in done.stdout.split())
            timings[label] = both
            print(f"{label:22s} first call (sorted + unsorted paths): {both:.2f} s")
    out["compile_s"] = timings


if __name__ == "__main__":
    main()
