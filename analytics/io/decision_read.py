"""Read what `analytics.decision` needs from PostgreSQL: the stored inventory, the site-day
rollups of the period (and the 56 days before its end), the day passes per site and date,
and (`period_inputs`) all of these from a year before the period for the commute per month.
Must not compute figures.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hubsense.analytics.decision import COMMUNITY_WINDOW_DAYS, SiteDay, year_before

from hubsense.inventory.model import Inventory

_SITES = """
SELECT s.id, s.name, s.kind, s.municipality, s.timezone, s.opening_hours, s.closed_dates,
       s.area_m2, s.cost_per_desk_month, s.commute_km, s.day_pass_price,
       coalesce(array_agg(d.id ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL), '{}')
  FROM sites s LEFT JOIN desks d ON d.site_id = s.id AND d.retired_at IS NULL
 WHERE s.retired_at IS NULL
 GROUP BY s.id ORDER BY s.kind <> 'office', s.id
"""
_ORG = """
SELECT name, currency, main_office, day_pass_price, day_pass_budget_month, co2_kg_per_km,
       used_min_s, together_min_s
  FROM organisation WHERE retired_at IS NULL ORDER BY name LIMIT 1
"""
_ORG_FIELDS = (
    "organisation",
    "currency",
    "main_office",
    "day_pass_price",
    "day_pass_budget_month",
    "co2_kg_per_km",
    "used_min_s",
    "together_min_s",
)
_DAYS = """
SELECT site_id, day, open, peak, copresence_s, alone_s, desks_used FROM analytics_site_day
 WHERE day >= %s AND day < %s ORDER BY site_id, day
"""
_PASSES = """
SELECT site_id, day, count(*) FROM day_passes WHERE day >= %s AND day < %s GROUP BY site_id, day
"""


def stored_inventory(conn: Any) -> Inventory:
    """The inventory as `hubsense inventory apply` stored it (desks without their nodes)."""
    org = conn.execute(_ORG).fetchone()
    settings: dict[str, Any] = {"organisation": "not set"}
    if org is not None:
        names = _ORG_FIELDS
        settings = {k: v for k, v in zip(names, org, strict=True) if v is not None}
    sites = []
    for row in conn.execute(_SITES):
        (site_id, name, kind, municipality, zone, hours, closed, area, cost, km, price, desks) = row
        site = {"id": site_id, "name": name, "kind": kind, "timezone": zone,
                "opening_hours": hours, "closed_dates": list(closed),
                "desks": [{"id": d} for d in desks]}  # fmt: skip
        optional = {"municipality": municipality, "area_m2": area, "cost_per_desk_month": cost,
                    "commute_km": km, "day_pass_price": price}  # fmt: skip
        site.update({k: v for k, v in optional.items() if v is not None})
        sites.append(site)
    return Inventory.model_validate({**settings, "sites": sites})


def site_days(conn: Any, start: dt.date, end: dt.date) -> list[SiteDay]:
    """Rollup rows of [start, end) and of the community-day window before `end`. Rows computed
    before alone_s and desks_used existed (NULL) read as 0 there."""
    first = min(start, end - dt.timedelta(days=COMMUNITY_WINDOW_DAYS))
    return [
        SiteDay(site, day, bool(is_open), int(peak), int(together), int(alone or 0), int(used or 0))
        for site, day, is_open, peak, together, alone, used in conn.execute(_DAYS, (first, end))
    ]


def day_passes(conn: Any, start: dt.date, end: dt.date) -> dict[str, dict[dt.date, int]]:
    out: dict[str, dict[dt.date, int]] = {}
    for site, day, n in conn.execute(_PASSES, (start, end)):
        out.setdefault(site, {})[day] = int(n)
    return out


def period_inputs(
    conn: Any, start: dt.date, end: dt.date
) -> tuple[list[SiteDay], dict[str, dict[dt.date, int]], dict[str, dict[dt.date, int]]]:
    """Site-days, day passes and observed seconds per site and date for `decide` over
    [start, end): from the same dates a year earlier (commute per month), and the
    community-day window."""
    from hubsense.analytics.io.observed_read import observed_by_site_day

    first = year_before(start)
    return (
        site_days(conn, first, end),
        day_passes(conn, first, end),
        observed_by_site_day(conn, first, end),
    )
