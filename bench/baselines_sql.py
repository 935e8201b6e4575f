"""The docs/metrics.md metric set in plain SQL, for the benchmark's DuckDB and PostgreSQL baselines.

Same inputs as the kernels, as tables of integers: ev(node, seq, ts, kind, desk, state, rn)
with rn the reading order, desk_t(desk, node, site), node_t(node, cover_ms), bk(b, desk, s, e),
h_t(site, s, e) opening hours, bucket_t(site, bucket, s, e), day_t(site, day, s, e, open).
Interval sets are rows [s, e); intersections are overlap joins. `{div}` is integer division
(`//` in DuckDB, `/` in PostgreSQL). Not part of the installed package.
"""

FOREVER = 4611686018427387904  # 2**62, the kernels' open end

COMMON = f"""
dedup AS (
    SELECT * FROM (SELECT ev.*, row_number() OVER (PARTITION BY node, seq ORDER BY rn) AS r FROM ev) x
     WHERE r = 1
),
o AS (
    SELECT desk, ts AS s, coalesce(nxt, {FOREVER}) AS e FROM (
        SELECT desk, ts, state, lead(ts) OVER (PARTITION BY desk ORDER BY ts, seq) AS nxt
          FROM dedup WHERE kind = 0
    ) x WHERE state = 1 AND coalesce(nxt, {FOREVER}) > ts
),
c_raw AS (
    SELECT x.node, ts AS s, least(ts + n.cover_ms, coalesce(nxt, ts + n.cover_ms)) AS e FROM (
        SELECT node, ts, kind, lead(ts) OVER (PARTITION BY node ORDER BY ts, seq) AS nxt
          FROM dedup WHERE kind <> 0
    ) x JOIN node_t n ON n.node = x.node
     WHERE kind = 1 AND least(ts + n.cover_ms, coalesce(nxt, ts + n.cover_ms)) > ts
),
c AS (  -- consecutive alives touch: merge them into islands first, as any analyst would
    SELECT node, min(s) AS s, max(e) AS e FROM (
        SELECT node, s, e, sum(brk) OVER (PARTITION BY node ORDER BY s ROWS UNBOUNDED PRECEDING) AS grp
          FROM (
            SELECT node, s, e,
                   CASE WHEN s <= lag(e) OVER (PARTITION BY node ORDER BY s) THEN 0 ELSE 1 END AS brk
              FROM c_raw
          ) y
    ) z GROUP BY node, grp
),
dc AS (SELECT d.desk, d.site, c.s, c.e FROM desk_t d JOIN c ON c.node = d.node),
k AS (
    SELECT desk, min(s) AS s, max(e) AS e FROM (
        SELECT desk, s, e, sum(brk) OVER (PARTITION BY desk ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS grp
          FROM (
            SELECT desk, s, e,
                   CASE WHEN s <= max(e) OVER (PARTITION BY desk ORDER BY s, e
                                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                        THEN 0 ELSE 1 END AS brk
              FROM bk
          ) y
    ) z GROUP BY desk, grp
),
hc AS (
    SELECT x.desk, x.site, greatest(x.s, h.s) AS s, least(x.e, h.e) AS e
      FROM dc x JOIN h_t h ON h.site = x.site AND h.s < x.e AND x.s < h.e
),
hco AS (
    SELECT x.desk, x.site, greatest(x.s, o.s) AS s, least(x.e, o.e) AS e
      FROM hc x JOIN o ON o.desk = x.desk AND o.s < x.e AND x.s < o.e
),
hk AS (
    SELECT k.desk, d.site, greatest(k.s, h.s) AS s, least(k.e, h.e) AS e
      FROM k JOIN desk_t d ON d.desk = k.desk JOIN h_t h ON h.site = d.site AND h.s < k.e AND k.s < h.e
),
hck AS (
    SELECT x.desk, x.site, greatest(x.s, k.s) AS s, least(x.e, k.e) AS e
      FROM hc x JOIN k ON k.desk = x.desk AND k.s < x.e AND x.s < k.e
),
hcko AS (
    SELECT x.desk, x.site, greatest(x.s, o.s) AS s, least(x.e, o.e) AS e
      FROM hck x JOIN o ON o.desk = x.desk AND o.s < x.e AND x.s < o.e
)
"""

