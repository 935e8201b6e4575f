"""Names of the analytics rollup tables the Facilities and Hub boards read (SPEC §10 shapes).

One place for them, so a rename in the analytics migration is a one-line change here.
The columns are SPEC §10's output columns with `site_id`/`desk_id` for `site`/`desk`:

- `desk_metrics`: site_id, desk_id, bucket ('hour' | 'day'), bucket_start (timestamptz),
  observed_s, occupied_s, booked_s, booked_observed_s, booked_occupied_s, unbooked_occupied_s
- `booking_outcomes`: booking_id, site_id, desk_id, observed_s, occupied_s, outcome
- `site_daily`: site_id, date (site-local), open, peak, peak_at, copresence_s

Names only: no SQL is run here.
"""

from __future__ import annotations

DESK_METRICS = "desk_metrics"
BOOKING_OUTCOMES = "booking_outcomes"
SITE_DAILY = "site_daily"
