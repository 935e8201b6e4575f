"""Write simulated history as the offline analytics files of docs/metrics.md.

`events.csv`: `node,seq,ts,type,desk,source,state` (desk, source, state empty
for alive/stop), rows per node in seq order, nodes in inventory order.
`bookings.csv`: `booking_id,site,desk,start,end`, ISO-8601 instants with the
site's offset. `daypasses.csv`: `pass_id,site,date`, the format of `hubsense daypasses
import` (docs/decisions.md). Files are written to a temporary name and renamed, so a failed
run never leaves half a file. Output is byte-identical for the same input.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from hubsense.simulators.bookings import SimBooking
from hubsense.simulators.node import SimEvent

from hubsense.inventory.model import Inventory
from hubsense.site_time import format_local

EVENT_COLUMNS = ("node", "seq", "ts", "type", "desk", "source", "state")
BOOKING_COLUMNS = ("booking_id", "site", "desk", "start", "end")
DAY_PASS_COLUMNS = ("pass_id", "site", "date")


def write_events(path: Path, events_by_node: Iterable[tuple[str, list[SimEvent]]]) -> int:
    """Write events.csv; returns the number of event rows."""
    rows = 0
    with _atomic(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(EVENT_COLUMNS)
        for node, events in events_by_node:
            for e in events:
                writer.writerow(
                    (
                        node,
                        e.seq,
                        e.ts,
                        e.type.value,
                        e.desk or "",
                        e.source.value if e.source else "",
                        e.state.value if e.state else "",
                    )
                )
                rows += 1
    return rows


def write_bookings(path: Path, inventory: Inventory, bookings: list[SimBooking]) -> int:
    """Write bookings.csv; returns the number of booking rows."""
    with _atomic(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(BOOKING_COLUMNS)
        for b in bookings:
            site = inventory.site_by_id[b.site]
            writer.writerow(
                (
                    b.booking_id,
                    b.site,
                    b.desk,
                    format_local(b.start_ms, site.zoneinfo),
                    format_local(b.end_ms, site.zoneinfo),
                )
            )
    return len(bookings)


def write_day_passes(path: Path, passes: list[tuple[str, str, dt.date]]) -> int:
    """Write daypasses.csv; returns the number of pass rows."""
    with _atomic(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(DAY_PASS_COLUMNS)
        for pass_id, site, day in passes:
            writer.writerow((pass_id, site, day.isoformat()))
    return len(passes)


@contextmanager
def _atomic(path: Path) -> Iterator[TextIO]:
    """Write `path.tmp` and rename it over `path` only when the block succeeds."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
