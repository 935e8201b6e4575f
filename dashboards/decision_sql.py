"""SQL of the boards' decision panels (docs/decisions.md): the Facilities decision table and
day profile, the Hub board's lone weeks, community day and upcoming bookings.

Read `analytics_site_day` (desks_used, copresence_s), the desk-day rollups (the decision
table's observed seconds: a site with open days and nothing observed is "not measured", not
0 desk-days; migration 0013 writes desk-days only where something was observed, occupied or
booked), the desk-hour rollups (day profile only; absent rows count as zero), bookings, day
passes, sites and the organisation. A day
belongs to the range when its local midnight does, as in the other panels. Names only: no
SQL is run here.
"""

from __future__ import annotations

from hubsense.dashboards.rollups import DESK_DAY, DESK_HOUR, SITE_DAY

# Hours of the day-profile grid (local); the inventory's opening hours fall inside them.
PROFILE_HOURS = range(6, 22)

_DAY_IN_RANGE = """(sd.day::timestamp AT TIME ZONE s.timezone) >= $__timeFrom()
  AND (sd.day::timestamp AT TIME ZONE s.timezone) < $__timeTo()"""
_ORG = "(SELECT * FROM organisation WHERE retired_at IS NULL ORDER BY name LIMIT 1)"
_CAPACITY = "(SELECT count(*) FROM desks c WHERE c.site_id = s.id AND c.retired_at IS NULL)"
# Local dates of the range: [from, to) for a range from one local midnight to another.
_N_DAYS = (
    "(($__timeTo() AT TIME ZONE s.timezone)::date - ($__timeFrom() AT TIME ZONE s.timezone)::date)"
)

DECISION_TABLE = f"""
WITH used AS (
    SELECT sd.site_id, sum(sd.desks_used) FILTER (WHERE sd.open) AS used,
           count(*) FILTER (WHERE sd.open) AS open_days
    FROM {SITE_DAY} sd JOIN sites s ON s.id = sd.site_id
    WHERE s.id IN ($site) AND {_DAY_IN_RANGE}
    GROUP BY sd.site_id
), seen AS (
    SELECT sd.site_id, sum(sd.observed_s) AS observed_s
    FROM {DESK_DAY} sd JOIN sites s ON s.id = sd.site_id
    WHERE s.id IN ($site) AND {_DAY_IN_RANGE}
    GROUP BY sd.site_id
), passes AS (
    SELECT p.site_id, count(*) AS used
    FROM day_passes p JOIN sites s ON s.id = p.site_id
    WHERE (p.day::timestamp AT TIME ZONE s.timezone) >= $__timeFrom()
      AND (p.day::timestamp AT TIME ZONE s.timezone) < $__timeTo()
    GROUP BY p.site_id
), figures AS (
    SELECT s.id, s.name, s.kind, s.commute_km,
           coalesce(s.day_pass_price, o.day_pass_price) AS price, o.currency, o.co2_kg_per_km,
           -- Open days (or no rollup day at all) and nothing observed: not measured, and
           -- no use figure (NULL), never 0 desk-days that would read "cheaper as day passes".
           s.kind <> 'coworking' AND coalesce(o_s.observed_s, 0) = 0
               AND (u.site_id IS NULL OR u.open_days > 0) AS blind,
           CASE WHEN s.kind = 'coworking' THEN coalesce(p.used, 0)
                WHEN coalesce(o_s.observed_s, 0) = 0 AND (u.site_id IS NULL OR u.open_days > 0)
                THEN NULL ELSE coalesce(u.used, 0) END AS used,
           CASE WHEN s.kind <> 'coworking'
                THEN s.cost_per_desk_month * {_CAPACITY} * {_N_DAYS} / 30.0 END AS cost
    FROM sites s
    LEFT JOIN {_ORG} o ON true
    LEFT JOIN used u ON u.site_id = s.id
    LEFT JOIN passes p ON p.site_id = s.id
    LEFT JOIN seen o_s ON o_s.site_id = s.id
    WHERE s.retired_at IS NULL AND (s.id IN ($site) OR s.kind = 'coworking')
)
SELECT id AS "site", name AS "name", kind AS "kind", used AS "desk-days used",
       round(cost::numeric, 0) AS "cost",
       round((cost / nullif(used, 0))::numeric, 0) AS "cost per used desk-day",
       round(CASE WHEN kind = 'hub' THEN used * price END::numeric, 0) AS "as day passes",
       CASE WHEN blind THEN 'not measured'
            WHEN kind <> 'hub' OR price IS NULL OR cost IS NULL THEN NULL
            WHEN used * price < cost THEN 'yes' ELSE 'no' END AS "cheaper as day passes",
       round(CASE WHEN kind <> 'office' THEN used * 2 * commute_km END::numeric, 0)
           AS "commute avoided (km)",
       round(CASE WHEN kind <> 'office' THEN used * 2 * commute_km * co2_kg_per_km END::numeric, 1)
           AS "CO2 avoided (kg)",
       coalesce(currency, 'not set') AS "currency",
       CASE WHEN kind = 'coworking' THEN 'day passes counted'
            WHEN blind THEN 'not measured' ELSE 'measured' END AS "sensor data"
FROM figures
ORDER BY kind <> 'office', kind, id
"""

_PROFILE_COLUMNS = ",\n       ".join(
    f"round(coalesce(sum(h.occupied_s) FILTER (WHERE h.hour = {hour}), 0) / 3600.0 / n.days, 2)"
    f' AS "{hour:02d}"'
    for hour in PROFILE_HOURS
)

