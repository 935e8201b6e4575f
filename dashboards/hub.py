"""The Hub board: for hub community managers — real use of one hub now and over the weeks.

Desks occupied now come from the raw events (each desk's latest state) and the node
status (a desk whose node is offline is unknown, not free). Co-presence, weekly trends,
low-use weeks and the hub comparison come from the rollups (`rollups.py`).
Builds the board; must not touch a database.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard
from hubsense.dashboards.decision_sql import COMMUNITY_DAY, LONE_WEEKS, UPCOMING
from hubsense.dashboards.panels import (
    custom_variable,
    query_variable,
    series_panel,
    stat_panel,
    table_panel,
)
from hubsense.dashboards.rollups import BOOKING_OUTCOME, DAY_INDEX_HINT, DESK_DAY, SITE_DAY

UID = "hubsense-hub"

DESKS_NOW = """
WITH live AS (
    SELECT d.id,
           coalesce(ns.online, false) AS online,
           (SELECT e.state FROM events e
             WHERE e.site_id = d.site_id AND e.type = 'desk' AND e.desk_id = d.id
             ORDER BY e.ts DESC, e.seq DESC LIMIT 1) AS state
    FROM desks d
    LEFT JOIN sensors sn ON sn.desk_id = d.id AND sn.retired_at IS NULL
    LEFT JOIN node_status ns ON ns.node_id = sn.node_id
    WHERE d.site_id = '$hub' AND d.retired_at IS NULL
)
SELECT count(*) FILTER (WHERE online AND state = 'occupied') AS "occupied",
       count(*) FILTER (WHERE online AND state IS DISTINCT FROM 'occupied'
                        AND state IS DISTINCT FROM 'unknown') AS "free",
       count(*) FILTER (WHERE NOT online OR state = 'unknown') AS "unknown"
FROM (SELECT DISTINCT ON (id) * FROM live ORDER BY id, online DESC) one_row_per_desk
"""

# The analytics scheduler rolls today up incrementally (docs/scaling.md), so today has a row.
COPRESENCE_TODAY = f"""
SELECT coalesce(sum(sd.copresence_s), 0) / 3600.0 AS "co-presence today (h)",
       coalesce(max(sd.peak), 0) AS "peak today"
FROM sites s LEFT JOIN {SITE_DAY} sd
  ON sd.site_id = s.id AND sd.day = (now() AT TIME ZONE s.timezone)::date
WHERE s.id = '$hub'
"""

_WEEK = "date_trunc('week', {day}::timestamp) AT TIME ZONE s.timezone"

WEEKLY_TREND = f"""
SELECT {_WEEK.format(day="(m.bucket_start AT TIME ZONE s.timezone)")} AS "time",
       sum(m.occupied_s)::float8 / nullif(sum(m.observed_s), 0) AS "occupancy rate"
FROM {DESK_DAY} m JOIN sites s ON s.id = m.site_id
WHERE m.site_id = '$hub' AND $__timeFilter(m.bucket_start) AND {DAY_INDEX_HINT}
GROUP BY 1
ORDER BY 1
"""

WEEKLY_COPRESENCE = f"""
SELECT {_WEEK.format(day="sd.day")} AS "time",
       sum(sd.copresence_s) / 3600.0 AS "co-presence (h)"
FROM {SITE_DAY} sd JOIN sites s ON s.id = sd.site_id
WHERE sd.site_id = '$hub'
  AND (sd.day::timestamp AT TIME ZONE s.timezone) >= $__timeFrom()
  AND (sd.day::timestamp AT TIME ZONE s.timezone) < $__timeTo()
GROUP BY 1
ORDER BY 1
"""

# A week is low when the hub is rarely used or people seldom meet there: below the
# chosen occupancy rate, or fewer than two open days with any co-presence.
LOW_USE_WEEKS = f"""
WITH days AS (
    SELECT date_trunc('week', sd.day::timestamp)::date AS week, sd.open, sd.peak, sd.copresence_s
    FROM {SITE_DAY} sd JOIN sites s ON s.id = sd.site_id
    WHERE sd.site_id = '$hub'
      AND (sd.day::timestamp AT TIME ZONE s.timezone) >= $__timeFrom()
      AND (sd.day::timestamp AT TIME ZONE s.timezone) < $__timeTo()
), usage AS (
    SELECT date_trunc('week', m.bucket_start AT TIME ZONE s.timezone)::date AS week,
           sum(m.occupied_s)::float8 / nullif(sum(m.observed_s), 0) AS rate
    FROM {DESK_DAY} m JOIN sites s ON s.id = m.site_id
    WHERE m.site_id = '$hub' AND $__timeFilter(m.bucket_start) AND {DAY_INDEX_HINT}
    GROUP BY 1
), weeks AS (
    SELECT d.week,
           count(*) FILTER (WHERE d.open) AS days_open,
           max(d.peak) AS max_peak,
           sum(d.copresence_s) AS copresence_s,
           count(*) FILTER (WHERE d.open AND d.copresence_s > 0) AS days_with_copresence
    FROM days d GROUP BY d.week
)
SELECT to_char(w.week, 'IYYY-"W"IW') AS "week",
       w.days_open AS "days open",
       round(u.rate::numeric, 3) AS "occupancy rate",
       w.max_peak AS "highest peak",
       round(w.copresence_s / 3600.0, 1) AS "co-presence (h)",
       w.days_with_copresence AS "days with co-presence",
       CASE WHEN w.days_open = 0 THEN 'closed'
            WHEN coalesce(u.rate, 0) < $low_use_pct / 100.0 OR w.days_with_copresence < 2
            THEN 'LOW USE' ELSE 'ok' END AS "flag"
