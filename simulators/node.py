"""A virtual edge node: turns sensed desk states and outages into contract events.

Pure: no I/O, no clock; the caller says what time it is by `advance(until_ms)`.
It behaves like the edge agent of docs/wire.md: `seq` increases by one per event
from the node's starting seq and is never reused; after each start it sends
every desk's current state and an `alive`; then only state changes, an
`alive` every `heartbeat_s` while it runs, and `stop` on a clean shutdown.
While it is off (an outage) it sends nothing; what the sensors saw meanwhile
shows up as the current states sent when it comes back.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any, NamedTuple

from hubsense.wire import DeskState, EventType, Source


class SimEvent(NamedTuple):
    seq: int
    ts: int
    type: EventType
    desk: str | None = None
    source: Source | None = None
    state: DeskState | None = None

    def wire(self) -> dict[str, Any]:
        """The event as the JSON object of docs/wire.md."""
        if self.type is EventType.DESK:
            return {
                "seq": self.seq,
                "ts": self.ts,
                "type": "desk",
                "desk": self.desk,
                "source": self.source.value if self.source else None,
                "state": self.state.value if self.state else None,
            }
        return {"seq": self.seq, "ts": self.ts, "type": self.type.value}


class Transition(NamedTuple):
    """What a desk's sensor says from `ts` on."""

    ts: int
    desk: str
    state: DeskState


@dataclass(frozen=True, slots=True)
class Outage:
    """The node is off during [off_ms, on_ms); `clean` sends `stop` first (a restart)."""

    off_ms: int
    on_ms: int
    clean: bool


# Order of things scheduled at the same instant: sensor changes, then going off,
# then coming back (which sends the current states), then the heartbeat.
_TRANSITION, _OFF, _ON = 0, 1, 2


class VirtualNode:
    """One node's event stream; feed it transitions and outages, then advance time."""

    def __init__(
        self, node_id: str, heartbeat_s: int, desks: list[tuple[str, Source]], seq_start: int = 0
    ) -> None:
        self.node_id = node_id
        self.heartbeat_ms = heartbeat_s * 1000
        self.sources = dict(desks)
        self.next_seq = seq_start
        self.running = False
        self.started_ms: int | None = None
        self.now_ms: int | None = None
        self.sensed = dict.fromkeys(self.sources, DeskState.VACANT)
        self.changed_ms: dict[str, int | None] = dict.fromkeys(self.sources)
        self._sent: dict[str, DeskState | None] = dict.fromkeys(self.sources)
        self._next_alive_ms: int | None = None
        self._queue: list[tuple[int, int, int, Any]] = []
        self._counter = 0

    def schedule(self, transitions: list[Transition]) -> None:
        """Add sensor changes (any order; those before the start only set the initial state)."""
        for item in transitions:
            if item.desk in self.sources:
                self._push(item.ts, _TRANSITION, item)

    def schedule_outage(self, outage: Outage) -> None:
        self._push(outage.off_ms, _OFF, outage)
        self._push(outage.on_ms, _ON, outage)

    def start(self, ts_ms: int) -> list[SimEvent]:
        """Start sensing at ts_ms: apply earlier sensor changes silently, send states + alive."""
        self._apply_until(ts_ms, emit=False)
        return self._boot(ts_ms)

    def advance(self, until_ms: int) -> list[SimEvent]:
        """Everything that happens in [now, until_ms), in time order."""
        return self._apply_until(until_ms, emit=True)

    def stop(self, ts_ms: int) -> list[SimEvent]:
        """A clean shutdown at ts_ms (after advancing to it)."""
        events = self.advance(ts_ms)
        if self.running:
            events.append(self._event(ts_ms, EventType.STOP))
            self.running = False
            self._next_alive_ms = None
        return events

    def _push(self, ts: int, kind: int, payload: Any) -> None:
        self._counter += 1
        heapq.heappush(self._queue, (ts, kind, self._counter, payload))

    def _boot(self, ts_ms: int) -> list[SimEvent]:
        self.running = True
        self.started_ms = ts_ms
        self.now_ms = ts_ms
        events = []
        for desk, state in self.sensed.items():
            events.append(self._event(ts_ms, EventType.DESK, desk, state))
            self._sent[desk] = state
        events.append(self._event(ts_ms, EventType.ALIVE))
        self._next_alive_ms = ts_ms + self.heartbeat_ms
        return events

    def _apply_until(self, until_ms: int, *, emit: bool) -> list[SimEvent]:
        events: list[SimEvent] = []
        while True:
            head = self._queue[0][0] if self._queue else None
            alive = self._next_alive_ms if emit else None
            if alive is not None and alive < until_ms and (head is None or alive < head):
                events.append(self._event(alive, EventType.ALIVE))
                self._next_alive_ms = alive + self.heartbeat_ms
                continue
            if head is None or head >= until_ms:
                break
            ts, kind, _, payload = heapq.heappop(self._queue)
            if kind == _TRANSITION:
                self._sense(payload, events if emit and self.running else None)
            elif kind == _OFF and self.running and emit:
                if payload.clean:
                    events.append(self._event(ts, EventType.STOP))
                self.running = False
                self._next_alive_ms = None
            elif kind == _ON and not self.running and emit:
                events.extend(self._boot(ts))
        if emit:
            self.now_ms = until_ms
        return events

    def _sense(self, item: Transition, events: list[SimEvent] | None) -> None:
        if self.sensed[item.desk] is not item.state:
            self.changed_ms[item.desk] = item.ts
        self.sensed[item.desk] = item.state
        if events is not None and self._sent[item.desk] is not item.state:
            events.append(self._event(item.ts, EventType.DESK, item.desk, item.state))
            self._sent[item.desk] = item.state

    def _event(
        self, ts: int, kind: EventType, desk: str | None = None, state: DeskState | None = None
    ) -> SimEvent:
        event = SimEvent(self.next_seq, ts, kind, desk, self.sources[desk] if desk else None, state)
        self.next_seq += 1
        return event
