"""Compute docs/metrics.md for every site of an inventory and period: calendars, kernels, summary.

Orchestration only: builds each site's calendar (opening hours, buckets, days) with
zoneinfo, hands columnar events and bookings to the numba kernels in one pass, and
derives the per-site summary (days open, capacity, desks needed, surplus). Shared
by `analytics compute` (files) and the database path. Must not read or write files.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from hubsense.analytics.arrays import BookingArrays, EventArrays, Layout
from hubsense.analytics.calendar import (
    Bucket,
    Period,
    bucket_bounds,
    day_bounds,
    opening_toggles,
)
from hubsense.analytics.kernels.bookings import booking_measures, booking_outcomes
from hubsense.analytics.kernels.intervals import (
    STATE_OCCUPIED,
    STATE_UNKNOWN,
    booked_sets,
    booking_order,
    observed_sets,
    occupied_sets,
)
from hubsense.analytics.kernels.measures import desk_measures
from hubsense.analytics.kernels.order import first_reads, group_events, scan_events
from hubsense.analytics.kernels.percentile import nearest_rank
from hubsense.analytics.kernels.presence import day_occupied, desks_used
from hubsense.analytics.kernels.sweep import sweep

from hubsense.inventory.model import DEFAULT_USED_MIN_S, Site

I64 = npt.NDArray[np.int64]
DEFAULT_NOSHOW_MIN_S = 900
DEFAULT_PERCENTILE = Fraction(95)
_MS_PER_S = 1000


@dataclass(frozen=True)
class Calendars:
    """Every site's boundaries, concatenated; site s owns [x_off[s], x_off[s + 1])."""

    zones: list[ZoneInfo]
    b_bounds: I64
    b_off: I64
    h_tog: I64
    h_off: I64
    d_bounds: I64
    d_off: I64
    open_day: npt.NDArray[np.bool_]  # per site-day row (site s's rows start at d_off[s] - s)

    def day_rows(self, s: int) -> range:
        return range(int(self.d_off[s]) - s, int(self.d_off[s + 1]) - s - 1)

    def buckets(self, s: int) -> I64:
        """Start instants of site s's buckets."""
        return self.b_bounds[self.b_off[s] : self.b_off[s + 1] - 1]


def _offsets(parts: list[I64]) -> I64:
    return np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)


def build_calendars(sites: list[Site], period: Period, bucket: Bucket) -> Calendars:
    """Each site's buckets, opening hours and days for the period, in its own time zone."""
    cache: dict[tuple[object, ...], tuple[I64, I64, I64, list[bool]]] = {}
    b_parts, h_parts, d_parts, opens, zones = [], [], [], [], []
    for site in sites:
        zone = ZoneInfo(site.timezone)
        # Many sites share a time zone and hours; their calendars are then identical.
        key = (
            site.timezone,
            tuple(
                (day, tuple((span.start_min, span.end_min) for span in spans))
                for day, spans in sorted(site.opening_hours.items())
            ),
            tuple(site.closed_dates),
        )
        if key not in cache:
            days = day_bounds(zone, period)
            cache[key] = (
                bucket_bounds(zone, period, bucket, days),
                opening_toggles(site, period),
                days,
                [site.is_open_on(day) for day in period.days()],
            )
        b, h, d, o = cache[key]
        b_parts.append(b)
        h_parts.append(h)
        d_parts.append(d)
        opens.extend(o)
        zones.append(zone)
    empty = np.zeros(0, dtype=np.int64)
    return Calendars(
        zones=zones,
        b_bounds=np.concatenate([empty, *b_parts]),
        b_off=_offsets(b_parts),
        h_tog=np.concatenate([empty, *h_parts]),
        h_off=_offsets(h_parts),
        d_bounds=np.concatenate([empty, *d_parts]),
        d_off=_offsets(d_parts),
        open_day=np.asarray(opens, dtype=np.bool_),
    )


@dataclass(frozen=True)
class Results:
    """Everything docs/metrics.md writes, as arrays in milliseconds (outputs floor to seconds)."""

    layout: Layout
    calendars: Calendars
    row_off: I64  # desk d's desk-bucket rows are row_off[d] .. row_off[d + 1]
    observed_ms: I64
    occupied_ms: I64
    booked_ms: I64
    booked_observed_ms: I64
    booked_occupied_ms: I64
    booking_observed_ms: I64
    booking_occupied_ms: I64
    booking_outcome: npt.NDArray[np.int8]
    peak: I64
    peak_at_ms: I64  # -1 when the peak is 0
    copresence_ms: I64
    alone_ms: I64  # per site-day row: exactly one desk in O ∩ C ∩ H
    desks_used: I64  # per site-day row: desks with occupied_s ≥ used_min_s that day
    days_open: list[int]
    capacity: list[int]
    desks_needed: list[int]
    path: str  # "sweep" (events in time order) or "grouped" (any order)

    def surplus(self, s: int) -> int:
        return self.capacity[s] - self.desks_needed[s]


