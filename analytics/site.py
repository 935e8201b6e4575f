"""The read-then-compute of one site, written once.

`hubsense analytics run` (which then writes the rollups), the API (when the rollups do not
cover a period) and the report (likewise) all read a site's events and bookings from the
database the same way and compute with the same kernels, so all three give the same numbers.
Bookings count with their whole span (docs/metrics.md), so the events are read up to the end
of the last booking that starts in the period, not only to the period's end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from hubsense.analytics.arrays import BookingArrays, EventArrays, Layout
from hubsense.analytics.calendar import Bucket, Period
from hubsense.analytics.compute import DEFAULT_NOSHOW_MIN_S, DEFAULT_PERCENTILE, Results, compute
from hubsense.analytics.io.db_read import (
    copy_events_of,
    load_sites,
    observation_layout,
    read_bookings_of,
)

from hubsense.inventory.model import Site
from hubsense.site_time import local_ms


@dataclass(frozen=True)
class SiteLayout:
    """One live site as the database knows it, with its desk → node map as kernel arrays."""

    site: Site
    layout: Layout

    @property
    def site_id(self) -> str:
        return self.site.id

    @property
    def zone(self) -> ZoneInfo:
        return self.site.zoneinfo

    @classmethod
    def of(cls, site: Site, node_of_desk: dict[str, str]) -> SiteLayout:
        # Shaped for the database's events: coverage intervals stand for the alives.
        return cls(site, observation_layout(Layout.from_sites([site], node_of_desk)))


def read_layout(conn: Any, site_id: str) -> SiteLayout | None:
    """The live site `site_id` from the inventory tables; None when there is none."""
    sites, node_of_desk = load_sites(conn, [site_id])
    return SiteLayout.of(sites[0], node_of_desk) if sites else None


def period_ms(site: SiteLayout, period: Period) -> tuple[int, int]:
    """The period's local midnights as UTC ms: [from, to)."""
    return local_ms(period.start, 0, site.zone), local_ms(period.end, 0, site.zone)


def read_inputs(conn: Any, site: SiteLayout, period: Period) -> tuple[EventArrays, BookingArrays]:
    """The site's events and the bookings overlapping the period, as kernel arrays."""
    return read_inputs_of(conn, [site], period)[0]


def read_inputs_of(
    conn: Any, sites: Sequence[SiteLayout], period: Period
) -> list[tuple[EventArrays, BookingArrays]]:
    """`read_inputs` of several sites in three statements (each site in its own time zone)."""
    layouts = [site.layout for site in sites]
    windows = [period_ms(site, period) for site in sites]
    bookings = read_bookings_of(conn, layouts, windows)
    event_windows = [
        (from_ms, max(to_ms, int(b.end_ms.max()) if len(b) else to_ms))
        for (from_ms, to_ms), b in zip(windows, bookings, strict=True)
    ]
    events = copy_events_of(conn, layouts, event_windows)
    return list(zip(events, bookings, strict=True))


def compute_site(
    conn: Any,
    site: SiteLayout,
    period: Period,
    bucket: Bucket,
    noshow_min_s: int = DEFAULT_NOSHOW_MIN_S,
    percentile: Fraction = DEFAULT_PERCENTILE,
) -> tuple[Results, BookingArrays]:
    """Read the site's inputs and compute; writes nothing."""
    events, bookings = read_inputs(conn, site, period)
    results = compute(site.layout, events, bookings, period, bucket, noshow_min_s, percentile)
    return results, bookings
