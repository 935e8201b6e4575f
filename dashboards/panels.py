"""Panel and variable factories shared by the boards: one SQL target, units, placement.

Every panel reads the provisioned PostgreSQL datasource (uid `hubsense-pg`) through
`SqlQuery`. Builds objects only: no database, no files.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import bargauge, common, dashboard, stat, table, timeseries
from grafana_foundation_sdk.models.common import BigValueGraphMode, LegendDisplayMode
from grafana_foundation_sdk.models.dashboard import (
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from hubsense.dashboards.sql_query import Format, Sql, datasource

Builder = Any  # the SDK's panel builders share no public base class with these methods


def _place(panel: Builder, title: str, sql: str, fmt: Format, w: int, h: int) -> Builder:
    return (
        panel.title(title)
        .datasource(datasource())
        .with_target(Sql(sql.strip()).format(fmt))
        .span(w)
        .height(h)
    )


def stat_panel(title: str, sql: str, unit: str, w: int = 6, h: int = 4) -> Builder:
    """A single number (or one per column) for the selected range."""
    panel = stat.Panel().unit(unit).graph_mode(BigValueGraphMode.NONE)
    return _place(panel, title, sql, Format.TABLE, w, h)


def series_panel(title: str, sql: str, unit: str, w: int = 12, h: int = 8) -> Builder:
    """A time series; the SQL returns `time`, then either `metric`+`value` or named columns."""
    legend = common.VizLegendOptions().display_mode(LegendDisplayMode.LIST).show_legend(True)
    panel = timeseries.Panel().unit(unit).legend(legend)
    return _place(panel, title, sql, Format.TIME_SERIES, w, h)


def bars_panel(title: str, sql: str, unit: str, w: int = 12, h: int = 8) -> Builder:
    """One horizontal bar per row (e.g. per node)."""
    return _place(bargauge.Panel().unit(unit), title, sql, Format.TABLE, w, h)


def table_panel(title: str, sql: str, w: int = 24, h: int = 8) -> Builder:
    return _place(table.Panel(), title, sql, Format.TABLE, w, h)


def query_variable(name: str, label: str, sql: str, multi: bool) -> Any:
    """A variable filled by SQL on dashboard load; multi ones offer All."""
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(datasource())
        .query(sql.strip())
        .multi(multi)
        .include_all(multi)
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def custom_variable(name: str, label: str, values: list[str], default: str) -> Any:
    """A fixed list of choices (e.g. the percentile for desks needed)."""
    return (
        dashboard.CustomVariable(name)
        .label(label)
        .values(",".join(values))
        .current(VariableOption(selected=True, text=default, value=default))
    )
