"""Read the seconds the sensors observed per site in a period, from the desk-day rollups:
what `analytics.decision.decide` needs to tell "nobody came" from "nothing was seen".

A desk-day without a row observed nothing (its seconds are 0). Reads only; must not compute
figures (the other inputs of the decision figures are read by `decision_read.py`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

_OBSERVED = """
SELECT site_id, coalesce(sum(observed_s), 0) FROM analytics_desk_day
 WHERE day >= %s AND day < %s GROUP BY site_id
"""


def observed_by_site(conn: Any, start: dt.date, end: dt.date) -> dict[str, int]:
    """Σ observed seconds of each site's desk-days dated in [start, end); absent sites saw 0."""
    return {site: int(seconds) for site, seconds in conn.execute(_OBSERVED, (start, end))}
