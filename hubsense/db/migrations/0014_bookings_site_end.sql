-- The analytics reader asks for a site's bookings overlapping [from, to): start_at < to AND
-- end_at > from. With only (site_id, start_at) an incremental run of the last day read
-- every booking of the site that ever started before it (a year of them) to keep a few;
-- bookings ending after `from` are the recent and the future ones.
CREATE INDEX bookings_site_end ON bookings (site_id, end_at);
