"""Keep the rollups current: every few minutes recompute only the days new data touched.

Per site, events received since the site's watermark (late ones from nodes that were
offline included) and bookings changed since then decide which site-local days to
recompute: a desk event reaches until that desk's next event (its state holds until
then), an alive for three heartbeats, a booking over its span. Those days, as one
range per site, go through `run_period` (one call for the sites of the same range); then
the watermark moves to the instant the scan looked up to (a little behind now, so rows of
transactions still committing are picked up next time).

One scheduler per database: a tick holds a PostgreSQL session advisory lock, and
`run_forever` holds it for as long as it runs. A second `run_forever` waits as a standby
(one `analytics_scheduler_waiting` log line) and takes over when the first stops or
dies, since PostgreSQL drops the lock with the holder's session; a one-off `tick`
(`--once`) finds it taken and fails with `SchedulerBusyError`, one line naming the
holder. Two schedulers at once would not corrupt rollups (each site is one
transaction) but would compute everything twice and race on the watermarks.
Must not parse options or print.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from hubsense.analytics.calendar import Period
from hubsense.analytics.compute import DEFAULT_NOSHOW_MIN_S, DEFAULT_PERCENTILE
from hubsense.analytics.retention import age_out_alives
from hubsense.analytics.run import run_period

from hubsense.db.connect import connect
from hubsense.errors import ServiceError
from hubsense.logs import get_logger

log = get_logger(__name__)

# pg_advisory_lock key: the first 8 bytes of sha256("hubsense.analytics.scheduler"), signed.
LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"hubsense.analytics.scheduler").digest()[:8], "big", signed=True
)
# How often a waiting standby asks for the lock again.
STANDBY_POLL_S = 5.0

HOLDER_SQL = """
SELECT a.pid, coalesce(host(a.client_addr), 'local socket'), a.backend_start
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
   AND l.classid = %(high)s::oid AND l.objid = %(low)s::oid
"""

# Rows committed this long after their received_at are still seen by the next scan.
COMMIT_SLACK = dt.timedelta(seconds=5)

TOUCHED_SQL = """
WITH marks AS (
    SELECT s.id AS site_id, s.timezone, coalesce(w.received_upto, '-infinity'::timestamptz) AS since
      FROM sites s LEFT JOIN analytics_watermark w ON w.site_id = s.id WHERE s.retired_at IS NULL
),
new_events AS (
    SELECT e.site_id, e.node_id, e.ts, e.seq, e.type, e.desk_id
      FROM events e JOIN marks m ON m.site_id = e.site_id
     WHERE e.received_at > m.since AND e.received_at <= %(upto)s
),
reach AS (
    SELECT n.site_id, n.ts AS first_at,
           CASE WHEN n.type = 'desk' THEN coalesce(
                    (SELECT min(x.ts) FROM events x
                      WHERE x.site_id = n.site_id AND x.desk_id = n.desk_id AND x.ts > n.ts),
                    %(upto)s)
                ELSE n.ts + 3 * coalesce((SELECT heartbeat_s FROM nodes WHERE id = n.node_id), 60)
                                * interval '1 second'
           END AS last_at
      FROM new_events n
    UNION ALL
    SELECT b.site_id, b.start_at, b.end_at
      FROM bookings b JOIN marks m ON m.site_id = b.site_id
     WHERE b.updated_at > m.since AND b.updated_at <= %(upto)s
)
SELECT r.site_id, m.timezone, min(r.first_at), max(r.last_at)
  FROM reach r JOIN marks m ON m.site_id = r.site_id
 GROUP BY r.site_id, m.timezone ORDER BY r.site_id
"""


class SchedulerBusyError(ServiceError):
    """Another analytics scheduler holds this database's scheduler lock."""


def _try_lock(conn: Any) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
    return bool(row and row[0])


def _holder(conn: Any) -> str:
    """Who holds the lock, for the operator: backend pid, client address, since when."""
    key = LOCK_KEY & 0xFFFF_FFFF_FFFF_FFFF
    row = conn.execute(HOLDER_SQL, {"high": key >> 32, "low": key & 0xFFFF_FFFF}).fetchone()
    if row is None:  # released between our try and this look
        return "a scheduler that has just stopped"
    return f"PostgreSQL backend pid {row[0]} from {row[1]}, since {row[2]:%Y-%m-%d %H:%M:%S%z}"