def _grouped(
    layout: Layout,
    events: EventArrays,
    bookings: BookingArrays,
    calendars: Calendars,
    row_off: I64,
    deduplicate: bool,
) -> list[npt.NDArray[np.int64]]:
    """The measures of `sweep` from events in any order: the one sort, then per desk and node."""
    n_desks = len(layout.desk_ids)
    n_nodes = len(layout.node_ids)
    increasing, ordered = scan_events(
        events.kind, events.desk, events.node, events.ts, events.seq, n_desks, n_nodes
    )
    if deduplicate and not increasing:
        keep = first_reads(events.node, events.seq, n_nodes)
    else:
        keep = np.ones(len(events), dtype=np.bool_)
    g_ts, g_flag, offsets = group_events(
        *events.columns(),
        keep,
        ordered,
        n_desks,
        n_nodes,
    )
    o_tog, o_off = occupied_sets(g_ts, g_flag, offsets, n_desks)
    c_tog, c_off = observed_sets(g_ts, g_flag, offsets, layout.node_heartbeat_ms, n_desks, n_nodes)
    by_desk = booking_order(bookings.desk, bookings.start_ms, n_desks)
    k_tog, k_off = booked_sets(by_desk, bookings.desk, bookings.start_ms, bookings.end_ms, n_desks)
    desk_sums = desk_measures(
        layout.desk_site,
        layout.desk_node,
        row_off,
        calendars.b_bounds,
        calendars.b_off,
        calendars.h_tog,
        calendars.h_off,
        c_tog,
        c_off,
        o_tog,
        o_off[:-1],
        o_off[1:],
        k_tog,
        k_off,
        layout.site_desk_off,
        calendars.d_bounds,
        calendars.d_off,
    )
    booking_sums = booking_measures(
        by_desk,
        bookings.desk,
        bookings.start_ms,
        bookings.end_ms,
        layout.desk_node,
        c_tog,
        c_off,
        o_tog,
        o_off[:-1],
        o_off[1:],
    )
    return [*desk_sums, *booking_sums]


def cal_days(calendars: Calendars, s: int) -> I64:
    """Local midnights of site s over the period (n_days + 1)."""
    return calendars.d_bounds[calendars.d_off[s] : calendars.d_off[s + 1]]


def _desk_days(
    layout: Layout,
    calendars: Calendars,
    row_off: I64,
    occupied: I64,
    bucket: Bucket,
    events: EventArrays,
    bookings: BookingArrays,
    period: Period,
) -> I64:
    """Each desk's occupied milliseconds per local day (desks x days), for `desks_used`.

    Hour and day buckets nest in days and are summed; week and month buckets do not, so
    the day rows are computed once more with day buckets (twice the work, only then)."""
    n_sites = len(layout.sites)
    if bucket in (Bucket.HOUR, Bucket.DAY):
        return day_occupied(
            occupied,
            row_off,
            layout.desk_site,
            [calendars.buckets(s) for s in range(n_sites)],
            [cal_days(calendars, s) for s in range(n_sites)],
        )
    by_day = compute(layout, events, bookings, period, Bucket.DAY)
    return by_day.occupied_ms.reshape(len(layout.desk_ids), period.n_days)


def _measures(
    layout: Layout,
    events: EventArrays,
    bookings: BookingArrays,
    calendars: Calendars,
    row_off: I64,
    deduplicate: bool,
) -> tuple[bool, list[npt.NDArray[np.int64]]]:
    """(took the sweep path, the kernels' measures in `sweep`'s order)."""
    # As ingest stores events (by time): one pass, nothing per event kept (see sweep.py).
    ok, *measures = sweep(
        *events.columns(),
        layout.desk_site,
        layout.desk_node,
        layout.node_site,
        layout.node_heartbeat_ms,
        row_off,
        layout.site_desk_off,
        calendars.b_bounds,
        calendars.b_off,
        calendars.h_tog,
        calendars.h_off,
        calendars.d_bounds,
        calendars.d_off,
        bookings.desk,
        bookings.start_ms,
        bookings.end_ms,
    )
    if not ok:
        # Unsorted, late input or repeated (node, seq): deduplicate, group, sweep per desk.
        measures = _grouped(layout, events, bookings, calendars, row_off, deduplicate)
    return bool(ok), list(measures)