DESK_METRICS = (
    "WITH"
    + COMMON
    + """,
parts AS (
    SELECT 0 AS m, desk, site, s, e FROM hc UNION ALL SELECT 1, desk, site, s, e FROM hco
    UNION ALL SELECT 2, desk, site, s, e FROM hk UNION ALL SELECT 3, desk, site, s, e FROM hck
    UNION ALL SELECT 4, desk, site, s, e FROM hcko
),
sums AS (
    SELECT p.m, p.desk, b.bucket, sum(least(p.e, b.e) - greatest(p.s, b.s)) AS ms
      FROM parts p JOIN bucket_t b ON b.site = p.site AND b.s < p.e AND p.s < b.e
     GROUP BY p.m, p.desk, b.bucket
)
SELECT d.desk, b.bucket,
       coalesce(sum(CASE WHEN m = 0 THEN ms END), 0) {div} 1000 AS observed_s,
       coalesce(sum(CASE WHEN m = 1 THEN ms END), 0) {div} 1000 AS occupied_s,
       coalesce(sum(CASE WHEN m = 2 THEN ms END), 0) {div} 1000 AS booked_s,
       coalesce(sum(CASE WHEN m = 3 THEN ms END), 0) {div} 1000 AS booked_observed_s,
       coalesce(sum(CASE WHEN m = 4 THEN ms END), 0) {div} 1000 AS booked_occupied_s
  FROM desk_t d JOIN bucket_t b ON b.site = d.site
  LEFT JOIN sums ON sums.desk = d.desk AND sums.bucket = b.bucket
 GROUP BY d.desk, b.bucket
 ORDER BY d.desk, b.bucket
"""
)

BOOKINGS = (
    "WITH"
    + COMMON
    + """,
oc AS (
    SELECT x.desk, greatest(x.s, o.s) AS s, least(x.e, o.e) AS e
      FROM dc x JOIN o ON o.desk = x.desk AND o.s < x.e AND x.s < o.e
),
obs AS (
    SELECT b.b, sum(least(b.e, x.e) - greatest(b.s, x.s)) AS ms
      FROM bk b JOIN dc x ON x.desk = b.desk AND x.s < b.e AND b.s < x.e GROUP BY b.b
),
occ AS (
    SELECT b.b, sum(least(b.e, x.e) - greatest(b.s, x.s)) AS ms
      FROM bk b JOIN oc x ON x.desk = b.desk AND x.s < b.e AND b.s < x.e GROUP BY b.b
)
SELECT bk.b, coalesce(obs.ms, 0) {div} 1000, coalesce(occ.ms, 0) {div} 1000,
       CASE WHEN 2 * coalesce(obs.ms, 0) < bk.e - bk.s THEN 0
            WHEN coalesce(occ.ms, 0) < {noshow_ms} AND 2 * coalesce(occ.ms, 0) < bk.e - bk.s THEN 1
            ELSE 2 END
  FROM bk LEFT JOIN obs ON obs.b = bk.b LEFT JOIN occ ON occ.b = bk.b
 ORDER BY bk.b
"""
)

SITE_DAYS = (
    "WITH"
    + COMMON
    + """,
pd AS (
    SELECT x.site, dd.day, greatest(x.s, dd.s) AS s, least(x.e, dd.e) AS e
      FROM hco x JOIN day_t dd ON dd.site = x.site AND dd.s < x.e AND x.s < dd.e
),
pts AS (SELECT site, day, s AS t, 1 AS delta FROM pd UNION ALL SELECT site, day, e, -1 FROM pd),
run AS (
    SELECT site, day, t,
           sum(delta) OVER (PARTITION BY site, day ORDER BY t, delta ROWS UNBOUNDED PRECEDING) AS cnt,
           lead(t) OVER (PARTITION BY site, day ORDER BY t, delta) AS nt
      FROM pts
),
peaks AS (SELECT site, day, max(cnt) AS peak FROM run GROUP BY site, day),
firsts AS (
    SELECT r.site, r.day, min(r.t) AS at FROM run r JOIN peaks p ON p.site = r.site AND p.day = r.day
     WHERE r.cnt = p.peak AND p.peak > 0 GROUP BY r.site, r.day
),
together AS (
    SELECT site, day, sum(nt - t) AS ms FROM run WHERE cnt >= 2 AND nt IS NOT NULL GROUP BY site, day
)
SELECT dd.site, dd.day, coalesce(p.peak, 0) AS peak, coalesce(f.at, -1) AS at,
       coalesce(g.ms, 0) {div} 1000 AS copresence_s
  FROM day_t dd LEFT JOIN peaks p ON p.site = dd.site AND p.day = dd.day
  LEFT JOIN firsts f ON f.site = dd.site AND f.day = dd.day
  LEFT JOIN together g ON g.site = dd.site AND g.day = dd.day
 ORDER BY dd.site, dd.day
"""
)

# Desks needed from the site-day peaks (open days only), nearest rank ⌈p/100 · n⌉ in integers.
DESKS_NEEDED = """
WITH daily AS ({site_days}),
ranked AS (
    SELECT d.site, x.peak, row_number() OVER (PARTITION BY d.site ORDER BY x.peak) AS rk,
           count(*) OVER (PARTITION BY d.site) AS n
      FROM daily x JOIN day_t d ON d.site = x.site AND d.day = x.day WHERE d.open
)
SELECT s.site, coalesce(max(CASE WHEN r.rk = greatest(1, ({p_num} * r.n + 100 * {p_den} - 1) {div} (100 * {p_den}))
                                 THEN r.peak END), 0)
  FROM (SELECT DISTINCT site FROM desk_t) s LEFT JOIN ranked r ON r.site = s.site
 GROUP BY s.site ORDER BY s.site
"""
