"""`hubsense simulate`: virtual nodes publishing realistic desk use, or CSV files of it.

Parses options, loads settings and the inventory, and calls `fleet` or
`export`; nothing else. Imports only typer and the standard library at module
level: paho, psycopg and rich are imported inside the command.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from hubsense.errors import ConfigError

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(\d+)([smhdw])$")


def parse_duration(text: str) -> int:
    """`28d`, `12h`, `90m`, `30s`, `2w` → seconds; a ConfigError says what is wrong."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ConfigError(
            f"duration {text!r}: write a positive number and a unit s, m, h, d or w (e.g. 28d)"
        )
    return int(match.group(1)) * _UNITS_S[match.group(2)]


def parse_instant(text: str) -> int:
    """An ISO-8601 instant with offset or Z → ms since the epoch."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ConfigError(f"instant {text!r}: not ISO-8601 ({error})") from None
    if moment.tzinfo is None:
        raise ConfigError(f"instant {text!r}: needs an offset or Z, e.g. 2026-03-02T08:00:00+01:00")
    return int(moment.timestamp() * 1000)


def command(
    inventory: Annotated[
        Path,
        typer.Option(
            "--inventory", "-i", help="Inventory YAML (docs/inventory.md) whose nodes to simulate."
        ),
    ],
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            help=(
                "Random seed; the same seed and period give byte-identical output. Default: "
                "random (printed)."
            ),
        ),
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            min=0.001,
            help=(
                "Live mode: simulated time runs N times real time (alives every heartbeat_s of "
                "simulated time). Without --backfill, timestamps then run ahead of the wall "
                "clock: start in the past with --start, or raise ingest's max_future_ms."
            ),
        ),
    ] = 1.0,
    backfill: Annotated[
        str | None,
        typer.Option(
            "--backfill",
            help=(
                "Publish this much history ending now (e.g. 28d, 12h) as fast as the broker "
                "takes it, then go live. With --speed N > 1 the last 2 h are played live at N "
                "times real time until they reach now, then time runs at real speed, so no "
                "event is stamped in the future."
            ),
        ),
    ] = None,
    backfill_only: Annotated[
        bool,
        typer.Option(
            "--backfill-only", help="Stop after the backfill (clean `stop` events, status offline)."
        ),
    ] = False,
    duration: Annotated[
        str | None,
        typer.Option(
            "--duration",
            help=(
                "Live mode: stop cleanly after this much simulated time (e.g. 8h). Default: "
                "until Ctrl-C."
            ),
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            help="Live mode: simulated start instant (ISO-8601 with offset). Default: now.",
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--end",
            help=(
                "End of the --backfill window (ISO-8601 with offset) instead of now, for "
                "reproducible history."
            ),
        ),
    ] = None,
    to_csv: Annotated[
        Path | None,
        typer.Option(
            "--to-csv",
            help=(
                "Write events.csv and bookings.csv (docs/metrics.md) into DIR, not to the broker; "
                "needs --from/--to or --backfill."
            ),
        ),
    ] = None,
    from_date: Annotated[
        str | None,
        typer.Option("--from", help="With --to-csv: first site-local date (YYYY-MM-DD)."),
    ] = None,
    to_date: Annotated[
        str | None,
        typer.Option("--to", help="With --to-csv: site-local date after the last one (exclusive)."),
    ] = None,
    mqtt_url: Annotated[
        str | None,
        typer.Option(
            "--mqtt-url",
            help=(
                "Broker URL such as mqtt://127.0.0.1:1883 or mqtts://user:pass@host:8883. "
                "Default: HUBSENSE_MQTT__URL or `hubsense services up`."
            ),
        ),
    ] = None,
    dsn: Annotated[
        str | None,
        typer.Option(
            "--dsn",
            help=(
                "Also write the generated bookings (table bookings, origin simulator) and the "
                "day passes bought at coworking sites (table day_passes) into this PostgreSQL "
                "database; its inventory must be applied."
            ),
        ),
    ] = None,
    write_bookings: Annotated[
        bool,
        typer.Option(
            "--write-bookings",
            help=(
                "Write bookings and day passes to the configured database (HUBSENSE_DB__DSN "
                "or `hubsense services up`) without naming --dsn."
            ),
        ),
    ] = False,
    state_file: Annotated[
        Path | None,
        typer.Option(
            "--state-file",
            help=(
                "Where each node's next seq is kept between runs so seqs are never reused. "
                "Default: STATE_DIR/simulator-seq.json."
            ),
        ),
    ] = None,
    faults: Annotated[
        bool,
        typer.Option(
            "--faults/--no-faults",
            help="Let nodes occasionally crash (no alives, will fires) or restart cleanly.",
        ),
    ] = True,
    via_edge: Annotated[
        bool,
        typer.Option(
            "--via-edge",
            help=(
                "Live mode: run each node as a real edge agent (mock GPIO pins pulsed by the "
                "simulated people, BTHome adverts fed to it, SQLite outbox under "
                "STATE_DIR/simulator-edge) instead of a virtual node. Real time only (--speed "
                "1); a --backfill still runs on the virtual nodes; --faults do not apply to "
                "the agents."
            ),
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON on stdout.")
    ] = False,
) -> None:
    """Simulate people at desks and the edge nodes that sense them.

    Every node of the inventory becomes a virtual edge agent that publishes
    contract-true events (state changes, alives, status with last will) for its
    desks, driven by realistic days: arrivals, lunch, meetings, office, hub and
    home days, bookings, walk-ins and no-shows, and day passes bought at open
    coworking sites by some of the people working from home (ids from the seed and
    date, so writing the same days again adds nothing).

    Examples:

      hubsense simulate -i inventory.yaml --seed 7
        (live, real time, on the broker of `hubsense services up`)

      hubsense simulate -i inventory.yaml --seed 7 --speed 60 --duration 1d
        (one simulated day in 24 minutes)

      hubsense simulate -i inventory.yaml --seed 7 --backfill 28d --write-bookings
        (four weeks of history, bookings and day passes into the database, then live)

      hubsense simulate -i inventory.yaml --seed 7 --via-edge
        (live, real time, through real edge agents: the code a Pi runs)

      hubsense simulate -i inventory.yaml --seed 7 --to-csv out --from 2026-03-02 --to 2026-03-09
        (events.csv and bookings.csv for `hubsense analytics compute`, no broker)
    """
    import secrets

    from hubsense.simulators import run

    from hubsense.inventory.file import load_inventory
    from hubsense.settings import load_settings

    chosen_seed = seed if seed is not None else secrets.randbelow(2**31)
    inv = load_inventory(inventory)
    if to_csv is not None:
        if via_edge:
            raise ConfigError("--via-edge: only when publishing live, not with --to-csv")
        summary = run.export_csv(
            inv,
            to_csv,
            seed=chosen_seed,
            dates=_dates(from_date, to_date) if from_date or to_date else None,
            window_s=parse_duration(backfill) if backfill else None,
            end_ms=parse_instant(end) if end else None,
            faults=faults,
        )
        _report(summary, chosen_seed, as_json)
        return
    if from_date or to_date:
        raise ConfigError("--from/--to: only with --to-csv (MQTT modes use --backfill and --start)")
    from hubsense.addresses import resolve_dsn, resolve_mqtt_url

    settings = load_settings()
    bookings = write_bookings or dsn is not None
    summary = run.publish(
        inv,
        settings,
        seed=chosen_seed,
        mqtt_url=mqtt_url or resolve_mqtt_url(settings),
        dsn=dsn or (resolve_dsn(settings) if bookings else None),
        write_bookings=bookings,
        speed=speed,
        backfill_s=parse_duration(backfill) if backfill else None,
        backfill_only=backfill_only,
        duration_s=parse_duration(duration) if duration else None,
        start_ms=parse_instant(start) if start else None,
        end_ms=parse_instant(end) if end else None,
        state_file=state_file,
        faults=faults,
        via_edge=via_edge,
    )
    _report(summary, chosen_seed, as_json)


def _dates(first: str | None, last: str | None) -> tuple[dt.date, dt.date]:
    if not (first and last):
        raise ConfigError("--from/--to: give both (site-local dates, --to exclusive)")
    try:
        start, stop = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    except ValueError as error:
        raise ConfigError(f"--from/--to: {error}") from None
    if stop <= start:
        raise ConfigError(f"--from/--to: {last} is not after {first}")
    return start, stop


def _report(summary: Any, seed: int, as_json: bool) -> None:
    import json

    if as_json:
        fields = {
            "events": summary.events,
            "messages": summary.messages,
            "bookings": summary.bookings,
            "day_passes": summary.day_passes,
        }
        typer.echo(json.dumps({**fields, "nodes": summary.nodes, "seed": seed}))
    else:
        typer.echo(f"{summary.line()} (seed {seed})")
