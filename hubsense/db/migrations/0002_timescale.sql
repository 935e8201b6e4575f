-- TimescaleDB, when the server has it: `events` becomes a hypertable with compression
-- and, optionally, retention. Without the extension this migration only defines
-- hubsense_has_timescale() and leaves the plain PostgreSQL schema of 0001 as it is;
-- queries give the same results on both shapes (SPEC §9).
--
-- Parameters arrive as transaction-local GUCs set by the migration runner from
-- Settings.timescale: hubsense.chunk_days (default 7), hubsense.compress_after_days
-- (default 14), hubsense.retain_days (unset or empty: keep raw events forever).
--
-- The one difference between the shapes: a hypertable's unique indexes must contain its
-- time column, so on TimescaleDB the primary key (node_id, seq) becomes the unique
-- constraint (node_id, seq, ts). Ingest writes with `INSERT … ON CONFLICT DO NOTHING`
-- without a conflict target, which dedupes a redelivered event on both shapes because a
-- redelivery carries the same ts. Only a node sending one seq twice with different ts
-- (a node bug) stores two rows here where plain PostgreSQL stores one; the analytics
-- already keep the first row read per (node, seq) (SPEC §6).
--
-- Compression segments by node_id and orders by (ts, seq):
-- * node_id leads the dedupe key, so a late redelivery into a compressed chunk (a node
--   flushing a long backlog) only decompresses that node's batches overlapping its ts;
-- * every column of the unique constraint is a segmentby or orderby column, as
--   TimescaleDB wants for unique constraints on compressed chunks;
-- * the metrics read each node's alive/stop stream and each desk's state stream (a desk
--   belongs to exactly one node) in (ts, seq) order, which is the batch order;
-- * site_id and desk_id barely vary within a node's batch, so they compress to almost
--   nothing. Site queries still work: they filter site_id after decompressing, or name
--   the site's nodes to skip other nodes' batches.

CREATE FUNCTION hubsense_has_timescale() RETURNS boolean
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
    -- plpgsql plans lazily, so the catalog view below is only resolved when it exists.
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        RETURN false;
    END IF;
    RETURN EXISTS (
        SELECT 1 FROM timescaledb_information.hypertables AS h
        WHERE format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass
            = 'events'::regclass
    );
END
$fn$;

COMMENT ON FUNCTION hubsense_has_timescale() IS
    'true when events is a TimescaleDB hypertable (compression, retention, time_bucket)';

DO $migration$
DECLARE
    chunk_days int := coalesce(
        nullif(current_setting('hubsense.chunk_days', true), '')::int, 7);
    compress_after_days int := coalesce(
        nullif(current_setting('hubsense.compress_after_days', true), '')::int, 14);
    retain_days int := nullif(current_setting('hubsense.retain_days', true), '')::int;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        RAISE NOTICE 'timescaledb not available: events stays a plain table';
        RETURN;
    END IF;
    IF chunk_days <= 0 OR compress_after_days <= 0 OR retain_days <= 0 THEN
        RAISE EXCEPTION 'hubsense.timescale: settings must be positive: chunk_days=% compress_after_days=% retain_days=%',
            chunk_days, compress_after_days, retain_days;
    END IF;

    CREATE EXTENSION IF NOT EXISTS timescaledb;

    ALTER TABLE events DROP CONSTRAINT events_pkey;
    ALTER TABLE events ADD CONSTRAINT events_node_seq_ts_key UNIQUE (node_id, seq, ts);

    -- No default ts index: events_site_ts and the unique constraint serve the reads, and
    -- every extra index costs ingest throughput.
    PERFORM create_hypertable(
        'events', by_range('ts', make_interval(days => chunk_days)),
        create_default_indexes => false, migrate_data => true);

    ALTER TABLE events SET (
        timescaledb.compress,
        timescaledb.compress_segmentby = 'node_id',
        timescaledb.compress_orderby = 'ts, seq');
    PERFORM add_compression_policy('events', make_interval(days => compress_after_days));

    IF retain_days IS NOT NULL THEN
        PERFORM add_retention_policy('events', make_interval(days => retain_days));
    END IF;
END
$migration$;
