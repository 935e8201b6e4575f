"""Bookings the simulated people made: one per booked visit, no-shows included.

Pure: no I/O, no clock. A booking covers the planned stay rounded out to the
half hour (as people book in a booking tool) and cut to the site's opening
hours of that day. Ids are stable for (site, date, desk), so writing the same
days twice upserts instead of duplicating (SPEC §7: idempotent by booking id).
"""

from __future__ import annotations

from dataclasses import dataclass

from hubsense.simulators.people import DayPlan

from hubsense.inventory.model import Inventory
from hubsense.site_time import open_spans_s, wall_ms

SLOT_MS = 30 * 60 * 1000


@dataclass(frozen=True, slots=True)
class SimBooking:
    booking_id: str
    site: str
    desk: str
    start_ms: int
    end_ms: int
    no_show: bool


def bookings_of(inventory: Inventory, plan: DayPlan) -> list[SimBooking]:
    """The day's bookings, ordered by (start, booking id)."""
    out: list[SimBooking] = []
    for visit in plan.visits:
        if not visit.booked:
            continue
        site = inventory.site_by_id[visit.site]
        spans = open_spans_s(site, plan.day)
        opens = wall_ms(plan.day, spans[0][0], site.zoneinfo)
        closes = wall_ms(plan.day, spans[-1][1], site.zoneinfo)
        start = max(opens, visit.planned_ms[0] // SLOT_MS * SLOT_MS)
        end = min(closes, -(-visit.planned_ms[1] // SLOT_MS) * SLOT_MS)
        if end <= start:
            continue
        out.append(
            SimBooking(
                booking_id=f"sim-{visit.site}-{plan.day:%Y%m%d}-{visit.desk}",
                site=visit.site,
                desk=visit.desk,
                start_ms=start,
                end_ms=end,
                no_show=visit.no_show,
            )
        )
    return sorted(out, key=lambda b: (b.start_ms, b.booking_id))
