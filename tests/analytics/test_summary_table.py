"""`hubsense analytics summary` on a terminal: readable at 80 columns, site ids whole,
offices without the hub-only column (days with co-presence)."""

from __future__ import annotations

import io

from hubsense.analytics.summary import SiteSummary
from hubsense.analytics.summary_tables import summary_tables
from rich.console import Console

ROWS = [
    SiteSummary("ostersund-hq", "office", 20, 120, 64, 56, 0.4321, 0.81234, 0.125, None, 20),
    SiteSummary("hub-a-long-village-22c", "hub", 20, 6, 3, 3, 0.2, None, 1.0, 0.95, 20),
    SiteSummary("hub-stugun", "hub", 18, 4, 4, 0, 0.5, 0.5, 0.0, 0.0, 20),
    SiteSummary("organisation", "all", 58, 130, 71, 59, 0.4, 0.8, 0.13, 0.5, 60),
]


def render(width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), record=True)
    for table in summary_tables(ROWS):
        console.print(table)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_fits_80_columns_with_every_site_id_whole() -> None:
    lines = render(80)
    assert max(len(line) for line in lines) <= 80
    assert "…" not in "\n".join(lines)
    for row in ROWS:
        assert any(line.startswith(row.site + " ") for line in lines), row.site


def test_offices_have_no_hub_only_column_and_values_are_whole_percent() -> None:
    lines = render(80)
    hubs_at = lines.index("Hubs")
    offices, hubs = lines[:hubs_at], lines[hubs_at:]
    assert offices[0] == "Offices"
    assert not any("others" in line for line in offices)
    assert any(line.endswith("others") for line in hubs)
    office = next(line for line in offices if line.startswith("ostersund-hq"))
    assert office.split() == ["ostersund-hq", "20", "120", "64", "56", "43%", "81%", "12%"]
    hub = next(line for line in hubs if line.startswith("hub-a-long-village-22c"))
    assert hub.split() == ["hub-a-long-village-22c", "20", "6", "3", "3", "20%", "-", "100%", "95%"]
    org = next(line for line in hubs if line.startswith("organisation"))
    assert org.split()[-1] == "50%"


def test_tables_line_up() -> None:
    lines = render(80)
    # The same column ends at the same place in the office, hub and organisation rows.
    ends = {line.index("%") for line in lines if line.split() and line.split()[0] in
            ("ostersund-hq", "hub-stugun", "organisation")}  # fmt: skip
    assert len(ends) == 1, lines
