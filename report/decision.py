"""The inputs of the report's Decision section, read from the database: the stored inventory,
`analytics.decision` figures of the period (each site's `commute_by_month`, with the same
dates a year earlier, summed per month over the report's sites), day passes, and the data
quality (observed share, nodes offline).

The report's own site-days (from the rollups or computed from events) replace the rollup
rows of the period, so the Decision section and the site sections never disagree. Reads only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from hubsense.analytics.decision import Decision, SiteDay, decide, months, year_before
from hubsense.report.model import SiteFigures

from hubsense.errors import InputError
from hubsense.inventory.model import Inventory


@dataclass(frozen=True)
class Month:
    label: str  # "2026-03"
    start: dt.date
    end: dt.date
    km: float | None  # commute km avoided; None when no site has a distance
    co2_kg: float | None
    year_before_co2_kg: float | None  # None: no data a year earlier (or no distance)


@dataclass(frozen=True)
class DecisionInputs:
    inventory: Inventory
    decision: Decision
    months: list[Month] = field(default_factory=list)
    nodes: int = 0
    nodes_offline: list[str] = field(default_factory=list)
    site_ids: frozenset[str] = frozenset()  # the report's sites (coworking sites always count)

    def in_report(self, site_id: str, kind: str) -> bool:
        return kind == "coworking" or site_id in self.site_ids


def _sum(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _observed(
    conn: Any, sites: list[SiteFigures], first: dt.date, start: dt.date, end: dt.date, rolled: bool
) -> dict[str, dict[dt.date, int]]:
    """Observed seconds per site and date in [first, end) for `decide`: the desk-day rollups',
    and in [start, end) for the report's own sites computed from the events what the report
    saw; it has them per week, put on the week's first date in the period."""
    from hubsense.analytics.io.observed_read import observed_by_site_day

    out = observed_by_site_day(conn, first, end) if rolled else {}
    for s in sites:
        if s.source.startswith("from the analytics rollups") or not s.days:
            continue  # the rollups' seconds are the report's
        mine = {day: n for day, n in out.get(s.id, {}).items() if not start <= day < end}
        for w in s.weeks:
            day = max(w.start, start)
            mine[day] = mine.get(day, 0) + w.observed_s
        out[s.id] = mine
    return out


def _report_days(sites: list[SiteFigures]) -> list[SiteDay]:
    return [
        SiteDay(s.id, d.date, d.open, d.peak, d.copresence_s, d.alone_s, d.desks_used)
        for s in sites
        for d in s.days
    ]


def read_decision(
    conn: Any, sites: list[SiteFigures], start: dt.date, end: dt.date, percentile: Fraction
) -> DecisionInputs:
    """Everything the Decision section shows for [start, end)."""
    from hubsense.analytics.io.decision_read import day_passes, site_days, stored_inventory
    from hubsense.analytics.io.rollups_read import rollups_exist

    try:
        inventory = stored_inventory(conn)
    except ValueError as error:  # an inventory stored before a rule it now breaks
        raise InputError(f"stored inventory: {error}") from None
    first = year_before(start)
    exist = rollups_exist(conn)
    rolled = site_days(conn, first, end) if exist else []
    mine = {s.id for s in sites}
    days = [d for d in rolled if not (d.site in mine and start <= d.day < end)]
    days += _report_days(sites)
    passes = day_passes(conn, first, end)
    observed = _observed(conn, sites, first, start, end, exist)
    decision = decide(inventory, days, passes, start, end, percentile, observed)
    counted = [s for s in decision.sites if s.kind == "coworking" or s.site in mine]
    # Per month, the sum over the report's sites of analytics.decision's commute_by_month.
    per_site = [s.commute_by_month for s in counted if s.commute_by_month]
    series = []
    for k, (a, b) in enumerate(months(start, end)):
        of_month = [entries[k] for entries in per_site]
        series.append(
            Month(
                label=f"{a:%Y-%m}",
                start=a,
                end=b,
                km=_sum([m.commute_km_avoided for m in of_month]),
                co2_kg=_sum([m.co2_kg_avoided for m in of_month]),
                year_before_co2_kg=_sum([m.co2_kg_avoided_year_before for m in of_month]),
            )
        )
    status = conn.execute(
        """SELECT n.id, coalesce(st.online, false) FROM nodes n
             LEFT JOIN node_status st ON st.node_id = n.id
            WHERE n.retired_at IS NULL AND n.site_id = ANY(%s) ORDER BY n.id""",
        (sorted(mine),),
    ).fetchall()
    return DecisionInputs(
        inventory=inventory,
        decision=decision,
        months=series,
        nodes=len(status),
        nodes_offline=[node for node, online in status if not online],
        site_ids=frozenset(mine),
    )
