-- Hourly figures move into the desk-day row: one row a desk and local day holds its hours
-- as int4[] of seconds, one real hour each (23/25 a day across DST changes), from its
-- first hour with anything in it (`first_hour`, counted from the local midnight) to its
-- last; only desk-days where something was observed, occupied or booked are stored. A
-- missing row or hour is zeros (analytics_site_day, one row a site and day, says which days
-- were computed).
-- A desk-hour row a desk and hour was 26 M rows a year at 10,000 desks and most of the cost
-- of `analytics run`; bench/rollup_shapes.py measured the shapes side by side
-- (docs/scaling.md, "Rollup shapes"). `analytics_desk_hour` stays, as a view of the arrays,
-- with the same columns, so every board panel and reader keeps its SQL.
ALTER TABLE analytics_desk_day
    ADD COLUMN first_hour             int2 NOT NULL DEFAULT 0,
    ADD COLUMN hour_observed_s        int4[] NOT NULL DEFAULT '{}',
    ADD COLUMN hour_occupied_s        int4[] NOT NULL DEFAULT '{}',
    ADD COLUMN hour_booked_s          int4[] NOT NULL DEFAULT '{}',
    ADD COLUMN hour_booked_observed_s int4[] NOT NULL DEFAULT '{}',
    ADD COLUMN hour_booked_occupied_s int4[] NOT NULL DEFAULT '{}';

-- Existing hours into their day's arrays (an hour's index is its distance from midnight).
WITH hours AS (
    SELECT d.desk_id, d.day,
           array_agg(h.observed_s::int4 ORDER BY h.bucket_start) AS observed_s,
           array_agg(h.occupied_s::int4 ORDER BY h.bucket_start) AS occupied_s,
           array_agg(h.booked_s::int4 ORDER BY h.bucket_start) AS booked_s,
           array_agg(h.booked_observed_s::int4 ORDER BY h.bucket_start) AS booked_observed_s,
           array_agg(h.booked_occupied_s::int4 ORDER BY h.bucket_start) AS booked_occupied_s
      FROM analytics_desk_day d
      JOIN sites s ON s.id = d.site_id
      JOIN analytics_desk_hour h ON h.desk_id = d.desk_id
       AND h.bucket_start >= d.bucket_start
       AND h.bucket_start < ((d.day + 1)::timestamp AT TIME ZONE s.timezone)
     GROUP BY d.desk_id, d.day
)
UPDATE analytics_desk_day d
   SET hour_observed_s = hours.observed_s, hour_occupied_s = hours.occupied_s,
       hour_booked_s = hours.booked_s, hour_booked_observed_s = hours.booked_observed_s,
       hour_booked_occupied_s = hours.booked_occupied_s
  FROM hours WHERE hours.desk_id = d.desk_id AND hours.day = d.day;
DELETE FROM analytics_desk_day
 WHERE observed_s = 0 AND occupied_s = 0 AND booked_s = 0;

DROP TABLE analytics_desk_hour;

-- `day` is exposed so a reader can narrow by date first (the day table's index).
CREATE VIEW analytics_desk_hour AS
SELECT d.site_id, d.desk_id, d.day,
       d.bucket_start + (d.first_hour + h.i - 1) * interval '1 hour' AS bucket_start,
       h.observed_s::bigint AS observed_s, h.occupied_s::bigint AS occupied_s,
       h.booked_s::bigint AS booked_s, h.booked_observed_s::bigint AS booked_observed_s,
       h.booked_occupied_s::bigint AS booked_occupied_s,
       (h.occupied_s - h.booked_occupied_s)::bigint AS unbooked_occupied_s,
       d.computed_at
  FROM analytics_desk_day d
 CROSS JOIN LATERAL unnest(d.hour_observed_s, d.hour_occupied_s, d.hour_booked_s,
                           d.hour_booked_observed_s, d.hour_booked_occupied_s)
       WITH ORDINALITY AS h(observed_s, occupied_s, booked_s, booked_observed_s,
                            booked_occupied_s, i);
COMMENT ON VIEW analytics_desk_hour IS
    'one row a stored desk-day hour, from analytics_desk_day''s hour arrays; absent = zeros';