# Mean desks in use per weekday x local hour over the range's open days (docs/decisions.md
# day profile); rows are driven by the open days, so an hour nobody used reads 0.
DAY_PROFILE = f"""
WITH open_days AS (
    SELECT sd.site_id, sd.day, extract(isodow FROM sd.day)::int AS isodow, s.timezone
    FROM {SITE_DAY} sd JOIN sites s ON s.id = sd.site_id
    WHERE sd.open AND s.id IN ($site) AND {_DAY_IN_RANGE}
), n AS (
    SELECT site_id, isodow, count(*) AS days FROM open_days GROUP BY site_id, isodow
), hours AS (
    SELECT od.site_id, od.isodow,
           extract(hour FROM m.bucket_start AT TIME ZONE od.timezone)::int AS hour,
           sum(m.occupied_s) AS occupied_s
    FROM open_days od JOIN {DESK_HOUR} m ON m.site_id = od.site_id AND m.day = od.day
    GROUP BY 1, 2, 3
)
SELECT n.site_id AS "site", n.isodow AS "day no",
       to_char(date '2024-01-01' + n.isodow - 1, 'Dy') AS "weekday",
       {_PROFILE_COLUMNS}
FROM n LEFT JOIN hours h ON h.site_id = n.site_id AND h.isodow = n.isodow
GROUP BY n.site_id, n.isodow, n.days
ORDER BY 1, 2
"""

# A lone week: on at least half its open days with desks_used >= 1, co-presence stayed below
# the organisation's together_min_s (default 3600). A week whose open days the sensors did
# not observe at all is "not measured", not "nobody came".
LONE_WEEKS = f"""
WITH days AS (
    SELECT to_char(sd.day, 'IYYY-"W"IW') AS week, sd.open, sd.desks_used, sd.copresence_s
    FROM {SITE_DAY} sd JOIN sites s ON s.id = sd.site_id
    WHERE sd.site_id = '$hub' AND {_DAY_IN_RANGE}
), seen AS (
    SELECT to_char(sd.day, 'IYYY-"W"IW') AS week, sum(sd.observed_s) AS observed_s
    FROM {DESK_DAY} sd JOIN sites s ON s.id = sd.site_id
    WHERE sd.site_id = '$hub' AND {_DAY_IN_RANGE}
    GROUP BY 1
), together AS (
    SELECT coalesce((SELECT together_min_s FROM {_ORG} o), 3600) AS min_s
)
SELECT d.week AS "week",
       count(*) FILTER (WHERE d.open AND d.desks_used >= 1) AS "days with people",
       count(*) FILTER (WHERE d.open AND d.desks_used >= 1 AND d.copresence_s < t.min_s)
           AS "days mostly alone",
       CASE WHEN count(*) FILTER (WHERE d.open) > 0
                 AND coalesce(max(o.observed_s), 0) = 0 THEN 'not measured'
            WHEN count(*) FILTER (WHERE d.open AND d.desks_used >= 1) = 0 THEN 'nobody came'
            WHEN 2 * count(*) FILTER (WHERE d.open AND d.desks_used >= 1
                                      AND d.copresence_s < t.min_s)
                 >= count(*) FILTER (WHERE d.open AND d.desks_used >= 1)
            THEN 'LONE' ELSE 'people met' END AS "lone week"
FROM days d CROSS JOIN together t LEFT JOIN seen o ON o.week = d.week
GROUP BY d.week
ORDER BY d.week DESC
"""

_WEEKDAYS = "ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']"

# The weekday with opening hours whose open days in the 56 days before the range's end have
# the highest mean desks_used; ties go to the earlier weekday.
COMMUNITY_DAY = f"""
WITH window_days AS (
    SELECT extract(isodow FROM sd.day)::int AS isodow, sd.desks_used
    FROM {SITE_DAY} sd JOIN sites s ON s.id = sd.site_id
    WHERE sd.site_id = '$hub' AND sd.open
      AND sd.day >= ($__timeTo() AT TIME ZONE s.timezone)::date - 56
      AND sd.day < ($__timeTo() AT TIME ZONE s.timezone)::date
      AND jsonb_array_length(
            coalesce(s.opening_hours -> ({_WEEKDAYS})[extract(isodow FROM sd.day)::int],
                     '[]'::jsonb)) > 0
)
SELECT to_char(date '2024-01-01' + isodow - 1, 'FMDay') AS "community day",
       round(avg(desks_used), 2) AS "mean desks used",
       count(*) AS "open days (8 weeks)"
FROM window_days
GROUP BY isodow
ORDER BY avg(desks_used) DESC, isodow
LIMIT 1
"""

# Bookings starting on each of the next 7 local days (today first); counts only, cancelled
# bookings left out. Independent of the dashboard's range: it looks ahead from now.
UPCOMING = """
SELECT g.day AS "day", to_char(g.day, 'Dy') AS "weekday", count(b.booking_id) AS "bookings"
FROM sites s
CROSS JOIN LATERAL (
    SELECT ((now() AT TIME ZONE s.timezone)::date + k) AS day FROM generate_series(0, 6) AS k
) g
LEFT JOIN bookings b
  ON b.site_id = s.id AND b.cancelled_at IS NULL
 AND b.start_at >= g.day::timestamp AT TIME ZONE s.timezone
 AND b.start_at < (g.day + 1)::timestamp AT TIME ZONE s.timezone
WHERE s.id = '$hub'
GROUP BY g.day
ORDER BY g.day
"""
