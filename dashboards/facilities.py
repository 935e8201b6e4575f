"""The Facilities board: real use against bookings per site and zone, and desks really needed.

For facilities and property managers (README.md). Reads the analytics rollups (names in
`rollups.py`; day buckets for trends, hour buckets for the weekday x hour grid) and the
inventory tables. Desks needed is docs/metrics.md's nearest-rank percentile of the open days'
peaks, computed in integers: rank = ceil(p · n / 100) = (p · n + 99) / 100.
Builds the board; must not touch a database.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.builders.dashboard import FieldColor
from grafana_foundation_sdk.models.common import TableColoredBackgroundCellOptions
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue, FieldColorModeId
from hubsense.dashboards.decision_sql import DAY_PROFILE, DECISION_TABLE
from hubsense.dashboards.panels import (
    custom_variable,
    query_variable,
    series_panel,
    stat_panel,
    table_panel,
)
from hubsense.dashboards.rollups import (
    BOOKING_OUTCOME,
    DAY_INDEX_HINT,
    DESK_DAY,
    DESK_HOUR,
    SITE_DAY,
)

UID = "hubsense-facilities"
NO_ZONE = "(none)"
# Hours shown in the weekday x hour grid; the inventory's opening hours fall inside them.
GRID_HOURS = range(6, 22)

_DESK_FILTER = f"""m.site_id IN ($site) AND coalesce(d.zone, '{NO_ZONE}') IN ($zone)"""

_DAY_METRICS = f"""
FROM {DESK_DAY} m JOIN desks d ON d.id = m.desk_id
WHERE $__timeFilter(m.bucket_start) AND {DAY_INDEX_HINT} AND {_DESK_FILTER}"""

TRUE_UTILISATION = f"""
SELECT sum(m.booked_occupied_s)::float8 / nullif(sum(m.booked_observed_s), 0) AS "true utilisation"
{_DAY_METRICS}
"""

OCCUPANCY_RATE = f"""
SELECT sum(m.occupied_s)::float8 / nullif(sum(m.observed_s), 0) AS "occupancy rate"
{_DAY_METRICS}
"""

_BOOKINGS_IN_RANGE = f"""
FROM {BOOKING_OUTCOME} o
JOIN desks d ON d.id = o.desk_id
WHERE $__timeFilter(o.start_at) AND o.site_id IN ($site)
  AND coalesce(d.zone, '{NO_ZONE}') IN ($zone)"""

# Bookings whose desk was not observed enough (outcome unknown) are left out of the rate.
NO_SHOW_RATE = f"""
SELECT count(*) FILTER (WHERE o.outcome = 'no_show')::float8
       / nullif(count(*) FILTER (WHERE o.outcome <> 'unknown'), 0) AS "no-show rate"
{_BOOKINGS_IN_RANGE}
"""

UTILISATION_PER_SITE = f"""
SELECT m.bucket_start AS "time", m.site_id || ' true utilisation' AS metric,
       sum(m.booked_occupied_s)::float8 / nullif(sum(m.booked_observed_s), 0) AS value
{_DAY_METRICS}
GROUP BY 1, 2
UNION ALL
SELECT m.bucket_start, m.site_id || ' occupancy rate',
       sum(m.occupied_s)::float8 / nullif(sum(m.observed_s), 0)
{_DAY_METRICS}
GROUP BY 1, 2
ORDER BY 1, 2
"""

OCCUPANCY_PER_ZONE = f"""
SELECT m.bucket_start AS "time", m.site_id || ' / ' || coalesce(d.zone, '{NO_ZONE}') AS metric,
       sum(m.occupied_s)::float8 / nullif(sum(m.observed_s), 0) AS value
{_DAY_METRICS}
GROUP BY 1, 2
ORDER BY 1, 2
"""

BOOKED_VS_OCCUPIED = f"""
SELECT m.bucket_start AS "time",
       sum(m.booked_s) / 3600.0 AS "booked (h)",
       sum(m.occupied_s) / 3600.0 AS "occupied (h)",
       sum(m.booked_occupied_s) / 3600.0 AS "booked and occupied (h)",
       sum(m.unbooked_occupied_s) / 3600.0 AS "walk-in (h)"
{_DAY_METRICS}
GROUP BY 1
ORDER BY 1
"""

_CAPACITY = """(SELECT count(*) FROM desks c WHERE c.site_id = s.id AND c.retired_at IS NULL)"""

# A day belongs to the range when its local midnight does.
_DAY_IN_RANGE = """(sd.day::timestamp AT TIME ZONE s.timezone) >= $__timeFrom()
  AND (sd.day::timestamp AT TIME ZONE s.timezone) < $__timeTo()"""

PEAK_VS_CAPACITY = f"""
SELECT sd.day::timestamp AT TIME ZONE s.timezone AS "time", s.id || ' peak' AS metric,
       sd.peak AS value
