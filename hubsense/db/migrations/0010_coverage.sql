-- Node coverage N as intervals (docs/scaling.md, "Coverage"): per site and node, the
-- merged intervals covered by its `alive` events, so analytics never read the alive rows.
--
-- The rule (the metrics' definition of N): an alive at h covers
-- [h, min(h + 3 × heartbeat_s, the next alive or stop of that node and site)), next in
-- (ts, seq) order. Covers are therefore disjoint and ordered; `coverage` stores their
-- union with touching intervals merged (a canonical form: one set, one list of rows).
--
-- Who writes it: ingest, in the transaction of the events (ingest/coverage.py); anything
-- else that writes alive/stop rows directly calls hubsense_rebuild_coverage afterwards
-- (`hubsense db rebuild-coverage`).

-- The heartbeat in force at each instant: a change in the inventory applies from the
-- moment it is applied on. A node's first row applies to everything before it too.
CREATE TABLE node_heartbeats (
    node_id     text NOT NULL,
    valid_from  timestamptz NOT NULL,
    heartbeat_s integer NOT NULL CHECK (heartbeat_s > 0),
    PRIMARY KEY (node_id, valid_from)
);
INSERT INTO node_heartbeats (node_id, valid_from, heartbeat_s)
SELECT id, '-infinity', heartbeat_s FROM nodes;

CREATE FUNCTION hubsense_record_heartbeat() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO node_heartbeats VALUES (NEW.id, '-infinity', NEW.heartbeat_s)
        ON CONFLICT (node_id, valid_from) DO NOTHING;
    ELSIF NEW.heartbeat_s IS DISTINCT FROM OLD.heartbeat_s THEN
        INSERT INTO node_heartbeats VALUES (NEW.id, now(), NEW.heartbeat_s)
        ON CONFLICT (node_id, valid_from) DO UPDATE SET heartbeat_s = EXCLUDED.heartbeat_s;
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER nodes_heartbeat_history AFTER INSERT OR UPDATE OF heartbeat_s ON nodes
FOR EACH ROW EXECUTE FUNCTION hubsense_record_heartbeat();

CREATE TABLE coverage (
    site_id  text NOT NULL,
    node_id  text NOT NULL,
    start_ts timestamptz NOT NULL,
    end_ts   timestamptz NOT NULL,
    PRIMARY KEY (site_id, node_id, start_ts),
    CHECK (end_ts > start_ts)
);
-- The reader asks "intervals of these nodes ending after the period starts".
CREATE INDEX coverage_site_end ON coverage (site_id, end_ts);

-- Each node's last alive/stop in (ts, seq) order: ingest extends coverage from it
-- without reading raw rows when a batch only adds later events (the common case).
CREATE TABLE coverage_heads (
    site_id text NOT NULL,
    node_id text NOT NULL,
    ts      timestamptz NOT NULL,
    seq     bigint NOT NULL,
    alive   boolean NOT NULL,
    PRIMARY KEY (site_id, node_id)
);

-- Heartbeat periods as ranges [lo, hi) (the first row of a node reaches back forever).
CREATE VIEW node_heartbeat_ranges AS
SELECT node_id,
       CASE WHEN row_number() OVER w = 1 THEN '-infinity'::timestamptz ELSE valid_from END AS lo,
       coalesce(lead(valid_from) OVER w, 'infinity'::timestamptz) AS hi,
       heartbeat_s
  FROM node_heartbeats
WINDOW w AS (PARTITION BY node_id ORDER BY valid_from);

-- Recompute the coverage of one site's node on a window, exactly.
-- a = ts of the node's last alive/stop before p_from (covers of earlier events end by a),
-- b = ts of its first alive/stop at or after p_to (covers of later events are unchanged,
-- and every earlier cover ends by b). Stored coverage inside [a, b) is replaced by the
-- union of the covers of the events in [a, b); what lies outside is kept and merged.
CREATE FUNCTION hubsense_recompute_coverage(
    p_site text, p_node text, p_from timestamptz, p_to timestamptz
) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE
    a timestamptz;
    b timestamptz;
    kept_s timestamptz[];
    kept_e timestamptz[];
BEGIN
    SELECT max(ts) INTO a FROM events
     WHERE site_id = p_site AND node_id = p_node AND type <> 'desk' AND ts < p_from;
    a := coalesce(a, '-infinity');
    SELECT min(ts) INTO b FROM events
     WHERE site_id = p_site AND node_id = p_node AND type <> 'desk' AND ts >= p_to;
    b := coalesce(b, 'infinity');
    WITH gone AS (
        DELETE FROM coverage
         WHERE site_id = p_site AND node_id = p_node AND start_ts <= b AND end_ts >= a
        RETURNING start_ts, end_ts
    ), parts AS (
        SELECT start_ts AS s, least(end_ts, a) AS e FROM gone WHERE start_ts < a
        UNION ALL
        SELECT greatest(start_ts, b), end_ts FROM gone WHERE end_ts > b
    )
    SELECT coalesce(array_agg(s), '{}'), coalesce(array_agg(e), '{}') INTO kept_s, kept_e
      FROM parts WHERE e > s;
    INSERT INTO coverage (site_id, node_id, start_ts, end_ts)
    WITH ev AS (
        SELECT ts, type = 'alive' AS alive,
               lead(ts) OVER (ORDER BY ts, seq) AS next_ts
          FROM events
         WHERE site_id = p_site AND node_id = p_node AND type <> 'desk'
           AND ts >= a AND ts <= b
    ), pieces AS (
        SELECT ev.ts AS s,
               least(ev.ts + make_interval(secs => 3 * h.heartbeat_s),
                     coalesce(ev.next_ts, 'infinity')) AS e
          FROM ev JOIN node_heartbeat_ranges h
            ON h.node_id = p_node AND ev.ts >= h.lo AND ev.ts < h.hi
         WHERE ev.alive AND ev.ts < b
        UNION ALL
        SELECT s, e FROM unnest(kept_s, kept_e) k(s, e)
    ), flagged AS (
        SELECT s, e, CASE WHEN s <= max(e) OVER (ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING
                                                 AND 1 PRECEDING) THEN 0 ELSE 1 END AS starts
          FROM pieces WHERE e > s
    ), islands AS (
        SELECT s, e, sum(starts) OVER (ORDER BY s) AS island FROM flagged
    )
    SELECT p_site, p_node, min(s), max(e) FROM islands GROUP BY island;
END
$fn$;

-- Rebuild coverage (and heads) from the raw alive/stop rows: everything, one node, or a
-- window [p_from, p_to) of it. Whole-history rebuilds are one set-based statement.
CREATE FUNCTION hubsense_rebuild_coverage(
    p_node text DEFAULT NULL, p_from timestamptz DEFAULT NULL, p_to timestamptz DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    pair record;
    n bigint;
BEGIN
    IF p_from IS NULL AND p_to IS NULL THEN
        DELETE FROM coverage WHERE p_node IS NULL OR node_id = p_node;
        INSERT INTO coverage (site_id, node_id, start_ts, end_ts)
        WITH ev AS (
            SELECT site_id, node_id, ts, type = 'alive' AS alive,
                   lead(ts) OVER (PARTITION BY site_id, node_id ORDER BY ts, seq) AS next_ts
              FROM events WHERE type <> 'desk' AND (p_node IS NULL OR node_id = p_node)
        ), pieces AS (
            SELECT ev.site_id, ev.node_id, ev.ts AS s,
                   least(ev.ts + make_interval(secs => 3 * h.heartbeat_s),
                         coalesce(ev.next_ts, 'infinity')) AS e
              FROM ev JOIN node_heartbeat_ranges h
                ON h.node_id = ev.node_id AND ev.ts >= h.lo AND ev.ts < h.hi
             WHERE ev.alive
        ), flagged AS (
            -- Covers of one node are disjoint and ordered: a piece continues an island
            -- exactly when it starts where the previous one ended.
            SELECT site_id, node_id, s, e,
                   CASE WHEN s = lag(e) OVER (PARTITION BY site_id, node_id ORDER BY s)
                        THEN 0 ELSE 1 END AS starts
              FROM pieces WHERE e > s
        ), islands AS (
            SELECT site_id, node_id, s, e,
                   sum(starts) OVER (PARTITION BY site_id, node_id ORDER BY s) AS island
              FROM flagged
        )
        SELECT site_id, node_id, min(s), max(e) FROM islands
         GROUP BY site_id, node_id, island;
        GET DIAGNOSTICS n = ROW_COUNT;
    ELSE
        n := 0;
        FOR pair IN
            SELECT DISTINCT site_id, node_id FROM events
             WHERE type <> 'desk' AND (p_node IS NULL OR node_id = p_node)
               AND ts >= coalesce(p_from, '-infinity') AND ts < coalesce(p_to, 'infinity')
            UNION
            SELECT site_id, node_id FROM coverage
             WHERE (p_node IS NULL OR node_id = p_node)
               AND start_ts < coalesce(p_to, 'infinity') AND end_ts > coalesce(p_from, '-infinity')
        LOOP
            PERFORM hubsense_recompute_coverage(pair.site_id, pair.node_id,
                coalesce(p_from, '-infinity'), coalesce(p_to, 'infinity'));
            INSERT INTO coverage_heads (site_id, node_id, ts, seq, alive)
            SELECT site_id, node_id, ts, seq, type = 'alive' FROM events
             WHERE site_id = pair.site_id AND node_id = pair.node_id AND type <> 'desk'
             ORDER BY ts DESC, seq DESC LIMIT 1
            ON CONFLICT (site_id, node_id) DO UPDATE
               SET ts = EXCLUDED.ts, seq = EXCLUDED.seq, alive = EXCLUDED.alive;
            n := n + 1;
        END LOOP;
        RETURN n;
    END IF;
    DELETE FROM coverage_heads WHERE p_node IS NULL OR node_id = p_node;
    INSERT INTO coverage_heads (site_id, node_id, ts, seq, alive)
    SELECT DISTINCT ON (site_id, node_id) site_id, node_id, ts, seq, type = 'alive'
      FROM events WHERE type <> 'desk' AND (p_node IS NULL OR node_id = p_node)
     ORDER BY site_id, node_id, ts DESC, seq DESC;
    RETURN n;
END
$fn$;

-- Existing databases: coverage from the alives already stored.
SELECT hubsense_rebuild_coverage();
