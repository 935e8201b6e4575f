"""The region's decision figures (docs/decisions.md) from the per-site-day rollups: pure, no I/O.

Inputs are the rows of `analytics_site_day` (or `site_daily.csv`), the inventory and the
day passes counted per coworking site and date; outputs are plain numbers with the field
names of `hubsense analytics decision --json` and `GET /v1/decision`. A figure whose input
is missing (no price, no cost, no distance) is None, shown as "not set", never 0. Given the
seconds the sensors observed per site and date, a site with open days but nothing observed
has no use figures (None, with `not_measured` saying why): no data is not "nobody came", and
the freed office area is not presented for a main office without sensor data. The commute
avoided is also given per month of the period (`commute_by_month`) beside the same dates a
year earlier.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Any

from hubsense.analytics.kernels.percentile import nearest_rank

from hubsense.inventory.model import Inventory, Site, SiteKind
from hubsense.site_time import open_spans_s, wall_ms

DAYS_PER_MONTH = 30  # docs/decisions.md: cost = cost_per_desk_month x capacity x (days / 30)
COMMUNITY_WINDOW_DAYS = 56
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
NO_SENSOR_DATA = "no sensor data in the period"


@dataclass(frozen=True, slots=True)
class SiteDay:
    """One row of `analytics_site_day`."""

    site: str
    day: dt.date
    open: bool
    peak: int
    copresence_s: int
    alone_s: int
    desks_used: int


@dataclass(frozen=True, slots=True)
class CommuteMonth:
    """A site's commute avoided in one month of the period (cut at the period's ends) and in
    the same dates a year earlier; None: not measured, no distance, or (a year earlier) no
    data then: no rollup day for a hub, no day pass for a coworking site."""

    month: str  # "2026-03"
    commute_km_avoided: float | None
    co2_kg_avoided: float | None
    co2_kg_avoided_year_before: float | None


@dataclass
class SiteDecision:
    site: str
    kind: str
    desk_days_used: int | None  # None: not measured (open days, nothing observed)
    cost: float | None
    cost_per_used_desk_day: float | None
    day_pass_equivalent: float | None
    cheaper_as_day_passes: bool | None
    lone_weeks: list[str] = field(default_factory=list)
    community_day: str | None = None
    commute_km_avoided: float | None = None
    co2_kg_avoided: float | None = None
    # Observed seconds / (open seconds x desks) of the period; None for a coworking site,
    # a site without opening hours in it, or when no observed seconds were given.
    observed_share: float | None = None
    not_measured: str | None = None  # why the use figures are None ("no sensor data …")
    commute_by_month: list[CommuteMonth] = field(default_factory=list)


@dataclass
class Decision:
    start: dt.date
    end: dt.date
    currency: str | None
    freed_passes_per_month: float | None
    day_passes_bought: int
    day_pass_budget_month: float | None
    sites: list[SiteDecision]
    # Over the sites with desks: observed seconds / (open seconds x desks); None as per site.
    observed_share: float | None = None
    # Why freed_passes_per_month is not presented though its inputs are set: the main
    # office had no sensor data in the period.
    not_measured: str | None = None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["from"], out["to"] = out.pop("start").isoformat(), out.pop("end").isoformat()
        return out


def months(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """[start, end) cut at the first of each month."""
    out = []
    a = start
    while a < end:
        b = min(end, dt.date(a.year + a.month // 12, a.month % 12 + 1, 1))
        out.append((a, b))
        a = b
    return out


def year_before(day: dt.date) -> dt.date:
    """The same date a year earlier (29 February: the 28th)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


def iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def lone_weeks(days: list[SiteDay], together_min_s: int) -> list[str]:
    """ISO weeks in which, on at least half of the open days with someone there
    (`desks_used` ≥ 1), co-presence stayed below `together_min_s`."""
    came: dict[str, int] = defaultdict(int)
    apart: dict[str, int] = defaultdict(int)
    for d in days:
        if d.open and d.desks_used >= 1:
            came[iso_week(d.day)] += 1
            apart[iso_week(d.day)] += d.copresence_s < together_min_s
    # "at least half", in integers: 2 x apart ≥ came.
    return sorted(week for week, n in came.items() if 2 * apart[week] >= n)