FROM {SITE_DAY} sd JOIN sites s ON s.id = sd.site_id
WHERE sd.open AND s.id IN ($site) AND {_DAY_IN_RANGE}
UNION ALL
SELECT sd.day::timestamp AT TIME ZONE s.timezone, s.id || ' capacity', {_CAPACITY}
FROM {SITE_DAY} sd JOIN sites s ON s.id = sd.site_id
WHERE sd.open AND s.id IN ($site) AND {_DAY_IN_RANGE}
ORDER BY 1, 2
"""

RIGHT_SIZING = f"""
WITH open_days AS (
    SELECT sd.site_id, sd.peak,
           row_number() OVER (PARTITION BY sd.site_id ORDER BY sd.peak) AS rank,
           count(*) OVER (PARTITION BY sd.site_id) AS n
    FROM {SITE_DAY} sd JOIN sites s ON s.id = sd.site_id
    WHERE sd.open AND s.id IN ($site) AND {_DAY_IN_RANGE}
), needed AS (
    SELECT site_id, max(n) AS days_open, max(peak) AS max_peak,
           max(peak) FILTER (WHERE rank = ($percentile * n + 99) / 100) AS desks_needed
    FROM open_days GROUP BY site_id
), sized AS (
    SELECT s.id, s.name, s.kind, s.area_m2, s.cost_per_desk_month, {_CAPACITY} AS capacity,
           coalesce(n.days_open, 0) AS days_open, coalesce(n.max_peak, 0) AS max_peak,
           coalesce(n.desks_needed, 0) AS desks_needed
    FROM sites s LEFT JOIN needed n ON n.site_id = s.id
    WHERE s.retired_at IS NULL AND s.id IN ($site)
)
SELECT id AS "site", name AS "name", kind AS "kind", capacity AS "capacity",
       days_open AS "days open", max_peak AS "highest peak",
       desks_needed AS "desks needed", capacity - desks_needed AS "surplus",
       round((area_m2 / nullif(capacity, 0))::numeric, 1) AS "m² per desk",
       round(((capacity - desks_needed) * area_m2 / nullif(capacity, 0))::numeric, 1)
           AS "area freed (m²)",
       round(((capacity - desks_needed) * cost_per_desk_month)::numeric, 0)
           AS "saving per month"
FROM sized
ORDER BY id
"""

_GRID_COLUMNS = ",\n       ".join(
    f"round((sum(m.occupied_s) FILTER (WHERE h.hour = {hour}))::numeric"
    f' / nullif(sum(m.observed_s) FILTER (WHERE h.hour = {hour}), 0), 3) AS "{hour:02d}"'
    for hour in GRID_HOURS
)

WEEKDAY_HOUR = f"""
SELECT h.isodow AS "day no", to_char(date '2024-01-01' + h.isodow - 1, 'Dy') AS "weekday",
       {_GRID_COLUMNS}
