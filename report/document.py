"""Write the report file: gather the figures, render the page, replace the file atomically.

What `hubsense report` and the demo call. Must not parse options or print.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from hubsense.analytics.calendar import Period
from hubsense.analytics.compute import DEFAULT_NOSHOW_MIN_S
from hubsense.report.figures import gather
from hubsense.report.model import SiteFigures
from hubsense.report.page import render


@dataclass(frozen=True)
class Written:
    path: Path
    sites: list[SiteFigures]
    size_bytes: int


def write_report(
    dsn: str,
    start: dt.date,
    end: dt.date,
    out: Path,
    site_ids: list[str] | None = None,
    percentile: int = 95,
    noshow_min_s: int = DEFAULT_NOSHOW_MIN_S,
    use_rollups: bool = True,
) -> Written:
    """The report of [start, end) (site-local dates) as one HTML file at `out`."""
    sites = gather(
        dsn, Period(start, end), site_ids, Fraction(percentile), noshow_min_s, use_rollups
    )
    from hubsense.report.decision import read_decision

    from hubsense.db.connect import connect

    with connect(dsn) as conn:
        decision = read_decision(conn, sites, start, end, Fraction(percentile))
    html = render(sites, start, end, percentile, dt.datetime.now(dt.UTC), decision)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)  # a reader never sees half a report
    return Written(out, sites, len(html.encode("utf-8")))
