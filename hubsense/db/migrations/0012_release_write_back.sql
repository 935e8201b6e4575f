-- A booking synced from CalDAV and released for no-show is written back to its calendar as
-- STATUS:CANCELLED when settings ask for it (bookings.caldav_write_back; docs/bookings.md).
-- release_written_back_at: when the calendar took the change (or had no such event any more),
-- so the release watcher writes each release back once and retries only what failed.
ALTER TABLE bookings ADD COLUMN release_written_back_at timestamptz;
