"""`hubsense demo`: the whole stack on simulated sensors, on one machine.

Starts the private PostgreSQL and Mosquitto (`hubsense services`), migrates,
applies the example inventory, runs an ingest worker, backfills weeks of
simulated history and then keeps simulating live, printing what happened
(events stored, dead letters, nodes online) and where to look. Ctrl-C (or
`--duration`) stops the simulator first (its nodes send `stop`), lets ingest
drain and commit, then stops the servers unless `--keep-services`.

Orchestration only: each step is a component's own programmatic entry.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from hubsense.errors import ConfigError, ServiceError

EXAMPLE_INVENTORY = Path(__file__).resolve().parents[1] / "firmware-config/examples/inventory.yaml"
# How long ingest may take to drain after the simulator stopped before we give up waiting.
DRAIN_TIMEOUT_S = 60.0


@dataclass
class _Counts:
    events: int = 0
    dead_letters: int = 0
    nodes_online: int = 0
    nodes: int = 0
    bookings: int = 0

    def line(self) -> str:
        return (
            f"{self.events:,} events stored · {self.dead_letters} dead letters · "
            f"{self.nodes_online}/{self.nodes} nodes online · {self.bookings:,} bookings"
        )


def command(
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            "-i",
            help="Inventory YAML to simulate. Default: firmware-config/examples/inventory.yaml.",
        ),
    ] = None,
    state_dir: Annotated[
        Path,
        typer.Option("--state-dir", help="Where the private servers keep their data."),
    ] = Path(".hubsense"),
    backfill: Annotated[
        str,
        typer.Option("--backfill", help="History to simulate before going live: 28d, 7d, 12h."),
    ] = "28d",
    speed: Annotated[
        float,
        typer.Option("--speed", min=0.001, help="Live simulated time runs N times real time."),
    ] = 60.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated people.")] = 2026,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            help="Stop after this many real seconds of live simulation (default: Ctrl-C).",
        ),
    ] = None,
    keep_services: Annotated[
        bool,
        typer.Option("--keep-services", help="Leave PostgreSQL and Mosquitto running afterwards."),
    ] = False,
) -> None:
    """Run the whole stack on simulated sensors and show what flows through it.

    Examples:

      hubsense demo                       # four weeks of history, then live at 60x

      hubsense demo --backfill 2d --duration 60 --keep-services
    """
    from rich.console import Console

    from hubsense.inventory_file import load_inventory
    from hubsense.services.stack import services_down, services_up
    from hubsense.settings import load_settings
    from hubsense.simulators.cli import parse_duration

    console = Console(stderr=True)
    path = inventory or EXAMPLE_INVENTORY
    if not path.exists():
        raise ConfigError(f"{path}: no such inventory file (pass --inventory FILE)")
    backfill_s = parse_duration(backfill)
    inv = load_inventory(path)

    settings = load_settings()
    settings.services.state_dir = state_dir
    console.print(f"[bold]1/4[/] starting PostgreSQL and Mosquitto in {state_dir}/ …")
    info = services_up(settings)
    dsn, mqtt_url = info["postgres"]["dsn"], info["mosquitto"]["url"]
    try:
        _run_stack(console, settings, inv, path, dsn, mqtt_url, backfill_s, speed, seed, duration)
    finally:
        if not keep_services:
            services_down(settings)
            console.print("services stopped (data kept; `hubsense services up` restarts them)")
    if keep_services:
        _print_where_to_look(dsn, mqtt_url, state_dir)


def _run_stack(
    console: Any,
    settings: Any,
    inv: Any,
    path: Path,
    dsn: str,
    mqtt_url: str,
    backfill_s: int,
    speed: float,
    seed: int,
    duration: float | None,
) -> None:
    from hubsense.db.inventory_sync import apply_inventory
    from hubsense.ingest.service import run as run_ingest
    from hubsense.simulators.run import publish

    plan = apply_inventory(dsn, inv)
    counts = inv.counts()
    changed = sum(sum(n.values()) for n in plan.counts().values())
    console.print(
        f"[bold]2/4[/] inventory {path.name}: {counts['sites']} sites, {counts['desks']} desks, "
        f"{counts['nodes']} nodes ({changed} rows changed)"
    )

    ingest_stop, ingest_ready = threading.Event(), threading.Event()
    ingest_errors: list[BaseException] = []
    ingest = threading.Thread(
        target=_guard(run_ingest, ingest_errors),
        args=(settings, ingest_stop),
        kwargs={"dsn": dsn, "mqtt_url": mqtt_url, "ready": ingest_ready},
        name="ingest",
    )
    ingest.start()
    if not ingest_ready.wait(30):
        ingest_stop.set()
        raise ServiceError(f"ingest did not subscribe within 30 s: {ingest_errors or 'no error'}")
    console.print(
        f"[bold]3/4[/] ingest subscribed to {mqtt_url}; backfilling {backfill_s / 86400:g} days …"
    )

    sim_stop = threading.Event()
    sim_errors: list[BaseException] = []
    sim = threading.Thread(
        target=_guard(publish, sim_errors),
        args=(inv, settings),
        kwargs={
            "seed": seed,
            "mqtt_url": mqtt_url,
            "dsn": dsn,
            "write_bookings": True,
            "speed": speed,
            "backfill_s": backfill_s,
            "stop_event": sim_stop,
            "state_file": settings.services.state_dir / "simulator-seq.json",
        },
        name="simulator",
    )
    sim.start()
    live_announced = False
    started = time.monotonic()
    try:
        while sim.is_alive() and ingest.is_alive():
            time.sleep(2.0)
            now = _counts(dsn)
            if not live_announced and now.nodes_online:
                live_announced = True
            console.print(f"  {now.line()}")
            if duration is not None and time.monotonic() - started >= duration:
                break
    except KeyboardInterrupt:
        console.print("stopping: simulated nodes send `stop`, ingest drains …")
    finally:
        sim_stop.set()
        sim.join(60)
        _wait_for_drain(dsn)
        ingest_stop.set()
        ingest.join(60)
    for errors, what in ((sim_errors, "simulator"), (ingest_errors, "ingest")):
        if errors:
            raise ServiceError(f"{what} failed: {errors[0]}")
    final = _counts(dsn)
    console.print(f"[bold]4/4[/] done: {final.line()}")
    typer.echo(final.line())


def _guard(target: Any, errors: list[BaseException]) -> Any:
    """Run `target` in a thread and keep its exception for the main thread to report."""

    def run(*args: Any, **kwargs: Any) -> None:
        try:
            target(*args, **kwargs)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    return run


def _counts(dsn: str) -> _Counts:
    from hubsense.db.connect import connect

    with connect(dsn) as conn:
        row = conn.execute(
            """
            SELECT (SELECT count(*) FROM events),
                   (SELECT count(*) FROM dead_letters),
                   (SELECT count(*) FROM node_status WHERE online),
                   (SELECT count(*) FROM nodes WHERE retired_at IS NULL),
                   (SELECT count(*) FROM bookings)
            """
        ).fetchone()
    assert row is not None
    return _Counts(*row)


def _wait_for_drain(dsn: str) -> None:
    """Wait until the stored event count stops growing (ingest caught up with the broker)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    last = -1
    while time.monotonic() < deadline:
        current = _counts(dsn).events
        if current == last:
            return
        last = current
        time.sleep(1.5)


def _print_where_to_look(dsn: str, mqtt_url: str, state_dir: Path) -> None:
    typer.echo(
        "\nWhere to look:\n"
        f"  database   psql '{dsn}'   (tables events, node_status, bookings, dead_letters)\n"
        f"  broker     mosquitto_sub -L '{mqtt_url}/hubsense/v1/#' -v\n"
        f"  state      {state_dir}/services.json\n"
        f"  stop with  hubsense services down --state-dir {state_dir}\n"
    )