FROM {DESK_HOUR} m
JOIN desks d ON d.id = m.desk_id
JOIN sites s ON s.id = m.site_id
CROSS JOIN LATERAL (
    SELECT extract(isodow FROM m.bucket_start AT TIME ZONE s.timezone)::int AS isodow,
           extract(hour FROM m.bucket_start AT TIME ZONE s.timezone)::int AS hour
) h
WHERE $__timeFilter(m.bucket_start) AND {DAY_INDEX_HINT} AND {_DESK_FILTER}
GROUP BY h.isodow
ORDER BY h.isodow
"""

NO_SHOW_PER_WEEK = f"""
SELECT date_trunc('week', o.start_at AT TIME ZONE s.timezone) AT TIME ZONE s.timezone AS "time",
       o.site_id AS metric,
       count(*) FILTER (WHERE o.outcome = 'no_show')::float8
       / nullif(count(*) FILTER (WHERE o.outcome <> 'unknown'), 0) AS value
{_BOOKINGS_IN_RANGE.replace("JOIN desks d", "JOIN sites s ON s.id = o.site_id JOIN desks d")}
GROUP BY 1, 2
ORDER BY 1, 2
"""

SITES = "SELECT id FROM sites WHERE retired_at IS NULL ORDER BY id"
ZONES = f"""SELECT DISTINCT coalesce(zone, '{NO_ZONE}') FROM desks
WHERE site_id IN ($site) AND retired_at IS NULL"""


def board() -> Any:
    """The Facilities dashboard builder."""
    grid = (
        table_panel("Occupancy rate by weekday \u00d7 hour (site-local time)", WEEKDAY_HOUR, h=9)
        .cell_options(_heat_cells())
        .unit("percentunit")
        .min(0)
        .max(1)
        .color_scheme(FieldColor().mode(FieldColorModeId.CONTINUOUS_GR_YL_RD))
        .override_by_name("day no", [DynamicConfigValue(id_val="custom.hidden", value=True)])
    )
    return (
        dashboard.Dashboard("hubsense — Facilities")
        .uid(UID)
        .tags(["hubsense", "facilities"])
        .time("now-30d", "now")
        .timezone("browser")
        .with_variable(query_variable("site", "Site", SITES, multi=True))
        .with_variable(query_variable("zone", "Zone", ZONES, multi=True))
        .with_variable(custom_variable("percentile", "Percentile", ["95", "90", "80", "100"], "95"))
        .with_panel(
            stat_panel(
                "True utilisation (booked desks really used)", TRUE_UTILISATION, "percentunit", w=8
            ).description(
                "Time a booked desk was occupied / booked time its sensor was observing, "
                "inside opening hours."
            )
        )
        .with_panel(
            stat_panel("Occupancy rate", OCCUPANCY_RATE, "percentunit", w=8).description(
                "Occupied time / observed time of all selected desks, inside opening hours."
            )
        )
        .with_panel(
            stat_panel("No-show rate", NO_SHOW_RATE, "percentunit", w=8).description(
                "Bookings starting in the range whose desk stayed (nearly) empty; bookings "
                "observed less than half their length are left out."
            )
        )
        .with_panel(
            table_panel(
                "Desks needed, surplus and area (right-sizing)", RIGHT_SIZING, h=7
            ).description(
                "Desks needed = the chosen percentile (nearest rank) of the open days' peaks "
                "in the range; area and saving from the inventory's area_m2 and "
                "cost_per_desk_month. Zones are not applied: a site is sized as a whole."
            )
        )
        .with_panel(
            series_panel(
                "True utilisation and occupancy per site", UTILISATION_PER_SITE, "percentunit"
            )
        )
        .with_panel(series_panel("Occupancy rate per zone", OCCUPANCY_PER_ZONE, "percentunit"))
        .with_panel(series_panel("Booked vs occupied desk hours per day", BOOKED_VS_OCCUPIED, "h"))
        .with_panel(series_panel("Daily peak against capacity", PEAK_VS_CAPACITY, "none"))
        .with_panel(grid)
        .with_panel(series_panel("No-show rate per week", NO_SHOW_PER_WEEK, "percentunit", w=24))
        .with_panel(
            table_panel(
                "Decision: desk-days, cost, day passes, commute", DECISION_TABLE, h=9
            ).description(
                "docs/decisions.md for the range: desk-days used (day passes at co-working "
                "sites), cost = cost_per_desk_month x desks x days / 30, the same use bought "
                "as day passes, commute avoided (2 x commute_km a desk-day) and CO2 at the "
                "inventory's co2_kg_per_km. Empty cells: that input is not set."
            )
        )
        .with_panel(
            table_panel("Day profile: mean desks in use (weekday \u00d7 hour)", DAY_PROFILE, h=9)
            .description(
                "Mean desks occupied per local hour over the range's open days of each weekday."
            )
            .cell_options(_heat_cells())
            .min(0)
            .color_scheme(FieldColor().mode(FieldColorModeId.CONTINUOUS_BLUES))
            .override_by_name("day no", [DynamicConfigValue(id_val="custom.hidden", value=True)])
        )
    )


def _heat_cells() -> Any:
    """Colour each cell by its value: the table reads as a heatmap of the week.

    Grafana's heatmap panel needs a time x-axis; a weekday x hour grid has none, so the
    grid is a table whose cells are coloured on a continuous scale from 0 to 1.
    """
    return TableColoredBackgroundCellOptions()
