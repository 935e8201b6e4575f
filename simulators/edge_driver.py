"""Drive real edge agents from simulated people: `hubsense simulate --via-edge`.

Each node of the inventory runs as a real `hubsense.edge` agent (`AgentThread`:
gpiozero mock pins, the desk state machine, the SQLite outbox, paho), so the
demo exercises the same code as a Pi. What the people do comes from the pure
`people`/`world` modules; this module only turns presence into what sensors
would see:

- a PIR sees motion, not presence: while someone sits at the desk its pin is
  pulsed high for `pulse_ms` every 30-60 s, once on arrival and once on
  getting up; the agent's hold keeps the desk occupied between pulses;
- a BTHome occupancy sensor advertises 1/0 on each change and its current
  value every `advert_every_ms`, encrypted with its bindkey when it has one,
  with a packet counter that grows.

Two halves: `SensorSchedule` is pure (no clock, no I/O; time and randomness
are parameters) and says which pin/advert action is due when; `EdgeFleet`
reads the clock, starts the agents and performs the actions. Faults (crashes,
restarts) are the virtual nodes' business: real agents here run cleanly.
"""

from __future__ import annotations

import heapq
import random
import threading
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, NamedTuple

from hubsense.simulators.world import World, merge

from hubsense.inventory.model import BthomeSensor, GpioPirSensor, Inventory, Node, Sensor
from hubsense.logs import get_logger

log = get_logger(__name__)

Interval = tuple[int, int]
# (node, start_ms, end_ms) → per desk, presence intervals overlapping the window.
PresenceSource = Callable[[Node, int, int], dict[str, list[Interval]]]

# Real seconds between driver passes; gpiozero samples pins at 2 Hz, so 0.1 s is ample.
TICK_S = 0.1
# Presence is fed to the schedule this far ahead (an hour of pulses per desk is ~100 actions).
FEED_AHEAD_MS = 3600 * 1000


@dataclass(frozen=True, slots=True)
class Timing:
    # An HC-SR501's output stays high at least 2.5 s per trigger; gpiozero (2 Hz) needs > 0.5 s.
    pulse_ms: int = 2_500
    # Someone at a desk moves noticeably every half minute to a minute.
    motion_every_ms: tuple[int, int] = (30_000, 60_000)
    # BTHome sensors re-send their state periodically (SNZB-06P style: about once a minute).
    advert_every_ms: int = 60_000


class ActionKind(IntEnum):
    # Order at the same instant: a pin falls before it rises again, adverts last.
    PIN_LOW = 0
    PIN_HIGH = 1
    ADVERT = 2


class Action(NamedTuple):
    ts_ms: int
    kind: ActionKind
    sensor_key: str
    value: int  # ADVERT: occupancy 0/1; pins: unused (1)


def present_at(intervals: list[Interval], ts_ms: int) -> bool:
    """Whether ts_ms falls in one of the sorted, disjoint [start, end) intervals."""
    index = bisect_right(intervals, (ts_ms, 2**62)) - 1
    return index >= 0 and intervals[index][0] <= ts_ms < intervals[index][1]


def pir_pulses(interval: Interval, rng: random.Random, timing: Timing) -> list[Interval]:
    """High spans of a PIR pin for one stay at the desk: arrival, every 30-60 s, getting up."""
    start, end = interval
    last = max(start, end - timing.pulse_ms)  # the one that ends as they leave
    pulses = []
    t = start
    while t < last:
        pulses.append((t, t + timing.pulse_ms))
        t += rng.randint(*timing.motion_every_ms)
    pulses.append((last, last + timing.pulse_ms))
    merged: list[Interval] = merge(pulses)
    return merged


