"""The simulated organisation: day plans turned into sensor changes, outages, bookings and
the day passes bought at co-working sites.

Pure: no I/O, no clock. Everything is derived from (inventory, seed, date), so
any window of time can be generated on its own and agrees with any other
window. PIR desks hold `occupied` for `hold_s` after the last motion (short
absences do not flip them); BLE occupancy sensors report presence directly.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from hubsense.simulators.bookings import SimBooking, bookings_of
from hubsense.simulators.node import Outage, SimEvent, Transition, VirtualNode
from hubsense.simulators.people import (
    Behaviour,
    DayPlan,
    Person,
    day_passes,
    plan_day,
    population,
)

from hubsense.inventory.model import GpioPirSensor, Inventory, Node, Site
from hubsense.site_time import DAY_S, local_dates, wall_ms
from hubsense.wire import DeskState, Source


@dataclass(frozen=True, slots=True)
class Faults:
    """How often a node misbehaves, per node and day."""

    crash: float = 0.03  # off without `stop` (power loss), for `crash_s`
    crash_s: tuple[int, int] = (15 * 60, 8 * 3600)
    restart: float = 0.03  # clean restart: `stop`, off for `restart_s`, start again
    restart_s: tuple[int, int] = (30, 180)


NO_FAULTS = Faults(crash=0.0, restart=0.0)


def merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of intervals as sorted, disjoint, non-touching intervals."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def transitions_of(desk: str, occupied: list[tuple[int, int]]) -> list[Transition]:
    """Sensor changes of a desk from its merged occupied intervals."""
    out: list[Transition] = []
    for start, end in occupied:
        out.append(Transition(start, desk, DeskState.OCCUPIED))
        out.append(Transition(end, desk, DeskState.VACANT))
    return out


@dataclass
class World:
    """One organisation under one seed; day plans are memoised."""

    inventory: Inventory
    seed: int
    behaviour: Behaviour = field(default_factory=Behaviour)
    faults: Faults = field(default_factory=Faults)
    people: list[Person] = field(init=False)
    _plans: dict[dt.date, DayPlan] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.people = population(self.inventory, self.seed, self.behaviour)

    def plan(self, day: dt.date) -> DayPlan:
        if day not in self._plans:
            self._plans[day] = plan_day(self.inventory, self.people, day, self.seed, self.behaviour)
        return self._plans[day]

    def site_of(self, node: Node) -> Site:
        return self.inventory.site_by_id[self.inventory.site_of_node[node.id]]

    def desks_of(self, node: Node) -> list[tuple[str, Source]]:
        """The node's desks in sensor order; a desk with several sensors is `fused`."""
        sources: dict[str, Source] = {}
        for sensor in node.sensors:
            own = Source.PIR if isinstance(sensor, GpioPirSensor) else Source.BLE
            sources[sensor.desk] = Source.FUSED if sensor.desk in sources else own
        return list(sources.items())

    def hold_ms(self, node: Node) -> dict[str, int]:
        """Per desk, how long `occupied` outlasts presence: the longest PIR hold, 0 for BLE only.

        A fused desk is occupied while any of its sensors says so, and its PIR says so
        for hold_s after the last motion, so the union is presence plus the PIR hold.
        """
        out: dict[str, int] = {}
        for sensor in node.sensors:
            hold = sensor.hold_s * 1000 if isinstance(sensor, GpioPirSensor) else 0
            out[sensor.desk] = max(out.get(sensor.desk, 0), hold)
        return out

    def transitions(self, node: Node, days: list[dt.date]) -> list[Transition]:
        """The node's sensor changes for whole local days (hold time applied to PIR desks)."""
        hold_ms = self.hold_ms(node)
        present: dict[str, list[tuple[int, int]]] = {desk: [] for desk in hold_ms}
        for day in days:
            for visit in self.plan(day).visits:
                if visit.desk in present:
                    present[visit.desk].extend(visit.presence_ms)
        out: list[Transition] = []
        for desk, intervals in present.items():
            held = [(a, b + hold_ms[desk]) for a, b in intervals]
            out.extend(transitions_of(desk, merge(held)))
        return sorted(out)

    def outages(self, node: Node, days: list[dt.date]) -> list[Outage]:
        """Crashes and clean restarts of a node on those days, never overlapping."""
        site = self.site_of(node)
        found: list[Outage] = []
        for day in days:
            rng = random.Random(f"{self.seed}:faults:{node.id}:{day.isoformat()}")
            for probability, span_s, clean in (
                (self.faults.crash, self.faults.crash_s, False),
                (self.faults.restart, self.faults.restart_s, True),
            ):
                if rng.random() < probability:
                    off = wall_ms(day, rng.randrange(DAY_S), site.zoneinfo)
                    found.append(Outage(off, off + rng.randint(*span_s) * 1000, clean))
        kept: list[Outage] = []
        for outage in sorted(found, key=lambda o: o.off_ms):
            if not kept or outage.off_ms > kept[-1].on_ms:
                kept.append(outage)
        return kept

    def bookings(self, days: list[dt.date]) -> list[SimBooking]:
        out = [b for day in days for b in bookings_of(self.inventory, self.plan(day))]
        return sorted(out, key=lambda b: (b.start_ms, b.booking_id))

    def day_passes(self, days: list[dt.date]) -> list[tuple[str, str, dt.date]]:
        """(pass_id, site, date) bought for those days; ids stable for (seed, date)."""
        return [p for day in days for p in day_passes(self.inventory, self.plan(day), self.seed)]

    def node_days(self, node: Node, start_ms: int, end_ms: int) -> list[dt.date]:
        """Local dates whose plans can affect [start_ms, end_ms) (the day before holds state)."""
        days = local_dates(start_ms, end_ms, self.site_of(node).zoneinfo)
        return [days[0] - dt.timedelta(days=1), *days]

    def make_node(self, node: Node, seq_start: int = 0) -> VirtualNode:
        return VirtualNode(node.id, node.heartbeat_s, self.desks_of(node), seq_start)

    def feed(self, virtual: VirtualNode, node: Node, days: list[dt.date], after_ms: int) -> None:
        """Schedule the node's sensor changes and outages of `days` (outages after after_ms)."""
        virtual.schedule(self.transitions(node, days))
        for outage in self.outages(node, days):
            if outage.off_ms > after_ms:
                virtual.schedule_outage(outage)

    def node_events(
        self, node: Node, start_ms: int, end_ms: int, seq_start: int = 0
    ) -> tuple[list[SimEvent], VirtualNode]:
        """The node's events for [start_ms, end_ms): started at start_ms, running at the end."""
        virtual = self.make_node(node, seq_start)
        self.feed(virtual, node, self.node_days(node, start_ms, end_ms), start_ms)
        events = virtual.start(start_ms)
        events.extend(virtual.advance(end_ms))
        return events, virtual
