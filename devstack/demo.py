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

import signal
import threading
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import typer

from hubsense.errors import ConfigError, ServiceError

# Shipped in the wheel (firmware-config/examples), so the demo runs from an installed package.
EXAMPLE_INVENTORY = Path(str(files("hubsense.firmware_config") / "examples" / "inventory.yaml"))
# How long ingest may take to drain after the simulator stopped before we give up waiting.
DRAIN_TIMEOUT_S = 60.0
STATUS_EVERY_S = 2.0
ANALYTICS_EVERY_S = 30.0


@dataclass(frozen=True)
class _Options:
    backfill_s: int
    speed: float
    seed: int
    duration_s: float | None
    api_port: int
    via_edge: bool = False
    log_file: Path = Path(".hubsense/demo.log")


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
    api_port: Annotated[
        int, typer.Option("--api-port", help="Port of the API and hub pages (another if taken).")
    ] = 8080,
    keep_services: Annotated[
        bool,
        typer.Option("--keep-services", help="Leave PostgreSQL and Mosquitto running afterwards."),
    ] = False,
    via_edge: Annotated[
        bool,
        typer.Option(
            "--via-edge",
            help=(
                "Run the live part through real edge agents (`hubsense simulate --via-edge`), "
                "in real time: --speed then applies to nothing; the backfill stays simulated."
            ),
        ),
    ] = False,
) -> None:
    """Run the whole stack on simulated sensors and show what flows through it.

    Examples:

      hubsense demo                       # four weeks of history, then live at 60x

      hubsense demo --backfill 2d --duration 60 --keep-services
    """
    from hubsense.devstack.stack import services_down, services_up
    from hubsense.simulators.cli import parse_duration
    from rich.console import Console

    from hubsense.inventory.file import load_inventory
    from hubsense.logs import log_to_file
    from hubsense.settings import load_settings

    # Ctrl-C (SIGINT) stops the demo even when it was started with SIGINT ignored, as a
    # non-interactive shell starts background jobs: Python then installs no handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    console = Console(stderr=True, soft_wrap=True)
    path = inventory or EXAMPLE_INVENTORY
    if not path.exists():
        raise ConfigError(f"{path}: no such inventory file (pass --inventory FILE)")
    backfill_s = parse_duration(backfill)
    inv = load_inventory(path)

    settings = load_settings()
    settings.services.state_dir = state_dir
    # The console is for people (numbered steps, counts, the ready block); what the
    # components log goes to a file beside the servers' data.
    log_file = state_dir / "demo.log"
    log_to_file(log_file)
    console.print(f"logs go to {log_file}")
    console.print(f"[bold]1/5[/] starting PostgreSQL and Mosquitto in {state_dir}/ …")
    info = services_up(settings)
    dsn, mqtt_url = info["postgres"]["dsn"], info["mosquitto"]["url"]
    try:
        options = _Options(backfill_s, speed, seed, duration, api_port, via_edge, log_file)
        _run_stack(console, settings, inv, path, dsn, mqtt_url, options)
    finally:
        if not keep_services:
            services_down(settings)
            console.print("services stopped (data kept; `hubsense services up` restarts them)")
    if keep_services:
        from hubsense.devstack.demo_screen import print_where_to_look

        print_where_to_look(dsn, mqtt_url, state_dir)


@dataclass
class _Worker:
    """A component running in a thread of the demo, with its stop event and its error."""

    name: str
    thread: threading.Thread
    stop: threading.Event
    errors: list[BaseException]

    def halt(self, timeout_s: float = 60.0) -> None:
        self.stop.set()
        self.thread.join(timeout_s)

    def raise_error(self) -> None:
        if self.errors:
            raise ServiceError(f"{self.name} failed: {self.errors[0]}")


def _start(name: str, target: Any, *args: Any, **kwargs: Any) -> _Worker:
    """Start `target(*args, stop_event, **kwargs)` in a thread that keeps its exception."""
    stop = threading.Event()
    errors: list[BaseException] = []
    thread = threading.Thread(
        target=_guard(target, errors), args=(*args, stop), kwargs=kwargs, name=name
    )
    thread.start()
    return _Worker(name, thread, stop, errors)