class SensorSchedule:
    """Which pin/advert actions are due, for one node's sensors. Pure: time is a parameter."""

    def __init__(
        self, sensors: list[Sensor], start_ms: int, seed: str, timing: Timing = Timing()
    ) -> None:
        self.start_ms = start_ms
        self.timing = timing
        self._sensors = {s.key: s for s in sensors}
        self._rng = random.Random(f"{seed}:edge-driver")
        self._present: dict[str, list[Interval]] = {s.desk: [] for s in sensors}
        self._seen: set[tuple[str, int, int]] = set()
        self._queue: list[tuple[int, int, int, Action]] = []
        self._counter = 0
        # Every BLE sensor says what it sees right at the start, then periodically.
        self._next_advert_ms = {s.key: start_ms for s in sensors if isinstance(s, BthomeSensor)}

    def add_presence(self, desk: str, intervals: list[Interval]) -> None:
        """Presence of a desk (any order, repeats ignored); times before the start are cut."""
        if desk not in self._present:
            return
        fresh = []
        for a, b in intervals:
            a = max(a, self.start_ms)
            if b > a and (desk, a, b) not in self._seen:
                self._seen.add((desk, a, b))
                fresh.append((a, b))
        if not fresh:
            return
        self._present[desk] = merge(self._present[desk] + fresh)
        for sensor in self._sensors.values():
            if sensor.desk != desk:
                continue
            if isinstance(sensor, GpioPirSensor):
                spans = merge(
                    [p for iv in sorted(fresh) for p in pir_pulses(iv, self._rng, self.timing)]
                )
                for a, b in spans:
                    self._push(Action(a, ActionKind.PIN_HIGH, sensor.key, 1))
                    self._push(Action(b, ActionKind.PIN_LOW, sensor.key, 1))
            else:
                for a, b in fresh:
                    self._push(Action(a, ActionKind.ADVERT, sensor.key, 1))
                    self._push(Action(b, ActionKind.ADVERT, sensor.key, 0))

    def due(self, now_ms: int) -> list[Action]:
        """Every action with ts_ms <= now_ms not returned before, in time order."""
        for key, next_ms in self._next_advert_ms.items():
            desk = self._sensors[key].desk
            while next_ms <= now_ms:
                value = int(present_at(self._present[desk], next_ms))
                self._push(Action(next_ms, ActionKind.ADVERT, key, value))
                next_ms += self.timing.advert_every_ms
            self._next_advert_ms[key] = next_ms
        out = []
        while self._queue and self._queue[0][0] <= now_ms:
            out.append(heapq.heappop(self._queue)[3])
        return out

    def _push(self, action: Action) -> None:
        self._counter += 1
        heapq.heappush(self._queue, (action.ts_ms, action.kind, self._counter, action))


def world_presence(world: World) -> PresenceSource:
    """Presence from the simulated people's day plans (the same plans the virtual nodes use)."""

    def presence(node: Node, start_ms: int, end_ms: int) -> dict[str, list[Interval]]:
        desks = set(node.desk_ids)
        found: dict[str, list[Interval]] = {desk: [] for desk in desks}
        for day in world.node_days(node, start_ms, end_ms):
            for visit in world.plan(day).visits:
                if visit.desk in desks:
                    found[visit.desk].extend(visit.presence_ms)
        return {
            desk: [(a, b) for a, b in merge(spans) if b > start_ms and a < end_ms]
            for desk, spans in found.items()
        }

    return presence


def node_config(
    inventory: Inventory, node: Node, mqtt_url: str, state_dir: Path, **extra: Any
) -> Any:
    """The node.yaml a Pi of this inventory node would have, with its own state dir."""
    from hubsense.node_config import NodeConfig

    return NodeConfig.model_validate(
        {
            "node": node.id,
            "site": inventory.site_of_node[node.id],
            "broker": {"url": mqtt_url},
            "heartbeat_s": node.heartbeat_s,
            "state_dir": str(state_dir / node.id),
            "sensors": [s.model_dump() for s in node.sensors],
            **extra,
        }
    )


