-- Bookings from calendars (SPEC §7): where each booking came from, cancellation that keeps the
-- row, and the time range every write path accepts, enforced here as the last line of defence.

-- source: the calendar or file a booking was imported or synced from ('caldav:<collection URL>',
-- 'file:<name>'); NULL for REST and simulator bookings. A re-import or sync of a source replaces
-- that source's bookings in its window. source_uid: the iCalendar UID of the series, so that an
-- incremental sync can replace one changed event's occurrences without touching the others.
-- cancelled_at: gone from its source (or cancelled there); kept, never deleted, not counted.
ALTER TABLE bookings
    ADD COLUMN source       text,
    ADD COLUMN source_uid   text,
    ADD COLUMN cancelled_at timestamptz;
CREATE INDEX bookings_source_start ON bookings (source, start_at) WHERE source IS NOT NULL;
CREATE INDEX bookings_source_uid ON bookings (source, source_uid) WHERE source IS NOT NULL;

-- Rows written before this check with instants outside 2000-2099 (a "9999-12-31" row made every
-- read of the table fail: psycopg cannot represent it in a zone east of UTC) move to a table of
-- their own, kept for the record, so that the check below can be validated.
CREATE TABLE bookings_out_of_range (LIKE bookings INCLUDING DEFAULTS);
ALTER TABLE bookings_out_of_range ADD COLUMN moved_at timestamptz NOT NULL DEFAULT now();
WITH moved AS (
    DELETE FROM bookings
     WHERE start_at < '2000-01-01T00:00:00Z' OR end_at > '2100-01-01T00:00:00Z'
        OR end_at - start_at > interval '31 days'
    RETURNING *
)
INSERT INTO bookings_out_of_range SELECT moved.*, now() FROM moved;

-- The REST model's range (api/models.py: EARLIEST, LATEST). A booking lasts at most a day unless
-- settings say otherwise (bookings.max_duration_h); 31 days is the ceiling settings may reach.
ALTER TABLE bookings
    ADD CONSTRAINT bookings_in_range
        CHECK (start_at >= '2000-01-01T00:00:00Z' AND end_at <= '2100-01-01T00:00:00Z'),
    ADD CONSTRAINT bookings_at_most_31_days CHECK (end_at - start_at <= interval '31 days');

-- CalDAV sync state: one row a synced collection (its last sync token or ctag) and one a calendar
-- object (href, etag, UID), so an incremental sync fetches and replaces only what changed and
-- knows which UID a deleted href held. Written in the transaction that writes the bookings: a
-- sync that fails midway leaves both the bookings and the token as they were.
CREATE TABLE booking_sources (
    source     text PRIMARY KEY,           -- 'caldav:<collection URL>'
    sync_token text,                       -- RFC 6578 token, when the server has them
    ctag       text,                       -- getctag, for servers without sync tokens
    synced_at  timestamptz
);
CREATE TABLE booking_source_objects (
    source text NOT NULL REFERENCES booking_sources (source) ON DELETE CASCADE,
    href   text NOT NULL,
    etag   text,
    uid    text NOT NULL,
    PRIMARY KEY (source, href)
);
