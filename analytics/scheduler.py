"""Keep the rollups current: every few minutes recompute only the days new data touched.

Per site, events received since the site's watermark (late ones from nodes that were
offline included) and bookings changed since then decide which site-local days to
recompute: a desk event reaches until that desk's next event (its state holds until
then), an alive for three heartbeats, a booking over its span. Those days, as one
range per site, go through `run_period`; then the watermark moves to the instant the
scan looked up to (a little behind now, so rows of transactions still committing are
picked up next time). Must not parse options or print.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from hubsense.analytics.calendar import Period
from hubsense.analytics.compute import DEFAULT_NOSHOW_MIN_S, DEFAULT_PERCENTILE
from hubsense.analytics.run import run_period

from hubsense.db.connect import connect
from hubsense.logs import get_logger

log = get_logger(__name__)

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
) -> list[Recompute]:
    """One scheduler step: recompute what new data touched, then move the watermarks."""
    with connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None  # SELECT now() always returns a row
        current = now or row[0]
        upto = current - COMMIT_SLACK
        plans = touched(conn, upto)
    for plan in plans:
        run_period(dsn, plan.period, [plan.site], noshow_min_s, percentile)
    with connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO analytics_watermark (site_id, received_upto) "
            "SELECT id, %(upto)s FROM sites WHERE retired_at IS NULL "
            "ON CONFLICT (site_id) DO UPDATE SET computed_at = now(), "
            "received_upto = greatest(analytics_watermark.received_upto, EXCLUDED.received_upto)",
            {"upto": upto},
        )
    for plan in plans:
        log.info(
            "analytics_recomputed",
            site=plan.site,
            start=str(plan.period.start),
            end=str(plan.period.end),
        )
    return plans


def run_forever(dsn: str, interval_s: float, noshow_min_s: int, percentile: Fraction) -> None:
    """Tick every `interval_s` seconds until interrupted."""
    while True:
        started = time.monotonic()
        plans = tick(dsn, noshow_min_s, percentile)
        log.info("analytics_tick", sites=len(plans), took_s=round(time.monotonic() - started, 3))
        time.sleep(max(0.0, interval_s - (time.monotonic() - started)))