def community_day(site: Site, days: list[SiteDay], end: dt.date) -> str | None:
    """The weekday with opening hours whose open days in the 56 days before `end` have the
    highest mean `desks_used`; ties go to the earlier weekday; None without open days."""
    first = end - dt.timedelta(days=COMMUNITY_WINDOW_DAYS)
    sums: dict[int, int] = defaultdict(int)
    counts: dict[int, int] = defaultdict(int)
    with_hours = {day.index for day in site.opening_hours}
    for d in days:
        if d.open and first <= d.day < end and d.day.weekday() in with_hours:
            sums[d.day.weekday()] += d.desks_used
            counts[d.day.weekday()] += 1
    if not counts:
        return None
    # Exact means (Fractions): a tie is a tie, and the earlier weekday wins it.
    best = max(sorted(counts), key=lambda w: (Fraction(sums[w], counts[w]), -w))
    return WEEKDAYS[best]


def open_seconds(site: Site, start: dt.date, end: dt.date) -> int:
    """Seconds of opening hours of local dates [start, end), per desk (real seconds: a span
    over a DST change is an hour shorter or longer)."""
    total_ms = 0
    for k in range((end - start).days):
        day = start + dt.timedelta(days=k)
        for a, b in open_spans_s(site, day):
            total_ms += wall_ms(day, b, site.zoneinfo) - wall_ms(day, a, site.zoneinfo)
    return total_ms // 1000


def _cost(site: Site, n_days: int) -> float | None:
    if site.cost_per_desk_month is None:
        return None
    return site.cost_per_desk_month * site.capacity * n_days / DAYS_PER_MONTH


Observed = Mapping[str, Mapping[dt.date, int]]


def _seen(observed: Observed, site: str, start: dt.date, end: dt.date) -> int:
    return sum(n for day, n in observed.get(site, {}).items() if start <= day < end)


def _used(
    site: Site,
    days: list[SiteDay],
    passes: dict[str, dict[dt.date, int]],
    start: dt.date,
    end: dt.date,
    observed: Observed | None,
) -> tuple[int | None, int, int]:
    """(desk-days used in [start, end), None when not measured; observed s; open s x desks).
    `days` are the site's own rows."""
    if site.kind is SiteKind.COWORKING:
        return sum(n for d, n in passes.get(site.id, {}).items() if start <= d < end), 0, 0
    used = sum(d.desks_used for d in days if d.open and start <= d.day < end)
    open_s = open_seconds(site, start, end) * len(site.desks)
    if observed is None or not open_s:
        return used, 0, 0
    seen = _seen(observed, site.id, start, end)
    return (None if seen == 0 else used), seen, open_s


def _km(site: Site, used: int | None) -> float | None:
    if site.kind is SiteKind.OFFICE or site.commute_km is None or used is None:
        return None
    return used * 2 * site.commute_km


def _had_data(
    site: Site, days: list[SiteDay], passes: dict[str, dict[dt.date, int]], a: dt.date, b: dt.date
) -> bool:
    if site.kind is SiteKind.COWORKING:
        return any(a <= d < b for d in passes.get(site.id, {}))
    return any(d.open and a <= d.day < b for d in days)


def commute_by_month(
    inventory: Inventory,
    site: Site,
    days: list[SiteDay],
    passes: dict[str, dict[dt.date, int]],
    start: dt.date,
    end: dt.date,
    observed: Observed | None = None,
) -> list[CommuteMonth]:
    """The site's commute km and kg CO₂ avoided per month of [start, end) and in the same
    dates a year earlier (`days` are the site's rows, reaching back a year)."""
    co2 = inventory.co2_kg_per_km

    def kg(km: float | None) -> float | None:
        return None if km is None else km * co2

    out = []
    for a, b in months(start, end):
        km = _km(site, _used(site, days, passes, a, b, observed)[0])
        a0, b0 = year_before(a), year_before(b)
        before = (
            _km(site, _used(site, days, passes, a0, b0, observed)[0])
            if _had_data(site, days, passes, a0, b0)
            else None
        )
        out.append(CommuteMonth(f"{a:%Y-%m}", km, kg(km), kg(before)))
    return out


