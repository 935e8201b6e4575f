-- Seq integrity per node (SPEC §4): conflicting duplicates and gaps, so "nothing lost"
-- can be checked in production.

-- One row per node that reused a (node, seq) for other content. Ingest writes it in the
-- transaction that dead-letters the message (`conflicting_duplicate`) and clears it
-- (cleared_at) once the node sends a seq above last_seq: until then the node's status
-- and the Fleet board say "seq conflict". A new conflict after clearing reopens the row.
CREATE TABLE seq_conflicts (
    node_id      text PRIMARY KEY,
    site_id      text NOT NULL,
    first_at     timestamptz NOT NULL DEFAULT now(),   -- first conflict since last cleared
    last_at      timestamptz NOT NULL DEFAULT now(),
    last_seq     bigint NOT NULL,                      -- highest conflicting seq seen
    dead_letters bigint NOT NULL CHECK (dead_letters > 0),
    cleared_at   timestamptz
);
-- Ingest asks "is any conflict open?" once a batch: this index answers without a scan.
CREATE INDEX seq_conflicts_open ON seq_conflicts (node_id) WHERE cleared_at IS NULL;

-- Seqs never received: each pair of neighbouring stored seqs of a node (events with
-- ts >= since) more than one apart. A jump to a seq that is a fresh outbox's start (its
-- clock's Unix ms × 1,000, taken at most a day before its first event) is a new outbox
-- (first start, wiped storage), not a loss: new_outbox is true and missing is NULL.
CREATE FUNCTION hubsense_seq_gaps(since timestamptz, only_node text DEFAULT NULL)
RETURNS TABLE (
    node_id text, site_id text, after_seq bigint, before_seq bigint, missing bigint,
    after_ts timestamptz, before_ts timestamptz, new_outbox boolean
)
LANGUAGE sql STABLE AS $fn$
SELECT g.node_id, g.site_id, g.seq, g.next_seq,
       CASE WHEN g.fresh THEN NULL ELSE g.next_seq - g.seq - 1 END,
       g.ts, g.next_ts, g.fresh
FROM (
    SELECT w.*,
           w.next_seq % 1000 = 0
           AND round(extract(epoch FROM w.next_ts) * 1000) - w.next_seq / 1000
               BETWEEN 0 AND 86400000 AS fresh
    FROM (
        SELECT e.node_id, e.site_id, e.seq, e.ts,
               lead(e.seq) OVER node_seq AS next_seq, lead(e.ts) OVER node_seq AS next_ts
        FROM events e
        WHERE e.ts >= since AND (only_node IS NULL OR e.node_id = only_node)
        WINDOW node_seq AS (PARTITION BY e.node_id ORDER BY e.seq)
    ) w
    WHERE w.next_seq > w.seq + 1
) g
ORDER BY g.node_id, g.seq
$fn$;

COMMENT ON FUNCTION hubsense_seq_gaps(timestamptz, text) IS
    'per node, the seqs never received between stored events since a time (SPEC §4)';
