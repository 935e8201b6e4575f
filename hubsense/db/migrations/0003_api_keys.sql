-- API keys for `hubsense api` and the delivery state of booking releases (SPEC §7).

-- A key is `hsk_<key_id>_<secret>`: key_id is public (lists, logs), the secret is shown
-- once at creation and only its SHA-256 is kept. The secret has 256 random bits, so a
-- plain hash is as strong as a slow one here and costs nothing per request.
CREATE TABLE api_keys (
    key_id      text PRIMARY KEY,
    secret_hash text NOT NULL,
    role        text NOT NULL CHECK (role IN ('facilities', 'hub_manager', 'booking_tool')),
    sites       text[] NOT NULL DEFAULT '{}',   -- hub_manager: the only sites it may see
    name        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK (role <> 'hub_manager' OR cardinality(sites) > 0)
);

-- A released booking is marked first (released_at), then announced on MQTT and to the
-- webhook; these record when each announcement was acknowledged, so the release watcher
-- retries what failed (at least once) and never announces twice what succeeded.
ALTER TABLE bookings
    ADD COLUMN release_published_at timestamptz,
    ADD COLUMN release_webhook_at timestamptz;
CREATE INDEX bookings_released ON bookings (released_at) WHERE released_at IS NOT NULL;
