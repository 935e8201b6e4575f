"""Test helpers: build inventories in code and run the kernel path into SPEC §10 rows."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

import numpy as np
from hubsense.analytics.arrays import BookingArrays, EventArrays, Layout
from hubsense.analytics.calendar import Bucket, Period
from hubsense.analytics.compute import Results, compute
from hubsense.analytics.io.csv_write import (
    booking_rows,
    desk_metric_rows,
    site_daily_rows,
    site_summary_rows,
)
from reference import Booking, Event

from hubsense.inventory.model import Inventory

KINDS = {"desk": 0, "alive": 1, "stop": 2}
# The wire states as the kernels number them (written out here, not imported: tests).
STATES = {"vacant": 0, "occupied": 1, "unknown": 2}


def site(
    site_id: str,
    desks: dict[str, list[str]],
    hours: dict[str, list[str]],
    timezone: str = "Europe/Stockholm",
    closed: list[dt.date] | None = None,
    heartbeat_s: int = 60,
    unobserved: list[str] | None = None,
) -> dict[str, Any]:
    """A site dict: `desks` maps node id -> the desks its sensors name; `unobserved` desks
    have no sensor."""
    desk_ids = [d for names in desks.values() for d in names] + list(unobserved or [])
    return {
        "id": site_id,
        "name": site_id,
        "kind": "hub",
        "timezone": timezone,
        "opening_hours": hours,
        "closed_dates": closed or [],
        "desks": [{"id": d} for d in desk_ids],
        "nodes": [
            {
                "id": node,
                "heartbeat_s": heartbeat_s,
                "sensors": [
                    {"type": "gpio_pir", "pin": 4 + i, "desk": d} for i, d in enumerate(names)
                ],
            }
            for node, names in desks.items()
        ],
    }


def inventory(*sites: dict[str, Any]) -> Inventory:
    return Inventory.model_validate({"organisation": "test", "sites": list(sites)})


def event_arrays(layout: Layout, events: list[Event]) -> EventArrays:
    return EventArrays(
        node=np.asarray([layout.node_index[e.node] for e in events], dtype=np.int32),
        seq=np.asarray([e.seq for e in events], dtype=np.int64),
        ts=np.asarray([e.ts for e in events], dtype=np.int64),
        kind=np.asarray([KINDS[e.type] for e in events], dtype=np.int8),
        desk=np.asarray(
            [layout.desk_index[e.desk] if e.desk else -1 for e in events], dtype=np.int32
        ),
        state=np.asarray([STATES.get(e.state, 0) for e in events], dtype=np.int8),
    )


def booking_arrays(layout: Layout, bookings: list[Booking]) -> BookingArrays:
    return BookingArrays(
        booking_id=[b.booking_id for b in bookings],
        desk=np.asarray([layout.desk_index[b.desk] for b in bookings], dtype=np.int32),
        start_ms=np.asarray([b.start for b in bookings], dtype=np.int64),
        end_ms=np.asarray([b.end for b in bookings], dtype=np.int64),
    )


def run(
    inv: Inventory,
    events: list[Event],
    bookings: list[Booking],
    start: dt.date,
    end: dt.date,
    bucket: str,
    noshow_min_s: int = 900,
    percentile: Fraction = Fraction(95),
    used_min_s: int = 1800,
) -> tuple[Results, dict[str, list[list[object]]]]:
    """The kernel path: Results and the four tables as rows without their header."""
    layout = Layout.from_inventory(inv)
    b = booking_arrays(layout, bookings)
    period = Period(start, end)
    results = compute(
        layout,
        event_arrays(layout, events),
        b,
        period,
        Bucket(bucket),
        noshow_min_s,
        percentile,
        used_min_s=used_min_s,
    )
    tables = {
        "desk_metrics": list(desk_metric_rows(results))[1:],
        "booking_outcomes": list(booking_rows(results, b))[1:],
        "site_daily": list(site_daily_rows(results, period))[1:],
        "site_summary": list(site_summary_rows(results))[1:],
    }
    return results, tables


def ms(text: str) -> int:
    """UTC ms of an ISO-8601 instant with offset, for writing hand cases readably."""
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)