@contextmanager
def scheduler_lock(
    dsn: str, wait: bool, stop: threading.Event | None = None
) -> Iterator[Any | None]:
    """Hold the scheduler lock on a connection of its own while the body runs.

    `wait=False` raises `SchedulerBusyError` when it is taken; `wait=True` polls until it
    is free, or yields None when `stop` is set first. Yields the lock's connection.
    """
    with connect(dsn, autocommit=True, application_name="hubsense-analytics-scheduler") as conn:
        if not _try_lock(conn):
            holder = _holder(conn)
            if not wait:
                raise SchedulerBusyError(
                    f"analytics scheduler: another scheduler is running on this database "
                    f"({holder}); stop it first, or leave this one to it"
                )
            log.warning("analytics_scheduler_waiting", holder=holder, poll_s=STANDBY_POLL_S)
            while not _try_lock(conn):
                if stop is not None and stop.wait(STANDBY_POLL_S):
                    yield None
                    return
                if stop is None:
                    time.sleep(STANDBY_POLL_S)
            log.info("analytics_scheduler_lock_taken")
        yield conn  # closing the connection releases the lock


@dataclass(frozen=True)
class Recompute:
    site: str
    period: Period


def touched(conn: Any, upto: dt.datetime) -> list[Recompute]:
    """Per site, the local days new events and changed bookings reach (one range each)."""
    plans = []
    for site_id, timezone, first_at, last_at in conn.execute(TOUCHED_SQL, {"upto": upto}):
        zone = ZoneInfo(timezone)
        last = min(last_at, upto)
        start = first_at.astimezone(zone).date()
        # last_at is exclusive: a reach ending at midnight does not touch the next day.
        end = (last - dt.timedelta(microseconds=1)).astimezone(zone).date() + dt.timedelta(days=1)
        plans.append(Recompute(site_id, Period(start, max(end, start + dt.timedelta(days=1)))))
    return plans


def tick(
    dsn: str,
    noshow_min_s: int = DEFAULT_NOSHOW_MIN_S,
    percentile: Fraction = DEFAULT_PERCENTILE,
    now: dt.datetime | None = None,
    raw_alive_days: int | None = None,
) -> list[Recompute]:
    """One scheduler step under the scheduler lock (`SchedulerBusyError` when it is taken).

    With `raw_alive_days`, alive rows older than that are deleted after the recompute."""
    with scheduler_lock(dsn, wait=False):
        return _tick(dsn, noshow_min_s, percentile, now, raw_alive_days)


def _tick(
    dsn: str,
    noshow_min_s: int,
    percentile: Fraction,
    now: dt.datetime | None = None,
    raw_alive_days: int | None = None,
) -> list[Recompute]:
    """Recompute what new data touched, then move the watermarks (the caller holds the lock)."""
    with connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None  # SELECT now() always returns a row
        current = now or row[0]
        upto = current - COMMIT_SLACK
        plans = touched(conn, upto)
    # Sites touched over the same days go through one run (usually all of them: today),
    # so they are read and written in chunks on all workers, not one run a site.
    by_period: dict[Period, list[str]] = {}
    for plan in plans:
        by_period.setdefault(plan.period, []).append(plan.site)
    for period, sites in by_period.items():
        run_period(dsn, period, sites, noshow_min_s, percentile)
    with connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO analytics_watermark (site_id, received_upto) "
            "SELECT id, %(upto)s FROM sites WHERE retired_at IS NULL "
            "ON CONFLICT (site_id) DO UPDATE SET computed_at = now(), "
            "received_upto = greatest(analytics_watermark.received_upto, EXCLUDED.received_upto)",
            {"upto": upto},
        )
        if raw_alive_days is not None:
            # After the recompute: what it read is committed, the alives' coverage long since.
            age_out_alives(conn, current, raw_alive_days)
    for plan in plans:
        log.info(
            "analytics_recomputed",
            site=plan.site,
            start=str(plan.period.start),
            end=str(plan.period.end),
        )
    return plans


def run_forever(
    dsn: str,
    interval_s: float,
    noshow_min_s: int,
    percentile: Fraction,
    stop: threading.Event | None = None,
    raw_alive_days: int | None = None,
) -> None:
    """Tick every `interval_s` seconds, holding the scheduler lock, until interrupted or `stop`."""
    stop = stop or threading.Event()
    with scheduler_lock(dsn, wait=True, stop=stop) as lock_conn:
        while lock_conn is not None and not stop.is_set():
            # The lock lives as long as its session: a lost connection must end this
            # scheduler (psycopg raises here) before a standby takes over.
            lock_conn.execute("SELECT 1")
            started = time.monotonic()
            plans = _tick(dsn, noshow_min_s, percentile, raw_alive_days=raw_alive_days)
            took_s = time.monotonic() - started
            log.info("analytics_tick", sites=len(plans), took_s=round(took_s, 3))
            stop.wait(max(0.0, interval_s - took_s))