class _AdvertCounters:
    """BTHome packet counters per address: they must grow, also across simulator runs."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def next(self, address: str, now_ms: int) -> int:
        value = max(self._last.get(address, -1) + 1, now_ms // 1000) % 2**32
        self._last[address] = value
        return value


class EdgeFleet:
    """Every node of an inventory as a real edge agent, its sensors driven by a schedule."""

    def __init__(
        self,
        inventory: Inventory,
        mqtt_url: str,
        state_dir: Path,
        presence: PresenceSource,
        *,
        seed: int | str = 0,
        clock_ms: Callable[[], int] | None = None,
        timing: Timing = Timing(),
        config_extra: dict[str, Any] | None = None,
    ) -> None:
        from hubsense.edge.agent import wall_clock_ms

        self.inventory = inventory
        self.clock_ms = clock_ms or wall_clock_ms
        self._presence = presence
        self._seed = seed
        self._timing = timing
        self._counters = _AdvertCounters()
        self.nodes = [node for site in inventory.sites for node in site.nodes]
        self.configs = {
            node.id: node_config(inventory, node, mqtt_url, state_dir, **(config_extra or {}))
            for node in self.nodes
        }
        self.handles: dict[str, Any] = {}
        self._stopped: dict[str, Any] = {}  # stopped agents: their outboxes still know the seqs
        self.first_seqs: dict[str, int] = {}
        self._schedules: dict[str, SensorSchedule] = {}
        self._fed_until_ms = 0

    def start(self) -> int:
        """Start every agent (each stores its desks' states and an alive); return the start ms."""
        from concurrent.futures import ThreadPoolExecutor

        from hubsense.edge.embed import AgentThread

        for node in self.nodes:
            self.handles[node.id] = AgentThread(self.configs[node.id], clock_ms=self.clock_ms)
        # In parallel: opening a PIR waits for gpiozero's first sample (~0.5 s a pin).
        with ThreadPoolExecutor(max_workers=min(32, len(self.handles) or 1)) as pool:
            list(pool.map(lambda handle: handle.start(), self.handles.values()))
        now_ms = self.clock_ms()
        for node in self.nodes:
            outbox = self.handles[node.id].agent.outbox
            self.first_seqs[node.id] = outbox.next_seq - len(node.desk_ids) - 1
            self._schedules[node.id] = SensorSchedule(
                node.sensors, now_ms, f"{self._seed}:{node.id}", self._timing
            )
        log.info("sim_edge_started", nodes=len(self.handles))
        return now_ms

    def step(self) -> int:
        """One driver pass: feed presence ahead, perform due actions; returns the clock."""
        now_ms = self.clock_ms()
        if now_ms + FEED_AHEAD_MS // 2 >= self._fed_until_ms:
            until = now_ms + FEED_AHEAD_MS
            for node in self.nodes:
                for desk, spans in self._presence(node, now_ms, until).items():
                    self._schedules[node.id].add_presence(desk, spans)
            self._fed_until_ms = until
        for node in self.nodes:
            for action in self._schedules[node.id].due(now_ms):
                self._perform(node, action, now_ms)
        return now_ms

    def run(
        self,
        stop_event: threading.Event,
        until_ms: int | None = None,
        on_tick: Callable[[int], None] | None = None,
    ) -> int:
        """Drive the agents until stop_event or until_ms; then stop them cleanly."""
        try:
            if not self.handles:
                self.start()
            now_ms = self.clock_ms()
            while not stop_event.is_set():
                now_ms = self.step()
                if until_ms is not None and now_ms >= until_ms:
                    break
                if on_tick is not None:
                    on_tick(now_ms)
                stop_event.wait(TICK_S)
        finally:
            self.stop()
        return now_ms

    def stop(self) -> None:
        """Stop every agent (`stop` stored and flushed, status offline); raise the first error."""
        from concurrent.futures import ThreadPoolExecutor

        handles = list(self.handles.values())
        self._stopped.update(self.handles)
        self.handles.clear()

        def stop_one(handle: Any) -> BaseException | None:
            try:
                handle.stop()
            except Exception as error:  # the others must still stop
                return error
            return None

        # All at once: each waits up to STOP_FLUSH_S for its last acks.
        with ThreadPoolExecutor(max_workers=min(32, len(handles) or 1)) as pool:
            errors = [e for e in pool.map(stop_one, handles) if e is not None]
        if errors:
            raise errors[0]

    def next_seqs(self) -> dict[str, int]:
        """The seq each node's outbox hands out next (after `stop`: the final ones)."""
        out = {}
        for node in self.nodes:
            outbox = self._outbox(node.id)
            if outbox is not None:
                out[node.id] = outbox.next_seq
        return out

    def events_stored(self) -> int:
        seqs = self.next_seqs()
        return sum(seqs[n] - self.first_seqs[n] for n in seqs if n in self.first_seqs)

    def _outbox(self, node_id: str) -> Any:
        handle = self.handles.get(node_id) or self._stopped.get(node_id)
        return None if handle is None else handle.agent.outbox

    def _perform(self, node: Node, action: Action, now_ms: int) -> None:
        handle = self.handles[node.id]
        sensor = next(s for s in node.sensors if s.key == action.sensor_key)
        if isinstance(sensor, GpioPirSensor):
            pin = handle.pin(sensor.pin)
            if action.kind is ActionKind.PIN_HIGH:
                pin.drive_high()
            else:
                pin.drive_low()
            return
        from hubsense.edge.io.bthome_adverts import build_advert

        key = bytes.fromhex(sensor.bindkey) if sensor.bindkey else None
        counter = self._counters.next(sensor.address, now_ms)
        payload = build_advert(
            [("occupancy", action.value)], mac=sensor.address, bindkey=key, counter=counter
        )
        handle.feed_advert(sensor.address, payload)
