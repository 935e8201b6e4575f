"""The database path: per site, read events and bookings, compute the metrics, write the rollups.

`run_period` is what `hubsense analytics run` and the scheduler call. Sites go in chunks
(`chunks`): a chunk is read with one set of statements (binary COPY), each site computed
with hour buckets (day rows are sums of their hours), and the chunk written in one
transaction, so a rerun replaces exactly the rows of the period.
Must not parse options or print.
"""

from __future__ import annotations

import os
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hubsense.analytics.calendar import Bucket, Period
from hubsense.analytics.compute import DEFAULT_NOSHOW_MIN_S, DEFAULT_PERCENTILE, Results, compute
from hubsense.analytics.io.db_read import load_sites, stored_used_min_s
from hubsense.analytics.io.rollups_write import write_sites
from hubsense.analytics.site import SiteLayout, read_inputs_of

from hubsense.db.connect import connect
from hubsense.errors import ConfigError
from hubsense.inventory.model import DEFAULT_USED_MIN_S, Site
from hubsense.logs import get_logger

log = get_logger(__name__)

# Sites computed at once, each worker on its own connection: one a core. Measured on 2
# cores (bench/analytics.py, a year of 2,000 desks): 1 worker 12.3 s, 2 9.3-9.9 s, 4 10.5 s;
# the last day 0.49 s with 1, 0.34 s with 4 (docs/scaling.md).
DEFAULT_WORKERS = max(2, os.cpu_count() or 2)


@dataclass(frozen=True)
class SiteRun:
    """What one site's run read, computed and wrote, and how long each step took."""

    site: str
    events: int
    bookings: int
    desk_days: int  # desk-day rows written (only those that carry something)
    desk_hours: int  # the hours in them
    read_s: float
    compute_s: float
    write_s: float
    results: Results


# A chunk of sites is read and written with one set of statements. Sites join a chunk
# until it holds this many desk-days (a year of one 50-desk site is 18,250: alone, as
# before; one day of 200 sites is 50 each), and there are at least two chunks a worker so
# that the workers stay busy. Measured (bench/analytics.py, 200 sites x 50 desks): the
# last day 0.9-1.0 s one site at a time, see docs/scaling.md for chunks.
CHUNK_DESK_DAYS = 5_000


def chunks(sites: list[Site], days: int, workers: int) -> list[list[int]]:
    """Site indices in order, cut into chunks of about CHUNK_DESK_DAYS desk-days."""
    most = max(1, -(-len(sites) // (2 * workers)))
    out: list[list[int]] = []
    load = 0
    for i, site in enumerate(sites):
        if not out or len(out[-1]) >= most or load >= CHUNK_DESK_DAYS:
            out.append([])
            load = 0
        out[-1].append(i)
        load += max(1, len(site.desks)) * days
    return out


def _run_chunk(
    conn: Any,
    sites: list[Site],
    node_of_desk: dict[str, str],
    period: Period,
    noshow_min_s: int,
    percentile: Fraction,
    write: bool,
    used_min_s: int = DEFAULT_USED_MIN_S,
) -> list[SiteRun]:
    """Read, compute and write a chunk of sites on the calling worker's connection.

    The chunk's read and write are one set of statements, so each site's read_s and write_s
    is its share of them (by desk count); the sums over sites are the times spent."""
    started = time.perf_counter()
    wheres = [SiteLayout.of(site, node_of_desk) for site in sites]
    inputs = read_inputs_of(conn, wheres, period)
    read_s = time.perf_counter() - started
    computed = []
    compute_s = []
    for where, (events, bookings) in zip(wheres, inputs, strict=True):
        began = time.perf_counter()
        results = compute(
            where.layout,
            events,
            bookings,
            period,
            Bucket.HOUR,
            noshow_min_s,
            percentile,
            used_min_s=used_min_s,
        )
        computed.append((results, bookings))
        compute_s.append(time.perf_counter() - began)
    began = time.perf_counter()
    counts = (
        write_sites(conn, computed, period, str(percentile))
        if write
        else [{"desk_days": 0, "desk_hours": 0} for _ in sites]
    )
    write_s = time.perf_counter() - began
    desks = [max(1, len(site.desks)) for site in sites]
    share = [n / sum(desks) for n in desks]
    runs = [
        SiteRun(
            site=site.id,
            events=len(events),
            bookings=len(bookings),
            desk_days=count["desk_days"],
            desk_hours=count["desk_hours"],
            read_s=read_s * part,
            compute_s=took,
            write_s=write_s * part,
            results=results,
        )
        for site, (events, _), (results, bookings), count, took, part in zip(
            sites, inputs, computed, counts, compute_s, share, strict=True
        )
    ]
    log.info(
        "analytics_sites_computed",
        sites=[site.id for site in sites],
        events=sum(run.events for run in runs),
        bookings=sum(run.bookings for run in runs),
        read_s=round(read_s, 3),
        compute_s=round(sum(compute_s), 3),
        write_s=round(write_s, 3),
    )
    return runs


def run_period(
    dsn: str,
    period: Period,
    site_ids: list[str] | None = None,
    noshow_min_s: int = DEFAULT_NOSHOW_MIN_S,
    percentile: Fraction = DEFAULT_PERCENTILE,
    write: bool = True,
    workers: int = DEFAULT_WORKERS,
    used_min_s: int | None = None,
) -> list[SiteRun]:
    """Compute and store the rollups of every (or the named) active site for the period.

    Sites are independent (their own rows), so `workers` chunks of them run at once: most
    of a small run is waiting for the server, and the kernels release the GIL. Each
    worker opens one connection and takes chunks from a shared queue until none is left;
    a connection a site would cost a backend start and the temporary tables' catalog rows
    again, which for a one-day run is as much as the work itself.
    """
    with connect(dsn, autocommit=True) as conn:
        sites, node_of_desk = load_sites(conn, site_ids)
        if used_min_s is None:
            used_min_s = stored_used_min_s(conn)
    missing = sorted(set(site_ids or []) - {site.id for site in sites})
    if missing:
        raise ConfigError(f"--site: unknown or retired site(s) {', '.join(missing)}")
    n_workers = max(1, min(workers, len(sites)))
    todo: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
    for chunk in chunks(sites, (period.end - period.start).days, n_workers):
        todo.put(chunk)
    runs: dict[int, SiteRun] = {}

    def work() -> None:
        with connect(dsn, autocommit=True) as conn:
            while True:
                try:
                    chunk = todo.get_nowait()
                except queue.Empty:
                    return
                done = _run_chunk(
                    conn,
                    [sites[i] for i in chunk],
                    node_of_desk,
                    period,
                    noshow_min_s,
                    percentile,
                    write,
                    used_min_s,
                )
                runs.update(zip(chunk, done, strict=True))

    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        for future in [pool.submit(work) for _ in range(n_workers)]:
            future.result()
    return [runs[i] for i in range(len(sites))]
