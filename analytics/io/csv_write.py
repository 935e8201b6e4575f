"""Write the four CSV outputs of docs/metrics.md into a folder, all or nothing.

desk_metrics.csv, booking_outcomes.csv, site_daily.csv and site_summary.csv are
written into a temporary folder beside the target and then renamed into place,
so a failed run never leaves half a result. Seconds are the summed milliseconds
floored; `unbooked_occupied_s` is the difference of the two floored values.
Times are ISO-8601 with the site's offset. Text cells a spreadsheet would run as a
formula (a booking id `=HYPERLINK(…)`) are written inert (`hubsense/csv_cells.py`).
Must not compute metrics.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hubsense.analytics.arrays import BookingArrays
from hubsense.analytics.calendar import Period
from hubsense.analytics.compute import Results
from hubsense.analytics.kernels.bookings import OUTCOME_NAMES

from hubsense.csv_cells import inert_rows
from hubsense.site_time import format_local

DESK_METRICS = "desk_metrics.csv"
BOOKING_OUTCOMES = "booking_outcomes.csv"
SITE_DAILY = "site_daily.csv"
SITE_SUMMARY = "site_summary.csv"
OUTPUT_FILES = (DESK_METRICS, BOOKING_OUTCOMES, SITE_DAILY, SITE_SUMMARY)
_MS_PER_S = 1000


def desk_metric_rows(results: Results) -> Iterator[list[object]]:
    yield [
        "site",
        "desk",
        "bucket_start",
        "observed_s",
        "occupied_s",
        "booked_s",
        "booked_observed_s",
        "booked_occupied_s",
        "unbooked_occupied_s",
    ]
    layout, cal = results.layout, results.calendars
    columns = [
        results.observed_ms // _MS_PER_S,
        results.occupied_ms // _MS_PER_S,
        results.booked_ms // _MS_PER_S,
        results.booked_observed_ms // _MS_PER_S,
        results.booked_occupied_ms // _MS_PER_S,
    ]
    observed, occupied, booked, booked_observed, booked_occupied = (c.tolist() for c in columns)
    for s, site in enumerate(layout.sites):
        labels = [format_local(b, cal.zones[s]) for b in cal.buckets(s).tolist()]
        for d in range(int(layout.site_desk_off[s]), int(layout.site_desk_off[s + 1])):
            row = int(results.row_off[d])
            for j, label in enumerate(labels):
                r = row + j
                yield [
                    site.id,
                    layout.desk_ids[d],
                    label,
                    observed[r],
                    occupied[r],
                    booked[r],
                    booked_observed[r],
                    booked_occupied[r],
                    occupied[r] - booked_occupied[r],
                ]


def booking_rows(results: Results, bookings: BookingArrays) -> Iterator[list[object]]:
    yield ["booking_id", "site", "desk", "observed_s", "occupied_s", "outcome"]
    layout = results.layout
    for b, booking_id in enumerate(bookings.booking_id):
        d = int(bookings.desk[b])
        yield [
            booking_id,
            layout.sites[int(layout.desk_site[d])].id,
            layout.desk_ids[d],
            int(results.booking_observed_ms[b]) // _MS_PER_S,
            int(results.booking_occupied_ms[b]) // _MS_PER_S,
            OUTCOME_NAMES[int(results.booking_outcome[b])],
        ]


def site_daily_rows(results: Results, period: Period) -> Iterator[list[object]]:
    yield ["site", "date", "open", "peak", "peak_at", "copresence_s", "alone_s", "desks_used"]
    cal = results.calendars
    for s, site in enumerate(results.layout.sites):
        for day, r in enumerate(cal.day_rows(s)):
            at = int(results.peak_at_ms[r])
            yield [
                site.id,
                (period.start + dt.timedelta(days=day)).isoformat(),
                "true" if cal.open_day[r] else "false",
                int(results.peak[r]),
                format_local(at, cal.zones[s]) if at >= 0 else "",
                int(results.copresence_ms[r]) // _MS_PER_S,
                int(results.alone_ms[r]) // _MS_PER_S,
                int(results.desks_used[r]),
            ]


def site_summary_rows(results: Results) -> Iterator[list[object]]:
    yield ["site", "days_open", "capacity", "desks_needed", "surplus"]
    for s, site in enumerate(results.layout.sites):
        yield [
            site.id,
            results.days_open[s],
            results.capacity[s],
            results.desks_needed[s],
            results.surplus(s),
        ]


def write_outputs(results: Results, bookings: BookingArrays, period: Period, out_dir: Path) -> None:
    """Write the four files into out_dir (created if missing) without ever leaving half of them."""
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the renamed folder should be an ordinary one
    try:
        tables = {
            DESK_METRICS: desk_metric_rows(results),
            BOOKING_OUTCOMES: booking_rows(results, bookings),
            SITE_DAILY: site_daily_rows(results, period),
            SITE_SUMMARY: site_summary_rows(results),
        }
        for name, rows in tables.items():
            with (staging / name).open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle, lineterminator="\n").writerows(inert_rows(rows))
        if not out_dir.exists():
            staging.rename(out_dir)
            return
        # The folder exists (maybe with other files): each output replaces its old version whole.
        for name in OUTPUT_FILES:
            os.replace(staging / name, out_dir / name)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
