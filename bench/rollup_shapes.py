"""Rollup shapes side by side: write time and rows written for the same results.

    .venv/bin/python bench/rollup_shapes.py [--desks 1000] [--days 60] [--runs 3] [--dsn DSN]

The bench data (bench/synth.py, as bench/analytics.py's database section) is loaded,
computed once per site (`run_period(write=False)`), then each shape's desk rows are
written into scratch tables with binary COPY into staging and one replace per site
(DELETE the period, INSERT … SELECT), one site after the other on one connection,
the shapes alternating, medians of `--runs`:

- dense:  a desk-hour row per desk and hour + a desk-day row per desk and day (before)
- sparse: only desk-hours and desk-days with observed, occupied or booked > 0
- site-hour: sums per site and hour + sparse desk-day rows (loses the desk, so the zone
  filter of the weekday x hour panel and the API's per-desk hour rows; for reference)
- arrays: sparse desk-day rows holding the day's hours as int4[] columns
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import bench_db
import synth
from hubsense.analytics.io.pgcopy import HEADER, TRAILER, encode, encode_rows
from hubsense.analytics.run import run_period

from hubsense.db.connect import connect

M = ("observed_s", "occupied_s", "booked_s", "booked_observed_s", "booked_occupied_s")
SCRATCH = f"""
DROP TABLE IF EXISTS shape_hour, shape_day, shape_site_hour, shape_day_arrays;
CREATE TABLE shape_hour (site_id text, desk_id text, bucket_start timestamptz,
    {", ".join(f"{m} bigint" for m in M)}, PRIMARY KEY (desk_id, bucket_start));
CREATE INDEX ON shape_hour (site_id, bucket_start);
CREATE TABLE shape_day (site_id text, desk_id text, day date,
    {", ".join(f"{m} bigint" for m in M)}, PRIMARY KEY (desk_id, day));
CREATE INDEX ON shape_day (site_id, day);
CREATE TABLE shape_site_hour (site_id text, bucket_start timestamptz,
    {", ".join(f"{m} bigint" for m in M)}, PRIMARY KEY (site_id, bucket_start));
CREATE TABLE shape_day_arrays (site_id text, desk_id text, day date,
    {", ".join(f"{m} bigint" for m in M)}, {", ".join(f"hour_{m} int4[]" for m in M)},
    PRIMARY KEY (desk_id, day));
CREATE INDEX ON shape_day_arrays (site_id, day);
CREATE TEMP TABLE st_hour (desk int4, slot int8, {", ".join(f"{m} int8" for m in M)});
CREATE TEMP TABLE st_arrays (desk int4, slot int8, {", ".join(f"{m} int8" for m in M)},
    {", ".join(f"h_{m} int4[]" for m in M)});
