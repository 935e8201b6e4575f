"""The Fleet board: for installers — which nodes are up, how far behind, how hot, what fails.

Reads the raw tables only (`nodes`, `node_status`, `events`, `dead_letters`,
`seq_conflicts` and the `hubsense_seq_gaps` function over `events`), so it
works before any analytics has run. Builds the board; must not touch a database.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard
from hubsense.dashboards.panels import (
    bars_panel,
    query_variable,
    series_panel,
    stat_panel,
    table_panel,
)

UID = "hubsense-fleet"

# A node without a status row has never reported: it counts as offline.
NODES_ONLINE = """
SELECT count(*) FILTER (WHERE ns.online) AS "online",
       count(*) FILTER (WHERE ns.online IS NOT TRUE) AS "offline"
FROM nodes n
LEFT JOIN node_status ns ON ns.node_id = n.id
WHERE n.retired_at IS NULL AND n.site_id IN ($site)
"""

NODES_TABLE = """
SELECT n.id AS "node",
       n.site_id AS "site",
       CASE WHEN ns.node_id IS NULL THEN 'never reported'
            WHEN ns.online THEN 'online' ELSE 'offline' END AS "status",
       -- Open until the node sends a seq above its highest conflicting one (migration 0009).
       CASE WHEN sc.node_id IS NOT NULL THEN 'seq conflict' ELSE 'ok' END AS "seq",
       ns.version AS "version",
       ns.updated_at AS "last seen",
       round(extract(epoch FROM now() - ns.updated_at)::numeric) AS "last seen (s ago)",
       round((ns.uptime_s / 3600)::numeric, 1) AS "uptime (h)",
       ns.outbox_depth AS "outbox depth",
       (SELECT max(value::float8) FROM jsonb_each_text(ns.last_reading_age_s)
         WHERE value IS NOT NULL) AS "oldest sensor reading (s)",
       ns.cpu_temp_c AS "CPU (°C)",
       last_event.ts AS "last event"
FROM nodes n
LEFT JOIN node_status ns ON ns.node_id = n.id
LEFT JOIN seq_conflicts sc ON sc.node_id = n.id AND sc.cleared_at IS NULL
LEFT JOIN LATERAL (
    -- seq increases per node (docs/wire.md): the primary key finds the newest event.
    SELECT e.ts FROM events e WHERE e.node_id = n.id ORDER BY e.seq DESC LIMIT 1
) last_event ON true
WHERE n.retired_at IS NULL AND n.site_id IN ($site)
ORDER BY ns.online IS TRUE, n.site_id, n.id
"""

SENSOR_AGES = """
SELECT ns.node_id AS "node", r.key AS "sensor", s.desk_id AS "desk",
       r.value::float8 AS "last reading (s ago)"
FROM node_status ns
JOIN nodes n ON n.id = ns.node_id
CROSS JOIN LATERAL jsonb_each_text(ns.last_reading_age_s) AS r(key, value)
LEFT JOIN sensors s ON s.node_id = ns.node_id AND s.key = r.key
WHERE n.retired_at IS NULL AND n.site_id IN ($site)
ORDER BY r.value::float8 DESC NULLS FIRST, ns.node_id, r.key
"""

CPU_TEMP = """
SELECT ns.node_id AS "node", ns.cpu_temp_c AS "CPU temperature"
FROM node_status ns JOIN nodes n ON n.id = ns.node_id
WHERE n.retired_at IS NULL AND n.site_id IN ($site) AND ns.cpu_temp_c IS NOT NULL
ORDER BY ns.cpu_temp_c DESC, ns.node_id
"""

OUTBOX_DEPTH = """
SELECT ns.node_id AS "node", ns.outbox_depth AS "outbox depth"
FROM node_status ns JOIN nodes n ON n.id = ns.node_id
WHERE n.retired_at IS NULL AND n.site_id IN ($site) AND ns.outbox_depth IS NOT NULL
ORDER BY ns.outbox_depth DESC, ns.node_id
"""

# Dead letters carry no trusted site (a bad message may lie about it): not filtered by $site.
DEAD_LETTERS_OVER_TIME = """
SELECT $__timeGroupAlias(received_at, $__interval), reason AS metric, count(*) AS value
FROM dead_letters
WHERE $__timeFilter(received_at)
GROUP BY 1, 2
ORDER BY 1, 2
"""

DEAD_LETTERS_BY_REASON = """
SELECT reason AS "reason", count(*) AS "messages", max(received_at) AS "last",
       (array_agg(detail ORDER BY received_at DESC))[1] AS "latest detail",
       (array_agg(topic ORDER BY received_at DESC))[1] AS "latest topic"
