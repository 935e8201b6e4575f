"""The `hubsense analytics summary` table on screen: rich tables that read at 80 columns
(docs/metrics.md defines each column). Pure presentation: rows in, tables out."""

from __future__ import annotations

from typing import Any


def _pct(value: float | None) -> str:
    # Whole percent on screen (the JSON keeps every digit): four characters at most.
    return "-" if value is None else f"{value:.0%}"


# Two-line headers keep every column narrow enough for 80 columns with a 22-character site id.
_HEADERS = ("days\nopen", "desks", "needed", "surplus", "in\nuse", "true\nuse", "no-\nshows")


def summary_tables(rows: list[Any]) -> list[Any]:
    """The summary as rich tables that read at 80 columns: offices, then hubs (with the
    hub-only share of days with co-presence), then the organisation; site ids never cut."""
    from rich import box
    from rich.table import Table

    longest = max((len(row.site) for row in rows), default=4)
    groups = [
        ("Offices", [r for r in rows if r.kind == "office"], False),
        ("Hubs", [r for r in rows if r.kind == "hub"], True),
        ("", [r for r in rows if r.kind == "all"], True),
    ]
    tables = []
    for title, members, with_copresence in groups:
        if not members:
            continue
        table = Table(
            box=box.SIMPLE_HEAD,
            title=title or None,
            title_justify="left",
            show_edge=False,
            padding=(0, 1, 0, 0),  # with the box's column gap: two spaces between columns
        )
        table.add_column("site", no_wrap=True, min_width=longest)
        # Same widths in every table, so offices, hubs and the organisation line up.
        for column in (*_HEADERS, "with\nothers") if with_copresence else _HEADERS:
            width = max(4, *(len(word) for word in column.split("\n")))
            table.add_column(column, justify="right", no_wrap=True, min_width=width)
        for row in members:
            cells = [
                row.site,
                str(row.days_open),
                str(row.capacity),
                str(row.desks_needed),
                str(row.surplus),
                _pct(row.occupancy_rate),
                _pct(row.true_utilisation),
                _pct(row.no_show_rate),
            ]
            if with_copresence:
                cells.append(_pct(row.copresence_day_share))
            table.add_row(*cells)
        tables.append(table)
    return tables
