"""Read the seconds the sensors observed per site and local date, from the desk-day rollups:
what `analytics.decision.decide` needs to tell "nobody came" from "nothing was seen" in the
period, in each of its months and in the same dates a year earlier.

A desk-day without a row observed nothing (its seconds are 0). Reads only; must not compute
figures (the other inputs of the decision figures are read by `decision_read.py`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

_OBSERVED = """
SELECT site_id, day, sum(observed_s) FROM analytics_desk_day
 WHERE day >= %s AND day < %s GROUP BY site_id, day HAVING sum(observed_s) > 0
"""


def observed_by_site_day(conn: Any, start: dt.date, end: dt.date) -> dict[str, dict[dt.date, int]]:
    """Σ observed seconds of each site's desk-days per date in [start, end); absent: 0."""
    out: dict[str, dict[dt.date, int]] = {}
    for site, day, seconds in conn.execute(_OBSERVED, (start, end)):
        out.setdefault(site, {})[day] = int(seconds)
    return out