FROM dead_letters
WHERE $__timeFilter(received_at)
GROUP BY reason
ORDER BY count(*) DESC, reason
"""

# Seqs never received in the board's time range; a fresh outbox's jump is no loss.
SEQ_GAPS = """
SELECT g.node_id AS "node", g.site_id AS "site", g.after_seq AS "after seq",
       g.before_seq AS "next seq received", g.missing AS "seqs never received",
       g.after_ts AS "after", g.before_ts AS "next received",
       CASE WHEN g.new_outbox THEN 'new outbox (nothing lost)' ELSE 'gap' END AS "kind"
FROM hubsense_seq_gaps($__timeFrom(), NULL) g
JOIN nodes n ON n.id = g.node_id
WHERE n.site_id IN ($site) AND g.before_ts <= $__timeTo()
ORDER BY g.new_outbox, g.missing DESC NULLS LAST, g.node_id, g.after_seq
"""

SEQ_CONFLICTS = """
SELECT sc.node_id AS "node", sc.site_id AS "site", sc.first_at AS "since",
       sc.last_at AS "last", sc.last_seq AS "highest conflicting seq",
       sc.dead_letters AS "dead letters"
FROM seq_conflicts sc
WHERE sc.cleared_at IS NULL AND sc.site_id IN ($site)
ORDER BY sc.last_at DESC, sc.node_id
"""

SITES = "SELECT id FROM sites WHERE retired_at IS NULL ORDER BY id"


def board() -> Any:
    """The Fleet dashboard builder."""
    return (
        dashboard.Dashboard("hubsense — Fleet")
        .uid(UID)
        .tags(["hubsense", "fleet"])
        .time("now-24h", "now")
        .refresh("1m")
        .timezone("browser")
        .with_variable(query_variable("site", "Site", SITES, multi=True))
        .with_panel(stat_panel("Nodes online / offline", NODES_ONLINE, "none", w=8))
        .with_panel(bars_panel("CPU temperature", CPU_TEMP, "celsius", w=8, h=4))
        .with_panel(
            bars_panel("Outbox depth (events not yet delivered)", OUTBOX_DEPTH, "none", w=8, h=4)
        )
        .with_panel(
            table_panel("Nodes: last seen, outbox, sensors, temperature", NODES_TABLE, h=10)
        )
        .with_panel(
            table_panel("Seq gaps (seqs never received)", SEQ_GAPS, w=12, h=8).description(
                "Per node, seqs missing between stored events in the time range; "
                "`hubsense fleet gaps` gives the same from a terminal."
            )
        )
        .with_panel(
            table_panel("Seq conflicts (open)", SEQ_CONFLICTS, w=12, h=8).description(
                "Nodes that reused a seq for other content (e.g. reflashed with old "
                "software): their messages are dead letters (conflicting_duplicate) "
                "until the node sends a seq above the highest conflicting one."
            )
        )
        .with_panel(table_panel("Last sensor reading age", SENSOR_AGES, w=12, h=9))
        .with_panel(
            table_panel("Dead letters by reason", DEAD_LETTERS_BY_REASON, w=12, h=9).description(
                "Messages ingest refused, for every site (a bad message's site is not trusted)."
            )
        )
        .with_panel(series_panel("Dead letters over time", DEAD_LETTERS_OVER_TIME, "none", w=24))
    )
