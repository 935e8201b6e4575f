"""What `hubsense simulate` does, as functions the CLI and the demo call.

`export_csv` writes docs/metrics.md files without a broker; `publish` backfills
and/or runs live against a broker, keeps each node's next seq in a state file
(seqs survive runs, docs/wire.md) and, when asked, writes bookings and the day passes
bought at co-working sites to the database, through the stores the booking tools' and
`hubsense daypasses import`'s paths use.
Owns the process-level concerns: progress on stderr, signals, the state file.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hubsense.simulators.bookings import SimBooking
from hubsense.simulators.clock import SimClock
from hubsense.simulators.csv_export import write_bookings, write_day_passes, write_events
from hubsense.simulators.fleet import BookingSink, DayPassSink, Fleet, Summary
from hubsense.simulators.world import NO_FAULTS, Faults, World

from hubsense.errors import ConfigError
from hubsense.inventory.model import Inventory
from hubsense.logs import get_logger
from hubsense.settings import Settings
from hubsense.site_time import local_dates, wall_ms

log = get_logger(__name__)

SEQ_SAVE_EVERY_S = 10.0
# After a backfill ending now, this much of it is played live at --speed (2 h at 60x: 2 min).
CATCH_UP_S = 2 * 3600
# With --via-edge, each real agent's outbox and live view live in STATE_DIR/simulator-edge/NODE.
EDGE_STATE_DIR = "simulator-edge"


def export_csv(
    inventory: Inventory,
    directory: Path,
    *,
    seed: int,
    dates: tuple[dt.date, dt.date] | None = None,
    window_s: int | None = None,
    end_ms: int | None = None,
    faults: bool = True,
) -> Summary:
    """Write events.csv, bookings.csv and daypasses.csv for local dates [from, to) or a
    window ending at end_ms (passes for every local date the window touches)."""
    if dates is None and window_s is None:
        raise ConfigError("--to-csv: give the period with --from/--to or --backfill")
    world = World(inventory, seed, faults=Faults() if faults else NO_FAULTS)
    directory.mkdir(parents=True, exist_ok=True)
    per_node = []
    days: set[dt.date] = set()
    for site in inventory.sites:
        if dates is not None:
            start, end = wall_ms(dates[0], 0, site.zoneinfo), wall_ms(dates[1], 0, site.zoneinfo)
        else:
            end = end_ms if end_ms is not None else int(time.time() * 1000)
            start = end - (window_s or 0) * 1000
        for node in site.nodes:
            events, _ = world.node_events(node, start, end)
            per_node.append((node.id, events))
        days.update(local_dates(start, end, site.zoneinfo))
    bookings = _overlapping(world.bookings(sorted(days)), inventory, dates, window_s, end_ms)
    summary = Summary(nodes=len(per_node), bookings=len(bookings))
    summary.events = write_events(directory / "events.csv", per_node)
    write_bookings(directory / "bookings.csv", inventory, bookings)
    pass_days = sorted(d for d in days if dates is None or dates[0] <= d < dates[1])
    summary.day_passes = write_day_passes(directory / "daypasses.csv", world.day_passes(pass_days))
    log.info(
        "sim_csv_written", directory=str(directory), events=summary.events, bookings=len(bookings)
    )
    return summary


def _overlapping(
    bookings: list[SimBooking],
    inventory: Inventory,
    dates: tuple[dt.date, dt.date] | None,
    window_s: int | None,
    end_ms: int | None,
) -> list[SimBooking]:
    """Bookings that overlap each site's period (whole local dates, or the window)."""
    out = []
    for booking in bookings:
        site = inventory.site_by_id[booking.site]
        if dates is not None:
            start, end = wall_ms(dates[0], 0, site.zoneinfo), wall_ms(dates[1], 0, site.zoneinfo)
        else:
            end = end_ms if end_ms is not None else booking.end_ms
            start = end - (window_s or 0) * 1000
        if booking.start_ms < end and booking.end_ms > start:
            out.append(booking)
    return out


