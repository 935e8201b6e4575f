"""`hubsense analytics`: compute docs/metrics.md metrics (from files today).

A command parses its options, reads the inputs and calls one function. Imports only
typer, the stdlib and the contract at module level: numpy and numba are loaded
inside the command, so `hubsense --help` stays fast.
"""

from __future__ import annotations

import datetime as dt
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hubsense.errors import ConfigError

if TYPE_CHECKING:
    from fractions import Fraction

    from hubsense.analytics.calendar import Period

app = typer.Typer(
    name="analytics",
    help=(
        "Compute true desk utilisation against bookings (docs/metrics.md), "
        "from files or the database."
    ),
    no_args_is_help=True,
)


class BucketOption(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


Dsn = Annotated[
    str | None,
    typer.Option(
        "--dsn",
        help="PostgreSQL DSN (env HUBSENSE_DB__DSN; default: what `hubsense services up` saved).",
    ),
]


# Options several commands share, declared once.
FromDate = Annotated[str, typer.Option("--from", help="First site-local date, YYYY-MM-DD.")]
ToDate = Annotated[
    str, typer.Option("--to", help="Site-local date after the last one (exclusive).")
]
Sites = Annotated[
    list[str] | None,
    typer.Option("--site", help="Only this site (repeat for more); default: all."),
]
NoshowMinS = Annotated[
    int,
    typer.Option(
        min=0, help="A booking occupied less than this (or half its length) is a no-show."
    ),
]


def _check_percentile(text: str) -> str:
    """Reject a bad --percentile while parsing, before any file or database is opened."""
    from hubsense.analytics.kernels.percentile import parse_percentile

    try:
        parse_percentile(text)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    return text


Percentile = Annotated[
    str,
    typer.Option(
        help="Nearest-rank percentile of daily peaks for desks needed, in (0, 100].",
        callback=_check_percentile,
    ),
]


def _dsn(dsn: str | None) -> str:
    from hubsense.addresses import resolve_dsn
    from hubsense.settings import load_settings

    overrides: dict[str, Any] = {"db": {"dsn": dsn}} if dsn else {}
    return resolve_dsn(load_settings(None, **overrides))


def _period(from_date: str, to_date: str) -> Period:
    from hubsense.analytics.calendar import Period

    period = Period(_date("--from", from_date), _date("--to", to_date))
    if period.end <= period.start:
        raise ConfigError(f"--to: {to_date} is not after --from {from_date}")
    return period


def _percentile(text: str) -> Fraction:
    from hubsense.analytics.kernels.percentile import parse_percentile

    try:
        return parse_percentile(text)
    except ValueError as error:
        raise ConfigError(f"--percentile {text}: {error}") from None


def _date(option: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from None


@app.command()
def compute(
    inventory: Annotated[Path, typer.Option(help="Inventory YAML file (docs/inventory.md).")],
    events: Annotated[Path, typer.Option(help="events.csv: node,seq,ts,type,desk,source,state.")],
    from_date: FromDate,
    to_date: ToDate,
    out: Annotated[
        Path, typer.Option(help="Folder for the four CSV outputs (created; files replaced whole).")
    ],
    bookings: Annotated[
        Path | None,
        typer.Option(help="bookings.csv: booking_id,site,desk,start,end (ISO-8601 with offset)."),
    ] = None,
    bucket: Annotated[
        BucketOption, typer.Option(help="Bucket of desk_metrics.csv, in site-local time.")
    ] = (BucketOption.DAY),
    noshow_min_s: NoshowMinS = 900,
    percentile: Percentile = "95",
) -> None:
    """Compute docs/metrics.md from an inventory, events.csv and bookings.csv into four CSV files.

    Example: `hubsense analytics compute --inventory inventory.yaml --events events.csv
    --bookings bookings.csv --from 2026-03-02 --to 2026-03-09 --bucket hour --out results/`
    """
    from hubsense.analytics.arrays import Layout, empty_bookings
    from hubsense.analytics.calendar import Bucket
    from hubsense.analytics.compute import compute as compute_metrics
    from hubsense.analytics.io.csv_read import read_bookings, read_events
    from hubsense.analytics.io.csv_write import write_outputs

    from hubsense.inventory.file import load_inventory
    from hubsense.logs import get_logger

    log = get_logger(__name__)
    period = _period(from_date, to_date)
    p = _percentile(percentile)
    started = time.perf_counter()
    layout = Layout.from_inventory(load_inventory(inventory))
    event_arrays = read_events(events, layout)
    booking_arrays = read_bookings(bookings, layout) if bookings is not None else empty_bookings()
    read_s = time.perf_counter() - started
    results = compute_metrics(
        layout,
        event_arrays,
        booking_arrays,
        period,
        Bucket(bucket.value),
        noshow_min_s,
        p,
    )
    write_outputs(results, booking_arrays, period, out)
    log.info(
        "analytics_computed",
        events=len(event_arrays),
        bookings=len(booking_arrays),
        sites=len(layout.sites),
        desks=len(layout.desk_ids),
        read_s=round(read_s, 3),
        total_s=round(time.perf_counter() - started, 3),
    )
    typer.echo(
        f"wrote {out}: {int(results.row_off[-1])} desk-bucket rows, "
        f"{len(booking_arrays)} bookings, "
        f"{len(results.peak)} site-days, {len(layout.sites)} sites"
    )


@app.command()
def run(
    from_date: FromDate,
    to_date: ToDate,
    site: Sites = None,
    noshow_min_s: NoshowMinS = 900,
    percentile: Percentile = "95",
    dsn: Dsn = None,
) -> None:
    """Compute docs/metrics.md from the database into the rollups, replacing the period's rows.

    Example: `hubsense analytics run --from 2026-03-01 --to 2026-04-01 --site ostersund-hq`
    """
    from hubsense.analytics.run import run_period

    period = _period(from_date, to_date)
    runs = run_period(_dsn(dsn), period, site or None, noshow_min_s, _percentile(percentile))
    for r in runs:
        typer.echo(
            f"{r.site}: {r.events} rows read, {r.bookings} bookings, "
            f"{r.desk_days} desk-days stored (read {r.read_s:.2f} s, "
            f"compute {r.compute_s:.2f} s, write {r.write_s:.2f} s)"
        )


@app.command()
def summary(
    from_date: FromDate,
    to_date: ToDate,
    site: Sites = None,
    percentile: Percentile = "95",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    dsn: Dsn = None,
) -> None:
    """Print the right-sizing summary of a period per site and for the organisation (rollups).

    Run `hubsense analytics run` for the period first. Example:
    `hubsense analytics summary --from 2026-03-01 --to 2026-04-01 --json`
    """
    import json

    from hubsense.analytics.summary import summarize

    from hubsense.db.connect import connect

    period = _period(from_date, to_date)
    with connect(_dsn(dsn)) as conn:
        rows = summarize(conn, period.start, period.end, _percentile(percentile), site or None)
    if as_json:
        typer.echo(json.dumps([row.as_dict() for row in rows], indent=2))
        return
    from rich.console import Console

    console = Console()
    console.print(
        f"Right-sizing {from_date} .. {to_date} (exclusive), p{percentile} of daily peaks"
    )
    from hubsense.analytics.summary_tables import summary_tables

    for table in summary_tables(rows):
        console.print(table)
    if rows and rows[-1].days_computed == 0:
        typer.echo(
            "no rollups for this period: run `hubsense analytics run` for it first", err=True
        )


@app.command()
def scheduler(
    interval_s: Annotated[
        float, typer.Option(min=1, help="Seconds between two scans for new data.")
    ] = 300,
    once: Annotated[
        bool, typer.Option("--once", help="Scan and recompute once, then exit.")
    ] = False,
    noshow_min_s: NoshowMinS = 900,
    percentile: Percentile = "95",
    dsn: Dsn = None,
) -> None:
    """Keep the rollups current: recompute only the days new events and bookings touch.

    Late events from nodes that were offline are picked up by when they arrived.
    Example: `hubsense analytics scheduler --interval-s 120`
    """
    from hubsense.analytics.scheduler import run_forever, tick

    from hubsense.settings import load_settings

    target, p = _dsn(dsn), _percentile(percentile)
    days = load_settings(None).retention.raw_alive_days
    if once:
        for plan in tick(target, noshow_min_s, p, raw_alive_days=days):
            typer.echo(
                f"{plan.site}: recomputed {plan.period.start} .. {plan.period.end} (exclusive)"
            )
        return
    run_forever(target, interval_s, noshow_min_s, p, raw_alive_days=days)


@app.command()
def decision(
    from_date: FromDate,
    to_date: ToDate,
    percentile: Percentile = "95",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    dsn: Dsn = None,
) -> None:
    """Print the region's decision figures of a period (docs/decisions.md), from the rollups.

    Run `hubsense analytics run` for the period first. Example:
    `hubsense analytics decision --from 2026-03-01 --to 2026-04-01 --json`
    """
    import json

    from hubsense.analytics.decision import NO_SENSOR_DATA, decide
    from hubsense.analytics.io.decision_read import period_inputs, stored_inventory

    from hubsense.db.connect import connect

    period = _period(from_date, to_date)
    with connect(_dsn(dsn)) as conn:
        inventory = stored_inventory(conn)
        days, passes, observed = period_inputs(conn, period.start, period.end)
    result = decide(
        inventory, days, passes, period.start, period.end, _percentile(percentile), observed
    )
    if as_json:
        typer.echo(json.dumps(result.as_json(), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    currency = result.currency or "(currency not set)"

    def money(value: float | None) -> str:
        return "not set" if value is None else f"{value:,.0f} {currency}"

    def num(value: float | None, unit: str = "") -> str:
        return "not set" if value is None else f"{value:,.0f}{unit}"

    def measured(s: Any, text: str) -> str:
        return "not measured" if s.not_measured else text

    table = Table(title=f"Decision {from_date} .. {to_date} (exclusive)")
    for column in ("site", "kind", "desk-days used", "cost", "per used desk-day",
                   "as day passes", "cheaper as passes", "lone weeks", "community day",
                   "commute avoided", "CO2 avoided"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("site", "kind") else "right")
    for s in result.sites:
        table.add_row(
            s.site,
            s.kind,
            measured(s, str(s.desk_days_used)),
            money(s.cost),
            measured(s, money(s.cost_per_used_desk_day)),
            measured(s, money(s.day_pass_equivalent)),
            measured(
                s,
                "-"
                if s.cheaper_as_day_passes is None
                else ("yes" if s.cheaper_as_day_passes else "no"),
            ),
            ", ".join(s.lone_weeks) or "-",
            s.community_day or "-",
            measured(s, num(s.commute_km_avoided, " km")),
            measured(s, num(s.co2_kg_avoided, " kg")),
        )
    Console().print(table)
    share = result.observed_share
    typer.echo(
        "data quality: no opening hours at sites with desks in the period"
        if share is None
        else f"data quality: the sensors saw {share:.1%} of the opening hours"
    )

    def total(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    labels = [m.month for s in result.sites for m in s.commute_by_month]
    for label in dict.fromkeys(labels):  # each month once, in order; all sites summed
        entries = [m for s in result.sites for m in s.commute_by_month if m.month == label]
        km = total([m.commute_km_avoided for m in entries])
        kg = total([m.co2_kg_avoided for m in entries])
        before = total([m.co2_kg_avoided_year_before for m in entries])
        change = f", {(kg - before) / before:+.0%}" if kg is not None and before else ""
        typer.echo(
            f"commute {label}: {num(km, ' km')} avoided, {num(kg, ' kg')} CO2; a year earlier "
            + ("no data" if before is None else f"{before:,.0f} kg{change}")
        )
    blind = [s.site for s in result.sites if s.not_measured]
    if blind:
        typer.echo(f"not measured ({NO_SENSOR_DATA}): {', '.join(blind)}")
    freed = (
        f"freed office area: not measured ({result.not_measured})"
        if result.not_measured
        else f"freed office area funds {num(result.freed_passes_per_month)} day passes a month"
    )
    typer.echo(
        f"{freed}; "
        f"budget {money(result.day_pass_budget_month)} a month; "
        f"{result.day_passes_bought} day passes bought in the period; "
        f"CO2 at {inventory.co2_kg_per_km} kg/km "
        f"({'set in the inventory' if inventory.is_set('co2_kg_per_km') else 'default, not set'})"
    )