# Where `_measures` puts what C = N - U changes (the booking pair comes last).
_OBSERVED, _OCCUPIED, _BOOKED_OBSERVED, _BOOKED_OCCUPIED = 0, 1, 3, 4
_BOOKING_OBSERVED, _BOOKING_OCCUPIED = -2, -1


def _take_out_unknown(
    layout: Layout,
    events: EventArrays,
    unknown: npt.NDArray[np.bool_],
    bookings: BookingArrays,
    calendars: Calendars,
    row_off: I64,
    deduplicate: bool,
    measures: list[npt.NDArray[np.int64]],
) -> None:
    """Turn the observed measures from N into C = N - U (docs/metrics.md), in place.

    The kernels count a desk's unknown stretches as not occupied, so O and everything
    built on O ∩ C (occupied, booked-occupied, peaks, co-presence) is already right: O and
    U are disjoint, so O ∩ C = O ∩ N. What is left is |… ∩ N ∩ U|, which is exactly what
    the same kernels give as "occupied" for the events with unknown read as occupied and
    every other state as vacant; it is subtracted from observed and booked-observed. Input
    without unknown events never comes here, so it costs nothing there.
    """
    as_occupied = np.where(unknown, STATE_OCCUPIED, 0).astype(np.int8)
    _, in_u = _measures(
        layout, replace(events, state=as_occupied), bookings, calendars, row_off, deduplicate
    )
    measures[_OBSERVED] = measures[_OBSERVED] - in_u[_OCCUPIED]
    measures[_BOOKED_OBSERVED] = measures[_BOOKED_OBSERVED] - in_u[_BOOKED_OCCUPIED]
    measures[_BOOKING_OBSERVED] = measures[_BOOKING_OBSERVED] - in_u[_BOOKING_OCCUPIED]


def compute(
    layout: Layout,
    events: EventArrays,
    bookings: BookingArrays,
    period: Period,
    bucket: Bucket,
    noshow_min_s: int = DEFAULT_NOSHOW_MIN_S,
    percentile: Fraction = DEFAULT_PERCENTILE,
    deduplicate: bool = True,
    calendars: Calendars | None = None,
    used_min_s: int = DEFAULT_USED_MIN_S,
) -> Results:
    """All metrics of every site; `deduplicate=False` when (node, seq) is already unique.

    `calendars` may come from an earlier `build_calendars` of the same sites, period and
    bucket (they depend on nothing else), to recompute without rebuilding them.
    """
    if calendars is None:
        calendars = build_calendars(layout.sites, period, bucket)
    n_buckets = np.diff(calendars.b_off) - 1
    row_off = np.concatenate([[0], np.cumsum(n_buckets[layout.desk_site])]).astype(np.int64)
    ok, measures = _measures(layout, events, bookings, calendars, row_off, deduplicate)
    unknown = events.state == STATE_UNKNOWN
    if unknown.any():
        _take_out_unknown(
            layout, events, unknown, bookings, calendars, row_off, deduplicate, measures
        )
    (
        observed,
        occupied,
        booked,
        booked_observed,
        booked_occupied,
        peak,
        peak_at,
        together,
        b_observed,
        b_occupied,
    ) = measures
    # The peak sweeps return co-presence rows, then as many rows of alone time.
    copresence, alone = together[: len(peak)], together[len(peak) :]
    outcome = booking_outcomes(
        bookings.start_ms, bookings.end_ms, b_observed, b_occupied, noshow_min_s * _MS_PER_S
    )
    days_open, needed = [], []
    for s in range(len(layout.sites)):
        rows = calendars.day_rows(s)
        open_peaks = peak[rows.start : rows.stop][calendars.open_day[rows.start : rows.stop]]
        days_open.append(len(open_peaks))
        needed.append(nearest_rank(open_peaks.tolist(), percentile))
    return Results(
        layout=layout,
        calendars=calendars,
        row_off=row_off,
        observed_ms=observed,
        occupied_ms=occupied,
        booked_ms=booked,
        booked_observed_ms=booked_observed,
        booked_occupied_ms=booked_occupied,
        booking_observed_ms=b_observed,
        booking_occupied_ms=b_occupied,
        booking_outcome=outcome,
        peak=peak,
        peak_at_ms=peak_at,
        copresence_ms=copresence,
        alone_ms=alone,
        desks_used=desks_used(
            _desk_days(layout, calendars, row_off, occupied, bucket, events, bookings, period),
            layout.site_desk_off,
            used_min_s * _MS_PER_S,
        ),
        days_open=days_open,
        capacity=[len(site.desks) for site in layout.sites],
        desks_needed=needed,
        path="sweep" if ok else "grouped",
    )