FROM weeks w LEFT JOIN usage u ON u.week = w.week
ORDER BY w.week DESC
"""

COMPARE_HUBS = f"""
WITH metrics AS (
    SELECT m.site_id, sum(m.occupied_s)::float8 / nullif(sum(m.observed_s), 0) AS rate
    FROM {DESK_DAY} m
    WHERE $__timeFilter(m.bucket_start) AND {DAY_INDEX_HINT}
    GROUP BY m.site_id
), daily AS (
    SELECT sd.site_id, count(*) FILTER (WHERE sd.open) AS days_open,
           avg(sd.peak) FILTER (WHERE sd.open) AS avg_peak,
           sum(sd.copresence_s) AS copresence_s
    FROM {SITE_DAY} sd JOIN sites s ON s.id = sd.site_id
    WHERE (sd.day::timestamp AT TIME ZONE s.timezone) >= $__timeFrom()
      AND (sd.day::timestamp AT TIME ZONE s.timezone) < $__timeTo()
    GROUP BY sd.site_id
), noshow AS (
    SELECT o.site_id,
           count(*) FILTER (WHERE o.outcome = 'no_show')::float8
           / nullif(count(*) FILTER (WHERE o.outcome <> 'unknown'), 0) AS rate
    FROM {BOOKING_OUTCOME} o
    WHERE $__timeFilter(o.start_at)
    GROUP BY o.site_id
)
SELECT s.id AS "hub", s.name AS "name", s.municipality AS "municipality",
       (SELECT count(*) FROM desks c WHERE c.site_id = s.id AND c.retired_at IS NULL) AS "desks",
       coalesce(daily.days_open, 0) AS "days open",
       round(metrics.rate::numeric, 3) AS "occupancy rate",
       round(daily.avg_peak, 1) AS "average daily peak",
       round(daily.copresence_s / 3600.0 / nullif(daily.days_open, 0), 1)
           AS "co-presence per open day (h)",
       round(noshow.rate::numeric, 3) AS "no-show rate"
FROM sites s
LEFT JOIN metrics ON metrics.site_id = s.id
LEFT JOIN daily ON daily.site_id = s.id
LEFT JOIN noshow ON noshow.site_id = s.id
WHERE s.kind = 'hub' AND s.retired_at IS NULL
ORDER BY metrics.rate DESC NULLS LAST, s.id
"""

HUBS = "SELECT id FROM sites WHERE kind = 'hub' AND retired_at IS NULL ORDER BY id"


def board() -> Any:
    """The Hub dashboard builder."""
    trend = series_panel("Weekly occupancy rate", WEEKLY_TREND, "percentunit")
    copresence = series_panel(
        "Weekly co-presence (hours with two or more people)", WEEKLY_COPRESENCE, "h"
    )
    return (
        dashboard.Dashboard("hubsense — Hub")
        .uid(UID)
        .tags(["hubsense", "hub"])
        .time("now-6M", "now")
        .refresh("1m")
        .timezone("browser")
        .with_variable(query_variable("hub", "Hub", HUBS, multi=False))
        .with_variable(
            custom_variable("low_use_pct", "Low use below (%)", ["20", "10", "30", "40"], "20")
        )
        .with_panel(
            stat_panel("Desks now", DESKS_NOW, "none", w=12).description(
                "Each desk's latest state; a desk whose node is offline (or never reported), "
                "or whose sensor is silent or failing, is unknown, not free."
            )
        )
        .with_panel(
            stat_panel("Today", COPRESENCE_TODAY, "none", w=12).description(
                "Co-presence and peak of today from the analytics rollups: as fresh as the "
                "last `hubsense analytics run` over today."
            )
        )
        .with_panel(trend)
        .with_panel(copresence)
        .with_panel(
            table_panel("Weeks (low use flagged)", LOW_USE_WEEKS, h=9).description(
                "LOW USE: occupancy below the chosen share, or people met (two or more at "
                "once) on fewer than two open days of the week."
            )
        )
        .with_panel(table_panel("Hubs compared", COMPARE_HUBS, h=8))
        .with_panel(
            table_panel("Lone weeks", LONE_WEEKS, w=12, h=8).description(
                "LONE: on at least half the open days with people there, they were together "
                "less than the inventory's together_min_s: gather people on the community day."
            )
        )
        .with_panel(
            table_panel("Community day", COMMUNITY_DAY, w=12, h=4).description(
                "The weekday with the most desks used on average over the 8 weeks before the "
                "range's end: the day to gather people."
            )
        )
        .with_panel(
            table_panel("Upcoming bookings (next 7 days)", UPCOMING, w=12, h=4).description(
                "Bookings starting on each of the next 7 days (counts only): come when others do."
            )
        )
    )
