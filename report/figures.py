"""The report's numbers per site and period, from the database through the analytics (SPEC §6).

From the analytics rollups when they cover the site's period (`rollups.py`); otherwise
the site's events and bookings are read and computed with the analytics' own database
reader and kernels (`hubsense.analytics.io.db_read`, `compute`), as `hubsense analytics
run` does: either way the numbers are the analytics' numbers. Derived money and area
follow the inventory: area per desk = area_m2 / capacity, area freed = surplus x area
per desk, saving = surplus x cost_per_desk_month.
Reads only; must not write to the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from hubsense.analytics.calendar import Bucket, Period
from hubsense.analytics.compute import DEFAULT_NOSHOW_MIN_S
from hubsense.analytics.kernels.bookings import OUTCOME_ATTENDED, OUTCOME_NO_SHOW

from hubsense.errors import InputError
from hubsense.inventory.model import Site

_MS_PER_S = 1000


@dataclass(frozen=True)
class Day:
    date: dt.date
    open: bool
    peak: int
    copresence_s: int


@dataclass(frozen=True)
class Week:
    start: dt.date  # the Monday
    observed_s: int
    occupied_s: int
    booked_observed_s: int
    booked_occupied_s: int
    copresence_s: int

    @property
    def occupancy_rate(self) -> float | None:
        return self.occupied_s / self.observed_s if self.observed_s else None

    @property
    def true_utilisation(self) -> float | None:
        return self.booked_occupied_s / self.booked_observed_s if self.booked_observed_s else None


@dataclass(frozen=True)
class SiteFigures:
    id: str
    name: str
    kind: str
    municipality: str | None
    capacity: int
    days_open: int
    desks_needed: int
    area_m2: float | None
    cost_per_desk_month: float | None
    observed_s: int
    occupied_s: int
    booked_observed_s: int
    booked_occupied_s: int
    unbooked_occupied_s: int
    open_s: int  # seconds of opening hours x desks in the period: what full observation would be
    bookings: int
    attended: int
    no_shows: int
    days: list[Day] = field(default_factory=list)
    weeks: list[Week] = field(default_factory=list)
    source: str = "computed from the raw events"

    @property
    def surplus(self) -> int:
        return self.capacity - self.desks_needed

    @property
    def max_peak(self) -> int:
        return max((d.peak for d in self.days if d.open), default=0)

    @property
    def area_per_desk_m2(self) -> float | None:
        return self.area_m2 / self.capacity if self.area_m2 and self.capacity else None

    @property
    def area_freed_m2(self) -> float | None:
        per_desk = self.area_per_desk_m2
        return self.surplus * per_desk if per_desk is not None and self.surplus > 0 else None

    @property
    def saving_per_month(self) -> float | None:
        if self.cost_per_desk_month is None or self.surplus <= 0:
            return None
        return self.surplus * self.cost_per_desk_month

    @property
    def occupancy_rate(self) -> float | None:
        return self.occupied_s / self.observed_s if self.observed_s else None

    @property
    def true_utilisation(self) -> float | None:
        return self.booked_occupied_s / self.booked_observed_s if self.booked_observed_s else None

    @property
    def no_show_rate(self) -> float | None:
        decided = self.attended + self.no_shows
        return self.no_shows / decided if decided else None

    @property
    def observed_share(self) -> float | None:
        """Share of the opening hours the sensors saw: below ~1 the numbers carry less weight."""
        return self.observed_s / self.open_s if self.open_s else None

    @property
    def copresence_s(self) -> int:
        return sum(d.copresence_s for d in self.days)

    @property
    def days_with_copresence(self) -> int:
        return sum(1 for d in self.days if d.open and d.copresence_s > 0)


def _weeks(results: Any, days: list[Day], zone: ZoneInfo) -> list[Week]:
    buckets = results.calendars.buckets(0)
    n_b = len(buckets)
    n_desks = len(results.layout.desk_ids)

    def per_day(values: np.ndarray) -> np.ndarray:
        return values.reshape(n_desks, n_b).sum(axis=0) if n_desks else np.zeros(n_b, np.int64)

    columns = [per_day(getattr(results, name)) for name in (
        "observed_ms", "occupied_ms", "booked_observed_ms", "booked_occupied_ms",
    )]  # fmt: skip
    copresence = {d.date: d.copresence_s for d in days}
    sums: dict[dt.date, list[int]] = {}
    for i, start_ms in enumerate(buckets):
        date = dt.datetime.fromtimestamp(int(start_ms) / 1000, zone).date()
        monday = date - dt.timedelta(days=date.weekday())
        row = sums.setdefault(monday, [0, 0, 0, 0, 0])
        for c, column in enumerate(columns):
            row[c] += int(column[i])
        row[4] += copresence.get(date, 0) * _MS_PER_S
    return [Week(monday, *(v // _MS_PER_S for v in row)) for monday, row in sorted(sums.items())]


def open_seconds(toggles: np.ndarray) -> int:
    """Seconds of opening hours in a site's toggle array [open, close, open, close, …]."""
    spans = toggles.reshape(-1, 2)
    return int((spans[:, 1] - spans[:, 0]).sum()) // _MS_PER_S


def _open_s(results: Any) -> int:
    """Opening-hours seconds of the period times the desks: the most that could be observed."""
    toggles = results.calendars.h_tog[results.calendars.h_off[0] : results.calendars.h_off[1]]
    return open_seconds(toggles) * len(results.layout.desk_ids)


