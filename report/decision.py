"""The inputs of the report's Decision section, read from the database: the stored inventory,
`analytics.decision` figures of the period and of each month in it (with the same month a
year earlier), day passes, and the data quality (observed share, nodes offline).

The report's own site-days (from the rollups or computed from events) replace the rollup
rows of the period, so the Decision section and the site sections never disagree. Reads only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from hubsense.analytics.decision import Decision, SiteDay, SiteDecision, decide
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


def _months(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """[start, end) cut at the first of each month."""
    out = []
    a = start
    while a < end:
        following = dt.date(a.year + a.month // 12, a.month % 12 + 1, 1)
        b = min(end, following)
        out.append((a, b))
        a = b
    return out


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _sum(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _observed(
    conn: Any, sites: list[SiteFigures], start: dt.date, end: dt.date, rolled: bool
) -> dict[str, int]:
    """Observed seconds per site in [start, end) for `decide`: the desk-day rollups', and for
    the report's own sites what the report saw. A site computed from the events has its
    seconds per week only: a week counts in the range holding its first day in the period."""
    from hubsense.analytics.io.observed_read import observed_by_site

    out = observed_by_site(conn, start, end) if rolled else {}
    for s in sites:
        if s.source.startswith("from the analytics rollups"):
            continue  # the rollups' seconds are the report's
        out[s.id] = (
            sum(w.observed_s for w in s.weeks if start <= max(w.start, s.days[0].date) < end)
            if s.days
            else 0
        )
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
    first = _year_before(start)
    exist = rollups_exist(conn)
    rolled = site_days(conn, first, end) if exist else []
    mine = {s.id for s in sites}
    days = [d for d in rolled if not (d.site in mine and start <= d.day < end)]
    days += _report_days(sites)
    passes = day_passes(conn, first, end)
    decision = decide(
        inventory, days, passes, start, end, percentile, _observed(conn, sites, start, end, exist)
    )
    months = []

    def counted(d: Decision) -> list[SiteDecision]:
        return [s for s in d.sites if s.kind == "coworking" or s.site in mine]

    for a, b in _months(start, end):
        now = decide(inventory, days, passes, a, b, percentile, _observed(conn, sites, a, b, exist))
        a0, b0 = _year_before(a), _year_before(b)
        had_data = any(a0 <= d.day < b0 for d in rolled) or any(
            a0 <= day < b0 for by_day in passes.values() for day in by_day
        )
        before = (
            decide(inventory, days, passes, a0, b0, percentile, _observed(conn, [], a0, b0, exist))
            if had_data
            else None
        )
        months.append(
            Month(
                label=f"{a:%Y-%m}",
                start=a,
                end=b,
                km=_sum([s.commute_km_avoided for s in counted(now)]),
                co2_kg=_sum([s.co2_kg_avoided for s in counted(now)]),
                year_before_co2_kg=(
                    None if before is None else _sum([s.co2_kg_avoided for s in counted(before)])
                ),
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
        months=months,
        nodes=len(status),
        nodes_offline=[node for node, online in status if not online],
        site_ids=frozenset(mine),
    )
