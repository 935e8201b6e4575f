-- Core schema: inventory, raw events, node status, bookings, dead letters.
-- Plain PostgreSQL; 0002 turns events into a hypertable when TimescaleDB is available.

CREATE TYPE event_type AS ENUM ('desk', 'alive', 'stop');
CREATE TYPE event_source AS ENUM ('pir', 'ble', 'fused');
CREATE TYPE desk_state AS ENUM ('occupied', 'vacant');

-- Inventory (applied by `hubsense inventory apply`). Rows removed from the file are
-- retired (retired_at set), never deleted, so history keeps its meaning.
CREATE TABLE sites (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('office', 'hub')),
    municipality        text,
    timezone            text NOT NULL,
    opening_hours       jsonb NOT NULL DEFAULT '{}'::jsonb,  -- {"mon": ["07:00-18:00"], …}
    closed_dates        date[] NOT NULL DEFAULT '{}',
    area_m2             double precision,
    cost_per_desk_month double precision,
    retired_at          timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE desks (
    id          text PRIMARY KEY,
    site_id     text NOT NULL REFERENCES sites (id),
    zone        text,
    retired_at  timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
    id          text PRIMARY KEY,
    site_id     text NOT NULL REFERENCES sites (id),
    heartbeat_s integer NOT NULL CHECK (heartbeat_s > 0),
    retired_at  timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sensors (
    node_id     text NOT NULL REFERENCES nodes (id),
    key         text NOT NULL,            -- "gpio:17" or "ble:A4:C1:38:00:00:01"
    type        text NOT NULL,            -- gpio_pir | bthome
    desk_id     text NOT NULL REFERENCES desks (id),
    config      jsonb NOT NULL DEFAULT '{}'::jsonb,
    retired_at  timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, key)
);

-- Raw events as the nodes sent them. (node_id, seq) is the idempotency key (SPEC §4).
-- No foreign keys: ingest validates against the inventory and dead-letters what fails,
-- so a retired desk never makes a stored event impossible to write.
CREATE TABLE events (
    node_id     text NOT NULL,
    seq         bigint NOT NULL,
    ts          timestamptz NOT NULL,     -- when it happened on the node (ms precision)
    site_id     text NOT NULL,            -- from the topic; lets analytics read one site
    type        event_type NOT NULL,
    desk_id     text,                     -- desk events only
    source      event_source,             -- desk events only
    state       desk_state,               -- desk events only
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, seq),
    CHECK ((type = 'desk') = (desk_id IS NOT NULL AND source IS NOT NULL AND state IS NOT NULL))
);
CREATE INDEX events_site_ts ON events (site_id, ts);

-- Latest retained status of each node (one row a node, replaced on every status message).
CREATE TABLE node_status (
    node_id            text PRIMARY KEY,
    site_id            text NOT NULL,
    online             boolean NOT NULL,
    version            text,
    uptime_s           double precision,
    outbox_depth       integer,
    last_reading_age_s jsonb NOT NULL DEFAULT '{}'::jsonb,
    cpu_temp_c         double precision,
    clock_synced       boolean,
    disk_full          boolean,
    reported_at        timestamptz,       -- the node's ts, when it sent one
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Bookings from the organisation's booking tool, idempotent by booking id. No personal
-- data: a booker, when given, is stored only as a salted hash (salt in settings, not here).
CREATE TABLE bookings (
    booking_id  text PRIMARY KEY,
    site_id     text NOT NULL,
    desk_id     text NOT NULL,
    start_at    timestamptz NOT NULL,
    end_at      timestamptz NOT NULL,
    booker_hash text,
    origin      text NOT NULL DEFAULT 'api',   -- csv | ical | api | simulator
    released_at timestamptz,                   -- released for no-show (SPEC §7); never deleted
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (end_at > start_at)
);
CREATE INDEX bookings_desk_start ON bookings (desk_id, start_at);
CREATE INDEX bookings_site_start ON bookings (site_id, start_at);

-- Every message that was not written as data, with why (SPEC §4).
CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    reason      text NOT NULL,             -- short stable code, e.g. invalid_json
    detail      text NOT NULL              -- what exactly was wrong
);
CREATE INDEX dead_letters_reason ON dead_letters (reason, received_at);