def site_figures(
    conn: Any,
    site: Site,
    node_of_desk: dict[str, str],
    period: Period,
    percentile: Fraction,
    noshow_min_s: int,
    use_rollups: bool = True,
) -> SiteFigures:
    """All the report's numbers of one site: from the rollups when they cover the period."""
    from hubsense.report.rollups import has_rollups, rollup_figures

    # The rollups know nothing of --noshow-min-s: outcomes come from the analytics' setting.
    if use_rollups and noshow_min_s == DEFAULT_NOSHOW_MIN_S and has_rollups(conn):
        found = rollup_figures(conn, site, period, percentile)
        if found is not None:
            figures, computed_at = found
            stamp = computed_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            return replace(figures, source=f"from the analytics rollups computed {stamp}")
    return _computed(conn, site, node_of_desk, period, percentile, noshow_min_s)


def _computed(conn: Any, site: Site, node_of_desk: dict[str, str], period: Period,
              percentile: Fraction, noshow_min_s: int) -> SiteFigures:  # fmt: skip
    """Read the site's events and bookings and compute, as `hubsense analytics run` does."""
    from hubsense.analytics.arrays import Layout
    from hubsense.analytics.compute import compute
    from hubsense.analytics.io.db_read import copy_events, read_bookings

    layout = Layout.from_sites([site], node_of_desk)
    zone = ZoneInfo(site.timezone)
    start_ms, end_ms = _period_ms(period, zone)
    bookings = read_bookings(conn, layout, start_ms, end_ms)
    # Events after the period still count for its bookings (SPEC §6).
    events_to = max(end_ms, int(bookings.end_ms.max()) if len(bookings) else end_ms)
    events = copy_events(conn, layout, start_ms, events_to)
    results = compute(layout, events, bookings, period, Bucket.DAY, noshow_min_s, percentile)
    days = [
        Day(
            date=period.start + dt.timedelta(days=i),
            open=bool(results.calendars.open_day[r]),
            peak=int(results.peak[r]),
            copresence_s=int(results.copresence_ms[r]) // _MS_PER_S,
        )
        for i, r in enumerate(results.calendars.day_rows(0))
    ]
    outcome = results.booking_outcome
    booked_observed_s = int(results.booked_observed_ms.sum()) // _MS_PER_S
    occupied_s = int(results.occupied_ms.sum()) // _MS_PER_S
    booked_occupied_s = int(results.booked_occupied_ms.sum()) // _MS_PER_S
    # Bookings count when they start inside the period (SPEC §6 outcomes need no hours).
    in_period = (bookings.start_ms >= start_ms) & (bookings.start_ms < end_ms)
    return SiteFigures(
        id=site.id, name=site.name, kind=str(site.kind), municipality=site.municipality,
        capacity=len(site.desks), days_open=results.days_open[0],
        desks_needed=results.desks_needed[0], area_m2=site.area_m2,
        cost_per_desk_month=site.cost_per_desk_month,
        observed_s=int(results.observed_ms.sum()) // _MS_PER_S, occupied_s=occupied_s,
        booked_observed_s=booked_observed_s, booked_occupied_s=booked_occupied_s,
        unbooked_occupied_s=occupied_s - booked_occupied_s, open_s=_open_s(results),
        bookings=int(in_period.sum()),
        attended=int((in_period & (outcome == OUTCOME_ATTENDED)).sum()),
        no_shows=int((in_period & (outcome == OUTCOME_NO_SHOW)).sum()),
        days=days, weeks=_weeks(results, days, zone),
    )  # fmt: skip


def _period_ms(period: Period, zone: ZoneInfo) -> tuple[int, int]:
    start = dt.datetime.combine(period.start, dt.time(0), zone)
    end = dt.datetime.combine(period.end, dt.time(0), zone)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def gather(
    dsn: str,
    period: Period,
    site_ids: list[str] | None = None,
    percentile: Fraction = Fraction(95),
    noshow_min_s: int = DEFAULT_NOSHOW_MIN_S,
    use_rollups: bool = True,
) -> list[SiteFigures]:
    """Figures of the given sites (default: every live site), offices first."""
    from hubsense.analytics.io.db_read import load_sites

    from hubsense.db.connect import connect

    with connect(dsn) as conn:
        live = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM sites WHERE retired_at IS NULL AND kind <> 'coworking' "
                "ORDER BY kind <> 'office', id"
            )
        ]
        if site_ids:
            unknown = [s for s in site_ids if s not in live]
            if unknown:
                raise InputError(f"--site {unknown[0]}: no such site in the database")
            live = [s for s in live if s in site_ids]
        if not live:
            raise InputError("sites: the database has no sites (run `hubsense inventory apply`)")
        loaded, node_of_desk = load_sites(conn, live)
        # The analytics' reader leaves out what only the report needs.
        extra = {
            row[0]: {"municipality": row[1], "area_m2": row[2], "cost_per_desk_month": row[3]}
            for row in conn.execute(
                "SELECT id, municipality, area_m2, cost_per_desk_month FROM sites"
                " WHERE id = ANY(%s)",
                (live,),
            )
        }
        by_id = {site.id: site.model_copy(update=extra[site.id]) for site in loaded}
        return [
            site_figures(
                conn, by_id[s], node_of_desk, period, percentile, noshow_min_s, use_rollups
            )
            for s in live
        ]
