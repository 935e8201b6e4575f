"""The right-sizing summary of a period, per site and for the organisation, from the rollups.

Capacity, desks needed (nearest-rank percentile of the open days' peaks), surplus,
occupancy rate (occupied / observed), true utilisation (booked occupied / booked
observed), no-show rate (no-shows among bookings with a known outcome) and the share
of open days with co-presence. Rates are None when their denominator is 0. Reads the
rollup tables written by `analytics run`; must not compute from raw events or print.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from hubsense.analytics.kernels.percentile import nearest_rank

_SITES = """
SELECT s.id, s.kind, (SELECT count(*) FROM desks d WHERE d.site_id = s.id AND d.retired_at IS NULL)
  FROM sites s
 WHERE s.retired_at IS NULL AND (%(ids)s::text[] IS NULL OR s.id = ANY(%(ids)s))
 ORDER BY s.id
"""
_SECONDS = """
SELECT site_id, sum(observed_s), sum(occupied_s), sum(booked_observed_s), sum(booked_occupied_s)
  FROM analytics_desk_day WHERE day >= %(from)s AND day < %(to)s GROUP BY site_id
"""
_DAYS = """
SELECT site_id, open, peak, copresence_s FROM analytics_site_day
 WHERE day >= %(from)s AND day < %(to)s
"""
_OUTCOMES = """
SELECT o.site_id, o.outcome, count(*)
  FROM analytics_booking_outcome o JOIN sites s ON s.id = o.site_id
 WHERE (o.start_at AT TIME ZONE s.timezone)::date >= %(from)s
   AND (o.start_at AT TIME ZONE s.timezone)::date < %(to)s
 GROUP BY o.site_id, o.outcome
"""


@dataclass(frozen=True)
class SiteSummary:
    site: str
    kind: str
    days_open: int
    capacity: int
    desks_needed: int
    surplus: int
    occupancy_rate: float | None
    true_utilisation: float | None
    no_show_rate: float | None
    copresence_day_share: float | None
    days_computed: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summarize(
    conn: Any, start: dt.date, end: dt.date, percentile: Fraction, site_ids: list[str] | None = None
) -> list[SiteSummary]:
    """One row per site, then an `organisation` row (sums, and rates over the sums)."""
    params = {"from": start, "to": end, "ids": site_ids}
    sites = conn.execute(_SITES, params).fetchall()
    seconds = {row[0]: [int(v or 0) for v in row[1:]] for row in conn.execute(_SECONDS, params)}
    days: dict[str, list[tuple[bool, int, int]]] = {}
    for site_id, is_open, peak, copresence_s in conn.execute(_DAYS, params):
        days.setdefault(site_id, []).append((is_open, peak, copresence_s))
    outcomes: dict[str, dict[str, int]] = {}
    for site_id, outcome, count in conn.execute(_OUTCOMES, params):
        outcomes.setdefault(site_id, {})[outcome] = count
    rows = []
    totals = [0, 0, 0, 0]
    org = {
        "days_open": 0,
        "capacity": 0,
        "needed": 0,
        "no_show": 0,
        "known": 0,
        "hub_open": 0,
        "hub_together": 0,
    }
    for site_id, kind, capacity in sites:
        observed, occupied, booked_observed, booked_occupied = seconds.get(site_id, [0, 0, 0, 0])
        open_days = [
            (peak, together) for is_open, peak, together in days.get(site_id, []) if is_open
        ]
        needed = nearest_rank((peak for peak, _ in open_days), percentile)
        counts = outcomes.get(site_id, {})
        known = counts.get("no_show", 0) + counts.get("attended", 0)
        with_copresence = sum(1 for _, together in open_days if together > 0)
        rows.append(
            SiteSummary(
                site=site_id,
                kind=kind,
                days_open=len(open_days),
                capacity=capacity,
                desks_needed=needed,
                surplus=capacity - needed,
                occupancy_rate=_rate(occupied, observed),
                true_utilisation=_rate(booked_occupied, booked_observed),
                no_show_rate=_rate(counts.get("no_show", 0), known),
                copresence_day_share=_rate(with_copresence, len(open_days)),
                days_computed=len(days.get(site_id, [])),
            )
        )
        for i, value in enumerate((observed, occupied, booked_observed, booked_occupied)):
            totals[i] += value
        org["days_open"] += len(open_days)
        org["capacity"] += capacity
        org["needed"] += needed
        org["no_show"] += counts.get("no_show", 0)
        org["known"] += known
        if kind == "hub":
            org["hub_open"] += len(open_days)
            org["hub_together"] += with_copresence
    rows.append(
        SiteSummary(
            site="organisation",
            kind="all",
            days_open=org["days_open"],
            capacity=org["capacity"],
            desks_needed=org["needed"],
            surplus=org["capacity"] - org["needed"],
            occupancy_rate=_rate(totals[1], totals[0]),
            true_utilisation=_rate(totals[3], totals[2]),
            no_show_rate=_rate(org["no_show"], org["known"]),
            copresence_day_share=_rate(org["hub_together"], org["hub_open"]),
            days_computed=sum(r.days_computed for r in rows),
        )
    )
    return rows