def decide(
    inventory: Inventory,
    days: list[SiteDay],
    passes: dict[str, dict[dt.date, int]],
    start: dt.date,
    end: dt.date,
    percentile: Fraction = Fraction(95),
    observed: Observed | None = None,
) -> Decision:
    """Every §11 figure for local dates [start, end).

    `days` may reach back before `start` (the community day looks 56 days before `end`, the
    commute per month a year before `start`); `passes` is the number of day passes per
    coworking site and date; `observed` the seconds the sensors observed per site and date
    (Σ `observed_s` of its desk-days; a missing site or date 0). Without `observed`, data
    quality is not judged (`observed_share` None)."""
    n_days = (end - start).days
    by_site: dict[str, list[SiteDay]] = defaultdict(list)
    for d in days:
        by_site[d.site].append(d)
    out: list[SiteDecision] = []
    bought = 0
    seen_s = possible_s = 0
    for site in inventory.sites:
        mine = sorted(by_site.get(site.id, []), key=lambda d: d.day)
        in_period = [d for d in mine if start <= d.day < end]
        used, site_seen, open_s = _used(site, mine, passes, start, end, observed)
        share: float | None = None
        if open_s:
            seen_s, possible_s = seen_s + site_seen, possible_s + open_s
            share = site_seen / open_s
        if site.kind is SiteKind.COWORKING:
            bought += used or 0
        blind = used is None
        cost = None if site.kind is SiteKind.COWORKING else _cost(site, n_days)
        price = inventory.day_pass_price_of(site)
        hub = site.kind is SiteKind.HUB
        equivalent = used * price if hub and price is not None and used is not None else None
        km = _km(site, used)
        out.append(
            SiteDecision(
                site=site.id,
                kind=site.kind.value,
                desk_days_used=used,
                cost=cost,
                cost_per_used_desk_day=cost / used if cost is not None and used else None,
                day_pass_equivalent=equivalent,
                cheaper_as_day_passes=(
                    equivalent < cost if equivalent is not None and cost is not None else None
                ),
                lone_weeks=lone_weeks(in_period, inventory.together_min_s) if hub else [],
                community_day=community_day(site, mine, end) if hub else None,
                commute_km_avoided=km,
                co2_kg_avoided=None if km is None else km * inventory.co2_kg_per_km,
                observed_share=share,
                not_measured=NO_SENSOR_DATA if blind else None,
                commute_by_month=(
                    []
                    if site.kind is SiteKind.OFFICE
                    else commute_by_month(inventory, site, mine, passes, start, end, observed)
                ),
            )
        )
    main = next((s for s in out if s.site == inventory.main_office), None)
    main_blind = main is not None and main.not_measured is not None
    return Decision(
        start=start,
        end=end,
        currency=inventory.currency,
        freed_passes_per_month=(
            None if main_blind else _freed_passes(inventory, by_site, start, end, percentile)
        ),
        day_passes_bought=bought,
        day_pass_budget_month=inventory.day_pass_budget_month,
        sites=out,
        observed_share=seen_s / possible_s if possible_s else None,
        not_measured=f"{NO_SENSOR_DATA} at the main office" if main_blind else None,
    )


def _freed_passes(
    inventory: Inventory,
    by_site: dict[str, list[SiteDay]],
    start: dt.date,
    end: dt.date,
    percentile: Fraction,
) -> float | None:
    """The main office's monthly saving from its surplus, in day passes; None when the main
    office, its cost, the price or any open day with data is missing."""
    main = inventory.site_by_id.get(inventory.main_office or "")
    price = inventory.day_pass_price
    if main is None or main.cost_per_desk_month is None or not price:
        return None
    peaks = [d.peak for d in by_site.get(main.id, []) if d.open and start <= d.day < end]
    if not peaks:
        return None  # no data: no savings to present
    surplus = main.capacity - nearest_rank(peaks, percentile)
    return surplus * main.cost_per_desk_month / price


@dataclass(frozen=True, slots=True)
class ProfileCell:
    """Day profile (docs/decisions.md): mean desks in O ∩ C in one local hour of a weekday."""

    weekday: str  # mon … sun
    hour: int  # 0 … 23, local
    desks: float


def day_profile(
    occupied: list[tuple[dt.date, int, int]], open_days: list[dt.date]
) -> list[ProfileCell]:
    """Weekday x hour means over the open days: `occupied` holds (local date, local hour,
    occupied seconds summed over the site's desks); a desk there for the whole hour adds
    one. Every hour of each weekday that had open days is a cell (0 when nobody came);
    weekdays without open days have none. Rows of days that were not open do not count."""
    opened = set(open_days)
    n_open: dict[int, int] = defaultdict(int)
    for day in opened:
        n_open[day.weekday()] += 1
    seconds: dict[tuple[int, int], int] = defaultdict(int)
    for day, hour, occupied_s in occupied:
        if day in opened:
            seconds[day.weekday(), hour] += occupied_s
    return [
        ProfileCell(WEEKDAYS[w], h, seconds[w, h] / (3600 * n_open[w]))
        for w in sorted(n_open)
        for h in range(24)
    ]
