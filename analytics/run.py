"""The database path: per site, read events and bookings, compute the metrics, write the rollups.

`run_period` is what `hubsense analytics run` and the scheduler call. Each site is read
(binary COPY), computed with hour buckets (day rows are sums of their hours) and
written in its own transaction, so a rerun replaces exactly the rows of the period.
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
from hubsense.analytics.io.rollups_write import write_site
from hubsense.analytics.site import SiteLayout, read_inputs

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


def _run_site(
    conn: Any,
    site: Site,
    node_of_desk: dict[str, str],
    period: Period,
    noshow_min_s: int,
    percentile: Fraction,
    write: bool,
    used_min_s: int = DEFAULT_USED_MIN_S,
) -> SiteRun:
    """Read, compute and write one site on the calling worker's connection."""
    started = time.perf_counter()
    where = SiteLayout.of(site, node_of_desk)
    events, bookings = read_inputs(conn, where, period)
    read_done = time.perf_counter()
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
    computed = time.perf_counter()
    counts = (
        write_site(conn, results, bookings, period, str(percentile))
        if write
        else {"desk_days": 0, "desk_hours": 0}
    )
    written = time.perf_counter()
    run = SiteRun(
        site=site.id,
        events=len(events),
        bookings=len(bookings),
        desk_days=counts["desk_days"],
        desk_hours=counts["desk_hours"],
        read_s=read_done - started,
        compute_s=computed - read_done,
        write_s=written - computed,
        results=results,
    )
    log.info(
        "analytics_site_computed",
        site=site.id,
        events=run.events,
        bookings=run.bookings,
        read_s=round(run.read_s, 3),
        compute_s=round(run.compute_s, 3),
        write_s=round(run.write_s, 3),
    )
    return run


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

    Sites are independent (their own rows, their own transaction), so `workers` of them
    run at once: most of a small run is waiting for the server, and the kernels release
    the GIL. Each worker opens one connection and takes sites from a shared queue until
    none is left; a connection a site would cost a backend start and the temporary
    tables' catalog rows again, which for a one-day run is as much as the work itself.
    """
    with connect(dsn, autocommit=True) as conn:
        sites, node_of_desk = load_sites(conn, site_ids)
        if used_min_s is None:
            used_min_s = stored_used_min_s(conn)
    missing = sorted(set(site_ids or []) - {site.id for site in sites})
    if missing:
        raise ConfigError(f"--site: unknown or retired site(s) {', '.join(missing)}")
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(sites)):
        todo.put(i)
    runs: dict[int, SiteRun] = {}

    def work() -> None:
        with connect(dsn, autocommit=True) as conn:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                runs[i] = _run_site(
                    conn,
                    sites[i],
                    node_of_desk,
                    period,
                    noshow_min_s,
                    percentile,
                    write,
                    used_min_s,
                )

    n_workers = max(1, min(workers, len(sites)))
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        for future in [pool.submit(work) for _ in range(n_workers)]:
            future.result()
    return [runs[i] for i in range(len(sites))]