def publish(
    inventory: Inventory,
    settings: Settings,
    *,
    seed: int,
    mqtt_url: str,
    dsn: str | None = None,
    write_bookings: bool = False,
    speed: float = 1.0,
    backfill_s: int | None = None,
    backfill_only: bool = False,
    duration_s: int | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    state_file: Path | None = None,
    faults: bool = True,
    stop_event: threading.Event | None = None,
    via_edge: bool = False,
    clock: SimClock | None = None,
) -> Summary:
    """Backfill and/or run live against the broker; returns what was published.

    With `via_edge` the live part runs real edge agents (`edge_driver`); the
    backfill stays on the virtual nodes. A `clock` (the demo's) sets where live time
    starts and how fast it runs: the backfill ends at its start. `mqtt_url` and `dsn`
    come resolved (only CLIs look for servers); `dsn` is needed with `write_bookings`,
    which writes the day passes too (the inventory's coworking sites must be applied).
    """
    if via_edge and not backfill_only and speed != 1:
        raise ConfigError(
            f"--via-edge: real edge agents run in real time only (--speed {speed:g} given); "
            "use --speed 1, or leave out --via-edge"
        )
    if via_edge and start_ms is not None:
        raise ConfigError("--via-edge: real edge agents stamp events with now; leave out --start")
    if clock is not None:
        if via_edge:
            raise ConfigError(
                "--via-edge: real edge agents run on the wall clock, not a simulated one"
            )
        end_ms = start_ms = clock.start_ms
        speed = clock.speed
    url = mqtt_url
    seq_path = state_file or settings.services.state_dir / "simulator-seq.json"
    sinks = _database_sinks(dsn, inventory) if write_bookings else None
    world = World(inventory, seed, faults=Faults() if faults else NO_FAULTS)
    fleet = Fleet(
        world,
        url,
        read_seqs(seq_path),
        sinks[0] if sinks else None,
        sinks[1] if sinks else None,
    )
    stop = stop_event or threading.Event()
    try:
        fleet.connect()
        catch_up = False
        if backfill_s is not None:
            end = end_ms if end_ms is not None else int(time.time() * 1000)
            live_start = end
            if speed > 1 and not backfill_only and end_ms is None:
                # History ending now, then accelerated live: replay the last part of the
                # window live at `speed` until it reaches now, then go on in real time, so
                # no event is stamped in the future.
                live_start = end - min(backfill_s, CATCH_UP_S) * 1000
                catch_up = True
            _backfill_with_progress(fleet, end - backfill_s * 1000, live_start)
            save_seqs(seq_path, fleet.next_seqs())
        else:
            live_start = start_ms if start_ms is not None else int(time.time() * 1000)
        if backfill_only:
            fleet.close(live_start)
        elif via_edge:
            fleet.close(live_start)  # the virtual nodes hand over to the real agents
            for member in fleet.members.values():
                if member.link.is_open:  # connected but never started (no backfill)
                    member.link.close()
            until = None if duration_s is None else live_start + duration_s * 1000
            with _stop_on_signals(stop):
                _run_via_edge(fleet, url, seq_path.parent / EDGE_STATE_DIR, live_start, stop, until)
        else:
            until = None if duration_s is None else live_start + duration_s * 1000
            with _stop_on_signals(stop):
                log.info("sim_live", nodes=len(fleet.members), speed=speed, seed=seed)
                saver = _periodic_saver(fleet, seq_path)
                fleet.run_live(
                    live_start, speed, stop, until, saver, catch_up=catch_up, clock=clock
                )
    finally:
        save_seqs(seq_path, fleet.next_seqs())
        if sinks is not None:
            sinks[2]()
    return fleet.summary