"""
JOIN = "JOIN unnest(%(desks)s::text[]) WITH ORDINALITY d(id, idx) ON d.idx - 1 = r.desk"
COLS = ", ".join(M)
RCOLS = ", ".join(f"r.{m}" for m in M)


def _ts(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)


def prepare(results: Any) -> dict[str, Any]:
    cal, lay = results.calendars, results.layout
    hours = cal.buckets(0)
    mids = cal.d_bounds[cal.d_off[0] : cal.d_off[1]]
    nd, nh = len(lay.desk_ids), len(hours)
    ms = [
        results.observed_ms,
        results.occupied_ms,
        results.booked_ms,
        results.booked_observed_ms,
        results.booked_occupied_ms,
    ]
    hour_s = [(v // 1000).reshape(nd, nh) for v in ms]
    starts = np.searchsorted(hours, mids[:-1])
    day_s = [np.add.reduceat(v.reshape(nd, nh), starts, axis=1) // 1000 for v in ms]
    return {
        "site": lay.sites[0].id,
        "desks": lay.desk_ids,
        "hours": hours,
        "mids": mids,
        "starts": starts,
        "hour_s": hour_s,
        "day_s": day_s,
        "hour_ms": [v.reshape(nd, nh) for v in ms],
    }


def _replace(cur: Any, table: str, key: str, p: dict[str, Any]) -> None:
    lo, hi = (_ts(int(p["mids"][0])), _ts(int(p["mids"][-1])))
    if key == "day":
        lo, hi = lo.date() - dt.timedelta(days=1), hi.date() + dt.timedelta(days=1)
    cur.execute(
        f"DELETE FROM {table} WHERE site_id = %s AND {key} >= %s AND {key} < %s",
        (p["site"], lo, hi),
    )


def _stage(cur: Any, table: str, cols: dict[str, np.ndarray]) -> None:
    cur.execute(f"TRUNCATE {table}")
    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(encode(cols))


def _days(cur: Any, p: dict[str, Any], sparse: bool) -> int:
    nd, n_days = p["day_s"][0].shape
    d = p["day_s"]
    keep = (d[0] + d[1] + d[2]) > 0 if sparse else np.ones((nd, n_days), bool)
    desk, slot = np.nonzero(keep)
    _replace(cur, "shape_day", "day", p)
    _stage(
        cur,
        "st_hour",
        {"desk": desk.astype(np.int32), "slot": slot.astype(np.int64)}
        | {m: v[desk, slot].astype(np.int64) for m, v in zip(M, p["day_s"], strict=True)},
    )
    cur.execute(
        f"INSERT INTO shape_day SELECT %(site)s, d.id, %(day0)s::date + r.slot::int4, {RCOLS} "
        f"FROM st_hour r {JOIN}",
        {
            "site": p["site"],
            "desks": p["desks"],
            "day0": _ts(int(p["mids"][0] + 43_200_000)).date(),
        },
    )
    return len(desk)


def write_hours(cur: Any, p: dict[str, Any], sparse: bool) -> int:
    h = p["hour_s"]
    keep = (h[0] + h[1] + h[2]) > 0 if sparse else np.ones(h[0].shape, bool)
    desk, slot = np.nonzero(keep)
    _replace(cur, "shape_hour", "bucket_start", p)
    _stage(
        cur,
        "st_hour",
        {"desk": desk.astype(np.int32), "slot": p["hours"][slot].astype(np.int64)}
        | {m: v[desk, slot].astype(np.int64) for m, v in zip(M, h, strict=True)},
    )
    cur.execute(
        "INSERT INTO shape_hour SELECT %(site)s, d.id, "
        f"timestamptz 'epoch' + r.slot * interval '1 millisecond', {RCOLS} FROM st_hour r {JOIN}",
        {"site": p["site"], "desks": p["desks"]},
    )
    return len(desk) + _days(cur, p, sparse)


def write_site_hours(cur: Any, p: dict[str, Any]) -> int:
    sums = [v.sum(axis=0) // 1000 for v in p["hour_ms"]]  # not what the desk rows sum to
    keep = np.nonzero((sums[0] + sums[1] + sums[2]) > 0)[0]
    _replace(cur, "shape_site_hour", "bucket_start", p)
    _stage(
        cur,
        "st_hour",
        {"desk": np.zeros(len(keep), np.int32), "slot": p["hours"][keep].astype(np.int64)}
        | {m: v[keep].astype(np.int64) for m, v in zip(M, sums, strict=True)},
    )
    cur.execute(
        "INSERT INTO shape_site_hour SELECT %(site)s, "
        f"timestamptz 'epoch' + r.slot * interval '1 millisecond', {RCOLS} FROM st_hour r",
        {"site": p["site"]},
    )
    return len(keep) + _days(cur, p, True)


def write_arrays(cur: Any, p: dict[str, Any]) -> int:
    d = p["day_s"]
    keep = (d[0] + d[1] + d[2]) > 0
    bounds = [*p["starts"].tolist(), len(p["hours"])]
    lengths = np.diff(bounds)
    _replace(cur, "shape_day_arrays", "day", p)
    cur.execute("TRUNCATE st_arrays")
    names = ["desk", "slot", *M, *(f"h_{m}" for m in M)]
    n = 0
    with cur.copy(f"COPY st_arrays ({', '.join(names)}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(HEADER)
        for width in np.unique(lengths):  # 24, and 23/25 on DST days: one block each
            days = np.nonzero(lengths == width)[0]
            desk, k = np.nonzero(keep[:, days])
            day = days[k]
            cols: dict[str, np.ndarray] = {
                "desk": desk.astype(np.int32),
                "slot": day.astype(np.int64),
            }
            cols |= {m: v[desk, day].astype(np.int64) for m, v in zip(M, d, strict=True)}
            hour_index = p["starts"][day][:, None] + np.arange(width)[None, :]
            cols |= {
                f"h_{m}": v[desk[:, None], hour_index].astype(np.int32)
                for m, v in zip(M, p["hour_s"], strict=True)
            }
            copy.write(encode_rows(cols))
            n += len(desk)
        copy.write(TRAILER)
    cur.execute(
        f"INSERT INTO shape_day_arrays SELECT %(site)s, d.id, %(day0)s::date + r.slot::int4, "
        f"{RCOLS}, {', '.join(f'r.h_{m}' for m in M)} FROM st_arrays r {JOIN}",
        {
            "site": p["site"],
            "desks": p["desks"],
            "day0": _ts(int(p["mids"][0] + 43_200_000)).date(),
        },
    )
    return n


SHAPES = {
    "dense (before)": lambda cur, p: write_hours(cur, p, sparse=False),
    "sparse desk-hour + desk-day": lambda cur, p: write_hours(cur, p, sparse=True),
    "site-hour + sparse desk-day": write_site_hours,
    "desk-day with int4[] hours": write_arrays,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--desks", type=int, default=1000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dsn")
    args = parser.parse_args()
    from hubsense.logs import configure_logging

    configure_logging("warning")
    server = None
    if not args.dsn:
        from hubsense.devstack.postgres import PostgresServer

        server = PostgresServer(
            Path(tempfile.mkdtemp(prefix="hubsense-shapes-")) / "pg", durable=False
        )
        server.start()
        server.create_database("bench")
        args.dsn = server.dsn("bench")
    try:
        s = synth.generate(args.desks, dt.date(2026, 1, 5), args.days, seed=5)
        bench_db.load(args.dsn, s)
        prepared = [prepare(r.results) for r in run_period(args.dsn, s.period, write=False)]
        times: dict[str, list[float]] = {name: [] for name in SHAPES}
        rows: dict[str, int] = {}
        with connect(args.dsn, autocommit=True) as conn:
            conn.execute(SCRATCH)
            for _ in range(args.runs):
                for name, write in SHAPES.items():
                    started = time.perf_counter()
                    n = 0
                    for p in prepared:
                        with conn.transaction(), conn.cursor() as cur:
                            n += write(cur, p)
                    times[name].append(time.perf_counter() - started)
                    rows[name] = n
            # The arrays give exactly the sparse desk-hour rows (written last by that shape).
            unnested = f"""SELECT a.desk_id, a.day, h.i, {", ".join(f"h.{m}" for m in M)}
                FROM shape_day_arrays a CROSS JOIN LATERAL unnest({", ".join(f"a.hour_{m}" for m in M)})
                     WITH ORDINALITY h({COLS}, i)
               WHERE h.observed_s + h.occupied_s + h.booked_s > 0"""
            hours = f"""SELECT h.desk_id, (h.bucket_start AT TIME ZONE s.timezone)::date,
                       (extract(epoch FROM h.bucket_start - ((h.bucket_start AT TIME ZONE s.timezone)::date::timestamp AT TIME ZONE s.timezone)) / 3600)::int + 1,
                       {", ".join(f"h.{m}" for m in M)}
                  FROM shape_hour h JOIN sites s ON s.id = h.site_id"""
            diff = conn.execute(
                f"SELECT count(*) FROM (({unnested}) EXCEPT ({hours})) x"
            ).fetchone()
            diff2 = conn.execute(
                f"SELECT count(*) FROM (({hours}) EXCEPT ({unnested})) x"
            ).fetchone()
            assert diff == (0,) and diff2 == (0,), (diff, diff2)
            sizes = {
                t: conn.execute(f"SELECT pg_total_relation_size('{t}')").fetchone()[0]  # type: ignore[index]
                for t in ("shape_hour", "shape_day", "shape_site_hour", "shape_day_arrays")
            }
        print(f"{args.desks} desks x {args.days} days, {len(prepared)} sites, one site at a time")
        for name in SHAPES:
            print(
                f"{name:30} {statistics.median(times[name]):6.2f} s (median of {args.runs}) "
                f"{rows[name]:>10,} rows"
            )
        print(
            "table sizes after the last run (MiB):",
            {k: round(v / 2**20, 1) for k, v in sizes.items()},
        )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
