"""The desk state machine: sensor signals in, desk state changes out.

Pure: no I/O, no clock reads, no threads. Time is a parameter (integer
milliseconds of the node's wall clock) so the tests drive it with a fake clock.

Rules (docs/wire.md, issue 4):
- PIR motion makes its desk occupied; while the pin stays high the desk stays
  occupied; after the pin falls it stays occupied for the sensor's `hold_s`.
- A BLE motion object is a pulse: occupied for `hold_s` after the last one.
- BLE occupancy/presence objects map directly (True occupied, False vacant).
- Several sensors on one desk are fused: occupied if any of them says so,
  each with its own hold.
- Chatter is debounced: a change of the fused state is emitted only once it
  has lasted `debounce_ms`; a flip back inside that window emits nothing.
  The emitted time is when the change happened, not when it was confirmed.
- The clock going backwards (NTP step) does not shorten or lengthen a hold:
  stored times are shifted by the step, and emitted times never go below the
  last emitted time, so (ts, seq) order stays the order things happened.

It must not: read the clock, log, or know about MQTT or SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from hubsense.wire import DeskState, Source

# Chatter shorter than this is not a change (a PIR re-triggering at a hold boundary,
# a BLE occupancy sensor flickering). Two seconds is below any meaningful desk visit.
DEFAULT_DEBOUNCE_MS = 2_000


class Signal(StrEnum):
    """What a sensor reported; the table below says how each one drives its source."""

    MOTION_START = "motion_start"  # PIR pin rose: occupied while it stays high
    MOTION_END = "motion_end"  # PIR pin fell: hold runs from here
    MOTION_PULSE = "motion_pulse"  # BLE motion object: hold runs from here
    OCCUPANCY = "occupancy"  # BLE occupancy object, value maps directly
    PRESENCE = "presence"  # BLE presence object, value maps directly


class SourceKind(StrEnum):
    PIR = "pir"
    BLE = "ble"


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """One sensor as the machine sees it: which desk, which kind, how long to hold."""

    key: str
    desk: str
    kind: SourceKind
    hold_s: int


@dataclass(frozen=True, slots=True)
class Change:
    """A desk changed state at `ts_ms` (or its state at start)."""

    desk: str
    state: DeskState
    source: Source
    ts_ms: int


@dataclass(slots=True)
class _SourceState:
    hold_ms: int
    active: bool = False  # a PIR pin is high
    last_motion_ms: int | None = None  # when the hold started
    direct: bool | None = None  # last occupancy/presence value

    def occupied_at(self, t_ms: int) -> bool:
        if self.active or self.direct:
            return True
        return self.last_motion_ms is not None and t_ms < self.last_motion_ms + self.hold_ms

    def hold_end_ms(self) -> int | None:
        """When this source turns vacant by itself, if it is counting down a hold."""
        if self.active or self.direct or self.last_motion_ms is None:
            return None
        return self.last_motion_ms + self.hold_ms

    def shift(self, delta_ms: int) -> None:
        if self.last_motion_ms is not None:
            self.last_motion_ms += delta_ms


@dataclass(slots=True)
class _DeskState:
    source: Source
    sensors: dict[str, _SourceState] = field(default_factory=dict)
    committed: DeskState | None = None
    pending: DeskState | None = None
    pending_since_ms: int = 0

    def raw_at(self, t_ms: int) -> DeskState:
        occupied = any(s.occupied_at(t_ms) for s in self.sensors.values())
        return DeskState.OCCUPIED if occupied else DeskState.VACANT

    def raw_vacant_at(self, after_ms: int) -> int | None:
        """When the fused raw state turns vacant by hold expiry, if it will without input."""
        ends = []
        for s in self.sensors.values():
            if s.active or s.direct:
                return None
            end = s.hold_end_ms()
            if end is not None:
                ends.append(end)
        if not ends:
            return None
        end = max(ends)
        return end if end > after_ms else None


def _desk_source(kinds: set[SourceKind]) -> Source:
    if kinds == {SourceKind.PIR}:
        return Source.PIR
    if kinds == {SourceKind.BLE}:
        return Source.BLE
    return Source.FUSED


class DeskMachine:
    """Fuses every sensor of a node into one debounced state stream per desk."""

    def __init__(
        self, sensors: Iterable[SensorSpec], debounce_ms: int = DEFAULT_DEBOUNCE_MS
    ) -> None:
        if debounce_ms < 0:
            raise ValueError("debounce_ms must be >= 0")
        specs = list(sensors)
        self._debounce_ms = debounce_ms
        self._desk_of: dict[str, str] = {}
        kinds: dict[str, set[SourceKind]] = {}
        for spec in specs:
            if spec.key in self._desk_of:
                raise ValueError(f"sensor {spec.key} is configured twice")
            if spec.hold_s <= 0:
                raise ValueError(f"sensor {spec.key}: hold_s must be > 0")
            self._desk_of[spec.key] = spec.desk
            kinds.setdefault(spec.desk, set()).add(spec.kind)
        self._desks: dict[str, _DeskState] = {
            desk: _DeskState(source=_desk_source(k)) for desk, k in kinds.items()
        }
        for spec in specs:
            self._desks[spec.desk].sensors[spec.key] = _SourceState(hold_ms=spec.hold_s * 1000)
        self._now_ms: int | None = None
        self._floor_ms = 0  # emitted times never go below this
        self._started = False

    @property
    def desks(self) -> list[str]:
        return list(self._desks)

    def state_of(self, desk: str) -> DeskState | None:
        """The last emitted state of a desk (None before `start`)."""
        return self._desks[desk].committed

    def set_hold(self, sensor_key: str, hold_s: int) -> None:
        """Change a sensor's hold live; a running hold is measured from its start again."""
        if hold_s <= 0:
            raise ValueError("hold_s must be > 0")
        desk = self._desk_of[sensor_key]
        self._desks[desk].sensors[sensor_key].hold_ms = hold_s * 1000

    def hold_s_of(self, sensor_key: str) -> int:
        desk = self._desk_of[sensor_key]
        return self._desks[desk].sensors[sensor_key].hold_ms // 1000

    def knows(self, sensor_key: str) -> bool:
        return sensor_key in self._desk_of

    def start(self, now_ms: int) -> list[Change]:
        """Commit and return every desk's current state (sent right after each agent start)."""
        self._clock(now_ms)
        self._started = True
        out = []
        for desk, d in self._desks.items():
            d.committed = d.raw_at(now_ms)
            d.pending = None
            out.append(self._emit(desk, d, d.committed, now_ms))
        return out

    def observe(
        self, sensor_key: str, signal: Signal, now_ms: int, value: bool = True
    ) -> list[Change]:
        """Apply one sensor reading taken at `now_ms`; return the changes it confirmed."""
        desk = self._desk_of[sensor_key]
        now_ms = self._clock(now_ms)
        # Before `start` readings only set the initial state (a PIR pin already high).
        out = self._advance(now_ms) if self._started else []
        d = self._desks[desk]
        source = d.sensors[sensor_key]
        if signal is Signal.MOTION_START:
            source.active = True
            source.last_motion_ms = now_ms
        elif signal is Signal.MOTION_END:
            source.active = False
            source.last_motion_ms = now_ms
        elif signal is Signal.MOTION_PULSE:
            if value:
                source.last_motion_ms = now_ms
        else:
            source.direct = value
        if self._started:
            self._raw_transition(desk, d, d.raw_at(now_ms), now_ms)
            out.extend(self._confirm(desk, d, now_ms))
        return out

    def tick(self, now_ms: int) -> list[Change]:
        """Let time pass: expire holds and confirm debounced changes up to `now_ms`."""
        return self._advance(self._clock(now_ms))

    def next_due_ms(self) -> int | None:
        """The earliest time a `tick` could emit something (for sleeping until then)."""
        due: list[int] = []
        for d in self._desks.values():
            if d.pending is not None:
                due.append(d.pending_since_ms + self._debounce_ms)
            heading = d.pending if d.pending is not None else d.committed
            end = d.raw_vacant_at(-(2**62)) if heading == DeskState.OCCUPIED else None
            if end is not None:
                due.append(end + self._debounce_ms)
        return min(due) if due else None

    def _clock(self, now_ms: int) -> int:
        """Accept a new reading of the clock; a step backwards shifts every stored time."""
        if self._now_ms is not None and now_ms < self._now_ms:
            delta = now_ms - self._now_ms
            for d in self._desks.values():
                d.pending_since_ms += delta
                for s in d.sensors.values():
                    s.shift(delta)
        self._now_ms = now_ms
        return now_ms

    def _advance(self, now_ms: int) -> list[Change]:
        if not self._started:
            raise RuntimeError("DeskMachine.start must be called before readings")
        out: list[Change] = []
        for desk, d in self._desks.items():
            if d.committed is None:
                continue
            # Holds that ran out since the last call are transitions at their own time.
            cursor = d.pending_since_ms if d.pending is not None else -(2**62)
            end = d.raw_vacant_at(cursor)
            if end is not None and end <= now_ms:
                out.extend(self._confirm(desk, d, end))
                self._raw_transition(desk, d, DeskState.VACANT, end)
            out.extend(self._confirm(desk, d, now_ms))
        return out

    @staticmethod
    def _raw_transition(desk: str, d: _DeskState, state: DeskState, at_ms: int) -> None:
        if state == d.committed:
            d.pending = None  # chatter: back to the confirmed state inside the window
        elif d.pending != state:
            d.pending = state
            d.pending_since_ms = at_ms

    def _confirm(self, desk: str, d: _DeskState, now_ms: int) -> list[Change]:
        if d.pending is None or now_ms - d.pending_since_ms < self._debounce_ms:
            return []
        state, since = d.pending, d.pending_since_ms
        d.committed = state
        d.pending = None
        return [self._emit(desk, d, state, since)]

    def _emit(self, desk: str, d: _DeskState, state: DeskState, ts_ms: int) -> Change:
        ts_ms = max(ts_ms, self._floor_ms)
        self._floor_ms = ts_ms
        return Change(desk=desk, state=state, source=d.source, ts_ms=ts_ms)
