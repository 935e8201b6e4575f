"""Expand Grafana's PostgreSQL macros and template variables the way Grafana does.

Grafana rewrites a panel's `rawSql` before sending it to PostgreSQL: the frontend
replaces template variables (`$site`, `${site:sqlstring}`) and globals (`$__interval`),
the backend replaces macros (`$__timeFilter(col)`, `$__timeGroupAlias(col, '1h')`, …;
see Grafana's `pkg/tsdb/grafana-postgresql-datasource/macros.go`). No Grafana server runs
here, so the tests expand the same way and execute the result on a real database.

Pure: text in, text out; no database, no clock (the time range is a parameter).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from hubsense.errors import InputError

_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_INTERVAL = re.compile(r"^\s*'?(\d+)(ms|s|m|h|d|w|y)'?\s*$")
_MACRO = re.compile(r"\$__(\w+)\(([^()]*)\)")
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]|\$(\w+)")


@dataclass(frozen=True)
class QueryContext:
    """What Grafana knows when it runs a panel: the time range, interval and variables."""

    time_from: dt.datetime
    time_to: dt.datetime
    interval: str = "1h"
    # A variable's selected values; more than one (or `multi`) means a multi-value variable.
    variables: Mapping[str, Sequence[str]] = field(default_factory=dict)
    multi: frozenset[str] = frozenset()


def interval_s(text: str) -> float:
    """Seconds of a Grafana interval such as `5m`, `'1h'`, `100ms`."""
    match = _INTERVAL.match(text)
    if match is None:
        raise InputError(f"interval {text!r}: not a Grafana interval like 5m or 1h")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def _rfc3339(instant: dt.datetime) -> str:
    if instant.tzinfo is None:
        raise InputError(f"time range {instant}: needs a time zone")
    return "'" + instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"


def _group(args: list[str], alias: bool) -> str:
    if len(args) < 2:
        raise InputError("$__timeGroup: needs a column and an interval")
    seconds = interval_s(args[1])
    # Grafana prints whole seconds without a decimal point (macros.go uses %v).
    step = str(int(seconds)) if seconds == int(seconds) else repr(seconds)
    expression = f"floor(extract(epoch from {args[0]})/{step})*{step}"
    return f'{expression} AS "time"' if alias else expression


def _macros(ctx: QueryContext) -> dict[str, Callable[[list[str]], str]]:
    start, end = _rfc3339(ctx.time_from), _rfc3339(ctx.time_to)
    epoch_from, epoch_to = int(ctx.time_from.timestamp()), int(ctx.time_to.timestamp())
    return {
        "time": lambda a: f'{a[0]} AS "time"',
        "timeEpoch": lambda a: f'extract(epoch from {a[0]}) AS "time"',
        "timeFilter": lambda a: f"{a[0]} BETWEEN {start} AND {end}",
        "timeFrom": lambda a: start,
        "timeTo": lambda a: end,
        "timeGroup": lambda a: _group(a, alias=False),
        "timeGroupAlias": lambda a: _group(a, alias=True),
        "unixEpochFilter": lambda a: f"{a[0]} >= {epoch_from} AND {a[0]} <= {epoch_to}",
        "unixEpochFrom": lambda a: str(epoch_from),
        "unixEpochTo": lambda a: str(epoch_to),
    }


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _format(name: str, values: Sequence[str], fmt: str | None, multi: bool) -> str:
    """Grafana's SQL interpolation: a multi-value variable becomes a quoted list."""
    if fmt in ("sqlstring", "singlequote"):
        return ",".join(_quote(v) for v in values)
    if fmt == "csv":
        return ",".join(values)
    if fmt in (None, "raw"):
        if fmt is None and (multi or len(values) != 1):
            return ",".join(_quote(v) for v in values)
        return ",".join(values)
    raise InputError(f"variable ${{{name}:{fmt}}}: format {fmt!r} is not supported here")


def _globals(ctx: QueryContext) -> dict[str, str]:
    span_ms = int((ctx.time_to - ctx.time_from).total_seconds() * 1000)
    return {
        "__interval_ms": str(int(interval_s(ctx.interval) * 1000)),
        "__interval": ctx.interval,
        "__from": str(int(ctx.time_from.timestamp() * 1000)),
        "__to": str(int(ctx.time_to.timestamp() * 1000)),
        "__range_s": str(span_ms // 1000),
    }


def expand(sql: str, ctx: QueryContext) -> str:
    """The SQL Grafana would send to PostgreSQL for this panel target."""
    builtins = _globals(ctx)

    def variable(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3) or match.group(4)
        if name in builtins:
            return builtins[name]
        if name.startswith("__"):
            return match.group(0)  # a macro, expanded next
        if name not in ctx.variables:
            raise InputError(f"variable ${name}: not defined for this query")
        return _format(name, ctx.variables[name], match.group(2), name in ctx.multi)

    sql = _VARIABLE.sub(variable, sql)
    macros = _macros(ctx)

    def macro(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in macros:
            raise InputError(f"macro $__{name}: not a Grafana PostgreSQL macro")
        args = (
            [part.strip() for part in match.group(2).split(",")] if match.group(2).strip() else []
        )
        return macros[name](args)

    return _MACRO.sub(macro, sql)
