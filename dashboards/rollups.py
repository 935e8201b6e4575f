"""Names of the analytics rollup tables the Facilities and Hub boards read.

One place for them (migration `0005_analytics_rollups.sql`), so a rename there is a
one-line change here. Columns used: docs/metrics.md's outputs with `site_id`/`desk_id`:

- `analytics_desk_day` / `analytics_desk_hour`: site_id, desk_id, day (site-local date),
  bucket_start (the day's local midnight / the hour), observed_s, occupied_s, booked_s,
  booked_observed_s, booked_occupied_s, unbooked_occupied_s. Desk-days are stored only
  where something was observed, occupied or booked (migration 0013), so a sum over them
  is exact and a count of them is not a count of desks; `analytics_desk_hour` is a view of
  the desk-day row's hour arrays (filter it by `day` too: the day table's index).
- `analytics_booking_outcome`: booking_id, site_id, desk_id, start_at, observed_s,
  occupied_s, outcome ('unknown' | 'no_show' | 'attended')
- `analytics_site_day`: site_id, day (site-local date), open, peak, peak_at, copresence_s

Names only: no SQL is run here.
"""

from __future__ import annotations

DESK_DAY = "analytics_desk_day"
# Lets the (site_id, day) index narrow a desk-day scan before the exact time filter; a day
# either side covers every time zone's local date of the range's ends.
DAY_INDEX_HINT = "m.day BETWEEN ($__timeFrom())::date - 1 AND ($__timeTo())::date + 1"
DESK_HOUR = "analytics_desk_hour"
BOOKING_OUTCOME = "analytics_booking_outcome"
SITE_DAY = "analytics_site_day"