def _run_stack(
    console: Any,
    settings: Any,
    inv: Any,
    path: Path,
    dsn: str,
    mqtt_url: str,
    options: _Options,
) -> None:
    from hubsense.api.app import run_api
    from hubsense.devstack.demo_screen import print_summary, ready_block
    from hubsense.devstack.ports import free_port, port_is_free
    from hubsense.ingest.service import run as run_ingest
    from hubsense.simulators.clock import SimClock, clock_site, describe, working_morning

    from hubsense.clock import wall_clock
    from hubsense.db.inventory_sync import apply_inventory

    plan = apply_inventory(dsn, inv)
    counts = inv.counts()
    changed = sum(sum(n.values()) for n in plan.counts().values())
    console.print(
        f"[bold]2/5[/] inventory {path.name}: {counts['sites']} sites, {counts['desks']} desks, "
        f"{counts['nodes']} nodes ({changed} rows changed)"
    )

    # Live time starts on the last working morning, so a demo at night or on a weekend
    # still shows hubs filling up; the API and its watcher follow the same clock.
    clock = None
    if not options.via_edge:
        site = clock_site(inv)
        clock = SimClock(working_morning(site, int(time.time() * 1000)), options.speed)
    ingest_ready, api_ready = threading.Event(), threading.Event()
    ingest = _start("ingest", run_ingest, settings, dsn=dsn, mqtt_url=mqtt_url, ready=ingest_ready)
    port = options.api_port if port_is_free(options.api_port) else free_port()
    api = _start(
        "api",
        run_api,
        settings,
        "127.0.0.1",
        port,
        dsn=dsn,
        mqtt_url=mqtt_url,
        ready=api_ready,
        clock=wall_clock if clock is None else clock.now,
    )
    workers = [ingest, api]
    try:
        for worker, ready in ((ingest, ingest_ready), (api, api_ready)):
            if not ready.wait(30):
                worker.raise_error()
                raise ServiceError(f"{worker.name} did not start within 30 s")
        base = f"http://127.0.0.1:{port}"
        key = _api_key(dsn)
        console.print(f"[bold]3/5[/] ingest subscribed to {mqtt_url}; API on {base}")
        live = "live in real time, through real edge agents"
        if clock is not None:
            live = (
                f"live from {describe(site, clock.start_ms, clock.speed)} "
                f"(the wall clock is reached in {clock.real_s_to_catch_up() / 60:.0f} min)"
            )
        console.print(
            f"[bold]4/5[/] simulating {options.backfill_s / 86400:g} days of history, then {live} …"
        )
        sim = _start(
            "simulator",
            _simulate,
            inv,
            settings,
            seed=options.seed,
            mqtt_url=mqtt_url,
            dsn=dsn,
            write_bookings=True,
            speed=1.0 if options.via_edge else options.speed,
            backfill_s=options.backfill_s,
            via_edge=options.via_edge,
            state_file=settings.services.state_dir / "simulator-seq.json",
            clock=clock,
        )
        workers.insert(0, sim)
        clock_line = None if clock is None else describe(site, clock.start_ms, clock.speed)
        live_start_s = time.time() if clock is None else clock.start_ms / 1000
        block = ready_block(base, inv, dsn, key, options, clock_line, live_start_s)
        console.print(block, highlight=False)
        _watch(console, dsn, workers, options.duration_s)
    finally:
        for worker in workers:
            if worker.name == "ingest":
                _wait_for_drain(dsn)  # the simulator stopped first: let ingest store the rest
            worker.halt()
    for worker in workers:
        worker.raise_error()
    _analytics_tick(dsn)
    final = _counts(dsn)
    console.print(f"[bold]5/5[/] done: {final.line()}")
    print_summary(console, dsn, options.backfill_s)
    typer.echo(final.line())


def _simulate(inv: Any, settings: Any, stop: threading.Event, **options: Any) -> None:
    from hubsense.simulators.run import publish

    publish(inv, settings, stop_event=stop, **options)


def _watch(console: Any, dsn: str, workers: list[_Worker], duration_s: float | None) -> None:
    """Print counts every few seconds and keep the rollups current, until told to stop."""
    started = last_analytics = time.monotonic()
    try:
        while all(worker.thread.is_alive() for worker in workers):
            time.sleep(STATUS_EVERY_S)
            console.print(f"  {_counts(dsn).line()}")
            if time.monotonic() - last_analytics >= ANALYTICS_EVERY_S:
                recomputed = _analytics_tick(dsn)
                console.print(f"  analytics: {recomputed} site periods recomputed")
                last_analytics = time.monotonic()
            if duration_s is not None and time.monotonic() - started >= duration_s:
                return
    except KeyboardInterrupt:
        console.print("stopping: simulated nodes send `stop`, ingest drains …")


def _api_key(dsn: str) -> str:
    from hubsense.api.keys import Role, create_key

    from hubsense.db.connect import connect

    with connect(dsn) as conn:
        return create_key(conn, Role.FACILITIES, name="demo").key


def _analytics_tick(dsn: str) -> int:
    from hubsense.analytics.scheduler import tick

    return len(tick(dsn))


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
