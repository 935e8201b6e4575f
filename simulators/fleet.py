"""Run virtual nodes against a real broker: backfill history, then live time.

The I/O side of the simulator: it reads the clock (live mode only) and talks
to the broker through `publisher`; what happens when is decided by the pure
`world` and `node` modules. Backfill publishes past events as fast as the
broker acknowledges them; live mode plays simulated time at `speed` times real
time, sends status every heartbeat, and acts out outages on the connection
(a crash drops the TCP connection so the broker fires the last will; a clean
restart sends `stop` and an offline status, then reconnects).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hubsense.simulators.bookings import SimBooking
from hubsense.simulators.clock import SimClock
from hubsense.simulators.messages import event_batches, offline_payload, status_payload
from hubsense.simulators.node import SimEvent, VirtualNode
from hubsense.simulators.publisher import NodeLink
from hubsense.simulators.world import Faults, World

from hubsense.inventory.model import Inventory, Node
from hubsense.logs import get_logger
from hubsense.mqtt_url import parse_mqtt_url
from hubsense.wire import EventType

log = get_logger(__name__)

BookingSink = Callable[[list[SimBooking]], None]
# Day passes as (pass_id, site, date), written like bookings: for each day once it is planned.
DayPassSink = Callable[[list[tuple[str, str, dt.date]]], None]
Progress = Callable[[int], None]  # called with the number of events just published

# Real seconds between live ticks: events are stamped with their simulated time anyway,
# this only bounds how late they leave; short enough for --speed 60 heartbeats (1 s).
TICK_S = 0.1
PLAN_AHEAD_MS = 36 * 3600 * 1000  # bookings are made ahead: plan today and tomorrow


@dataclass
class Summary:
    events: int = 0
    messages: int = 0
    bookings: int = 0
    nodes: int = 0
    day_passes: int = 0

    def line(self) -> str:
        return (
            f"simulated {self.nodes} nodes: {self.events} events in {self.messages} messages, "
            f"{self.bookings} bookings, {self.day_passes} day passes"
        )


@dataclass
class _Member:
    node: Node
    site: str
    virtual: VirtualNode
    link: NodeLink
    fed_through: dt.date | None = None
    next_status_ms: int = 0
    rng: random.Random = field(default_factory=random.Random)


class Fleet:
    """Every node of an inventory as a virtual node with its own MQTT connection."""

    def __init__(
        self,
        world: World,
        mqtt_url: str,
        seq_start: dict[str, int] | None = None,
        bookings_sink: BookingSink | None = None,
        day_pass_sink: DayPassSink | None = None,
    ) -> None:
        self.world = world
        self.summary = Summary()
        self._sink = bookings_sink
        self._pass_sink = day_pass_sink
        self._booked_days: set[dt.date] = set()
        url = parse_mqtt_url(mqtt_url)
        starts = seq_start or {}
        self.members: dict[str, _Member] = {}
        for site in world.inventory.sites:
            for node in site.nodes:
                self.members[node.id] = _Member(
                    node=node,
                    site=site.id,
                    virtual=world.make_node(node, starts.get(node.id, 0)),
                    link=NodeLink(url, site.id, node.id, offline_payload(node.id)),
                    rng=random.Random(f"{world.seed}:status:{node.id}"),
                )
        self.summary.nodes = len(self.members)

    def next_seqs(self) -> dict[str, int]:
        """The seq each node would use next (persist it so seqs are never reused)."""
        return {node_id: m.virtual.next_seq for node_id, m in self.members.items()}

    def connect(self) -> None:
        for member in self.members.values():
            member.link.connect()

    def close(self, ts_ms: int) -> None:
        """Clean shutdown at ts_ms: `stop` from running nodes, offline status, DISCONNECT."""
        for member in self.members.values():
            if member.virtual.running and member.link.is_open:
                self._publish(member, member.virtual.stop(ts_ms))
                member.link.close()

    def backfill(self, start_ms: int, end_ms: int, progress: Progress | None = None) -> None:
        """Start every node at start_ms and publish all it does until end_ms."""
        for member in self.members.values():
            self._feed(member, start_ms, end_ms)
            events = member.virtual.start(start_ms)
            events.extend(member.virtual.advance(end_ms))
            self._publish(member, events, progress)
            if member.virtual.running:
                self._status(member, end_ms)
                member.link.flush()
            else:  # in an outage at the end of the history: off until it comes back live
                self._go_off(member, clean=bool(events) and events[-1].type is EventType.STOP)
        self._book(self.world_days(start_ms, end_ms))
        log.info("sim_backfill_done", events=self.summary.events, messages=self.summary.messages)

    def run_live(
        self,
        start_ms: int,
        speed: float,
        stop_event: threading.Event,
        until_ms: int | None = None,
        on_tick: Callable[[], None] | None = None,
        catch_up: bool = False,
        clock: SimClock | None = None,
    ) -> int:
        """Play simulated time from start_ms at `speed` times real time.

        Runs until stop_event is set or until_ms; nodes not started yet start at start_ms.
        With `catch_up` the simulated clock never passes the wall clock: it runs at
        `speed` until it reaches now, then in real time (ingest rejects events stamped
        too far in the future). A given `clock` (the demo's, which the API follows too)
        replaces start_ms, speed and catch_up. Returns the simulated end instant.
        """
        clock = clock or SimClock(start_ms, speed, catch_up=catch_up)
        start_ms = clock.start_ms
        for member in self.members.values():
            if member.virtual.now_ms is None:
                self._feed(member, start_ms, start_ms + 1)
                self._publish(member, member.virtual.start(start_ms))
        clock.start()
        now_ms = start_ms
        while not stop_event.is_set():
            now_ms = clock.now_ms()
            if until_ms is not None and now_ms >= until_ms:
                now_ms = until_ms
                self._tick(now_ms)
                break
            self._tick(now_ms)
            if on_tick is not None:
                on_tick()
            stop_event.wait(TICK_S)
        self.close(now_ms)
        return now_ms

    def world_days(self, start_ms: int, end_ms: int) -> list[dt.date]:
        days: set[dt.date] = set()
        for member in self.members.values():
            days.update(self.world.node_days(member.node, start_ms, end_ms)[1:])
        return sorted(days)

    def _tick(self, now_ms: int) -> None:
        self._book(self.world_days(now_ms, now_ms + PLAN_AHEAD_MS))
        for member in self.members.values():
            self._feed(member, now_ms, now_ms + PLAN_AHEAD_MS)
            was_running = member.virtual.running
            events = member.virtual.advance(now_ms)
            if member.virtual.running and not was_running and not member.link.is_open:
                member.link.connect()
                log.info("sim_node_back", node=member.node.id)
            self._publish(member, events)
            if member.virtual.running and now_ms >= member.next_status_ms:
                self._status(member, now_ms)
            if was_running and not member.virtual.running:
                self._go_off(member, clean=bool(events) and events[-1].type is EventType.STOP)

    def _go_off(self, member: _Member, clean: bool) -> None:
        # What the node sent before going off was in its outbox: deliver it first.
        member.link.flush()
        if clean:
            member.link.close()
        else:
            member.link.kill()
        log.info("sim_node_off", node=member.node.id, clean=clean)

    def _feed(self, member: _Member, start_ms: int, end_ms: int) -> None:
        days = self.world.node_days(member.node, start_ms, end_ms)
        if member.fed_through is not None:
            days = [d for d in days if d > member.fed_through]
        if days:
            self.world.feed(member.virtual, member.node, days, start_ms)
            member.fed_through = days[-1]

    def _book(self, days: list[dt.date]) -> None:
        new = [d for d in days if d not in self._booked_days]
        if not new:
            return
        self._booked_days.update(new)
        bookings = self.world.bookings(new)
        self.summary.bookings += len(bookings)
        if self._sink is not None and bookings:
            self._sink(bookings)
        passes = self.world.day_passes(new)
        self.summary.day_passes += len(passes)
        if self._pass_sink is not None and passes:
            self._pass_sink(passes)

    def _publish(
        self, member: _Member, events: list[SimEvent], progress: Progress | None = None
    ) -> None:
        for payload, count in event_batches(member.node.id, events):
            member.link.publish_events(payload)
            self.summary.messages += 1
            self.summary.events += count
            if progress is not None:
                progress(count)

    def _status(self, member: _Member, now_ms: int) -> None:
        virtual = member.virtual
        started = virtual.started_ms if virtual.started_ms is not None else now_ms
        ages: dict[str, float | None] = {}
        for sensor in member.node.sensors:
            changed = virtual.changed_ms.get(sensor.desk)
            since = changed if changed is not None and changed >= started else started
            ages[sensor.key] = round(max(0, now_ms - since) / 1000, 3)
        payload = status_payload(
            member.node.id,
            now_ms,
            (now_ms - started) / 1000,
            ages,
            member.rng.uniform(42.0, 58.0),
        )
        member.link.publish_status(payload)
        member.next_status_ms = now_ms + member.node.heartbeat_s * 1000


def backfill(
    inventory: Inventory,
    mqtt_url: str,
    *,
    duration_s: int,
    seed: int,
    end_ms: int | None = None,
    seq_start: dict[str, int] | None = None,
    faults: Faults = Faults(),
    bookings_sink: BookingSink | None = None,
    progress: Progress | None = None,
) -> tuple[Summary, dict[str, int]]:
    """Publish `duration_s` of history ending at end_ms (default now).

    Returns the summary and each node's next seq.
    """
    end = end_ms if end_ms is not None else int(time.time() * 1000)
    fleet = Fleet(World(inventory, seed, faults=faults), mqtt_url, seq_start, bookings_sink)
    fleet.connect()
    try:
        fleet.backfill(end - duration_s * 1000, end, progress)
    finally:
        fleet.close(end)
    return fleet.summary, fleet.next_seqs()


def run_live(
    inventory: Inventory,
    mqtt_url: str,
    *,
    seed: int,
    stop_event: threading.Event,
    speed: float = 1.0,
    start_ms: int | None = None,
    duration_s: float | None = None,
    seq_start: dict[str, int] | None = None,
    faults: Faults = Faults(),
    bookings_sink: BookingSink | None = None,
) -> tuple[Summary, dict[str, int]]:
    """Run live from start_ms (default now) until stop_event is set or duration_s simulated."""
    start = start_ms if start_ms is not None else int(time.time() * 1000)
    fleet = Fleet(World(inventory, seed, faults=faults), mqtt_url, seq_start, bookings_sink)
    fleet.connect()
    until = None if duration_s is None else start + int(duration_s * 1000)
    fleet.run_live(start, speed, stop_event, until)
    return fleet.summary, fleet.next_seqs()