def _run_via_edge(
    fleet: Fleet, url: str, state_dir: Path, start_ms: int, stop: threading.Event, until: int | None
) -> None:
    """Live time on real edge agents, their sensors driven by the fleet's simulated people.

    The agents keep their own seqs in their outboxes under state_dir (a fresh outbox
    starts from the clock, far above the virtual nodes' seqs, so the two never meet).
    """
    from hubsense.simulators.edge_driver import EdgeFleet, world_presence
    from hubsense.simulators.fleet import PLAN_AHEAD_MS

    world = fleet.world
    edge = EdgeFleet(
        world.inventory,
        url,
        state_dir,
        world_presence(world),
        seed=world.seed,
    )

    def book_ahead(now_ms: int) -> None:
        fleet._book(fleet.world_days(now_ms, now_ms + PLAN_AHEAD_MS))

    log.info("sim_live_via_edge", nodes=len(edge.nodes), state_dir=str(state_dir))
    book_ahead(start_ms)
    try:
        edge.run(stop, until, book_ahead)
    finally:
        fleet.summary.events += edge.events_stored()


def read_seqs(path: Path) -> dict[str, int]:
    """Each node's next seq from the state file; empty when there is none yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ConfigError(f"simulator state {path}: unreadable ({error})") from None
    return {str(node): int(seq) for node, seq in data.get("next_seq", {}).items()}


def save_seqs(path: Path, seqs: dict[str, int]) -> None:
    """Write the state file atomically (a crash mid-write must not reset seqs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"next_seq": seqs}, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def _periodic_saver(fleet: Fleet, path: Path) -> Any:
    last = [time.monotonic()]

    def save() -> None:
        if time.monotonic() - last[0] >= SEQ_SAVE_EVERY_S:
            save_seqs(path, fleet.next_seqs())
            last[0] = time.monotonic()

    return save


def _database_sinks(dsn: str | None, inventory: Inventory) -> tuple[BookingSink, DayPassSink, Any]:
    """Writers of bookings and day passes on one connection, and its close.

    Day passes go through `hubsense.daypasses` as an import does: checked against the
    stored sites, idempotent by pass_id. So the inventory's coworking sites must be in the
    database (`hubsense inventory apply`, which the demo does first); checked here, before
    anything is simulated, with one line saying what to run.
    """
    from hubsense.bookings.store import upsert_bookings

    from hubsense.daypasses import parse_rows, site_kinds, store
    from hubsense.db.connect import connect
    from hubsense.inventory.model import SiteKind

    if dsn is None:
        raise ConfigError("--write-bookings: needs the database (--dsn, or HUBSENSE_DB__DSN)")
    conn = connect(dsn, autocommit=True)
    kinds = site_kinds(conn)
    coworking = [s.id for s in inventory.sites if s.kind is SiteKind.COWORKING]
    missing = [site for site in coworking if kinds.get(site) != "coworking"]
    if missing:
        conn.close()
        raise ConfigError(
            f"--write-bookings: coworking site {', '.join(missing)} is not in the database, so "
            "its day passes cannot be stored; apply the inventory first "
            "(`hubsense inventory apply FILE`)"
        )

    def bookings_sink(bookings: list[SimBooking]) -> None:
        upsert_bookings(conn, booking_rows(bookings), origin="simulator")

    def passes_sink(passes: list[tuple[str, str, dt.date]]) -> None:
        rows = [{"pass_id": p, "site": site, "date": day.isoformat()} for p, site, day in passes]
        store(conn, parse_rows(rows, "simulator", kinds, first_line=1))

    return bookings_sink, passes_sink, conn.close


def booking_rows(bookings: list[SimBooking]) -> list[Any]:
    """SimBookings as `hubsense.bookings.store.BookingRow`s (UTC instants)."""
    from hubsense.bookings.store import BookingRow

    utc = dt.UTC
    return [
        BookingRow(
            booking_id=b.booking_id,
            site_id=b.site,
            desk_id=b.desk,
            start_at=dt.datetime.fromtimestamp(b.start_ms / 1000, tz=utc),
            end_at=dt.datetime.fromtimestamp(b.end_ms / 1000, tz=utc),
        )
        for b in bookings
    ]


def _backfill_with_progress(fleet: Fleet, start_ms: int, end_ms: int) -> None:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,.0f} events"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("backfill", total=None)
        fleet.backfill(start_ms, end_ms, lambda count: progress.advance(task, count))


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set the stop event so nodes send `stop` and go offline cleanly."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread; the caller sets stop_event itself
        return
    saved = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
