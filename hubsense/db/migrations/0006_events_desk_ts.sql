-- Each desk's events in time order, for the two reads that ask "this desk's event just
-- before (or after) an instant": the state a desk carries into an analytics period
-- (analytics/db_read.py) and how far a newly arrived desk event reaches (the scheduler).
-- Without it both walk every event of the site in events_site_ts: tens of milliseconds
-- a site for a one-day run, growing with the history kept. Partial (desk events only),
-- so alive/stop rows, most of a quiet site's traffic, cost ingest nothing more.
CREATE INDEX events_desk_ts ON events (desk_id, ts, seq) WHERE type = 'desk';
