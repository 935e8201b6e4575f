"""Run panel SQL the way Grafana would: macros and variables expanded by
hubsense.dashboards.macros, executed read-only on a real database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
from hubsense.dashboards.macros import QueryContext, expand


def targets(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, rawSql) of every target of every panel."""
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["rawSql"]


def panel_sql(board: dict[str, Any], title: str, ref_id: str = "A") -> str:
    for panel in board["panels"]:
        if panel["title"] == title:
            for target in panel["targets"]:
                if target["refId"] == ref_id:
                    return str(target["rawSql"])
    raise KeyError(title)


def run_sql(dsn: str, sql: str, ctx: QueryContext) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of the expanded SQL, read-only like Grafana's datasource."""
    with psycopg.connect(dsn) as conn:
        conn.read_only = True
        cur = conn.execute(expand(sql, ctx).encode())
        names = [c.name for c in cur.description or []]
        return names, cur.fetchall()


def context(start: dt.datetime, end: dt.datetime, **variables: list[str]) -> QueryContext:
    multi = frozenset(name for name in ("site", "zone") if name in variables)
    return QueryContext(start, end, interval="1h", variables=variables, multi=multi)
