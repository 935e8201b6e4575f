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
- A sensor that cannot tell is `unknown` (docs/wire.md): a BLE sensor with a `stale_ms`
  not heard for that long (a dying battery must not leave its desk occupied), or any
  sensor whose read failed (`Signal.READ_FAILED`). Its last value no longer counts;
  the next reading of it counts again. Fused: occupied if a sensor that can tell says
  so, else unknown if any sensor cannot tell, else vacant. Silence is measured from
  `start` at the earliest (the machine cannot know how long a sensor was silent before).
- The clock going backwards (NTP step) does not shorten or lengthen a hold:
  stored times are shifted by the step, and emitted times never go below the
  last emitted time, so (ts, seq) order stays the order things happened.

It must not: read the clock, log, or know about MQTT or SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from hubsense.wire import DeskState, Source

# Chatter shorter than this is not a change (a PIR re-triggering at a hold boundary,
# a BLE occupancy sensor flickering). Two seconds is below any meaningful desk visit.
DEFAULT_DEBOUNCE_MS = 2_000


class Signal(StrEnum):
    """What a sensor reported; the table below (`_READING`) says how each one drives its source."""

    MOTION_START = "motion_start"  # PIR pin rose: occupied while it stays high
    MOTION_END = "motion_end"  # PIR pin fell: hold runs from here
    MOTION_PULSE = "motion_pulse"  # BLE motion object: hold runs from here
    OCCUPANCY = "occupancy"  # BLE occupancy object, value maps directly
    PRESENCE = "presence"  # BLE presence object, value maps directly
    READ_FAILED = "read_failed"  # the sensor could not be read: it cannot tell
    LEVEL = "level"  # a PIR pin read again after a failure: value is its level, no hold starts


def _failed(source: _SourceState, now_ms: int, value: bool) -> None:
    """What it said before no longer counts while it fails (`unknown_at`): nothing to set."""


def _level(source: _SourceState, now_ms: int, value: bool) -> None:
    source.active = value


def _motion_start(source: _SourceState, now_ms: int, value: bool) -> None:
    source.active = True
    source.last_motion_ms = now_ms


def _motion_end(source: _SourceState, now_ms: int, value: bool) -> None:
    source.active = False
    source.last_motion_ms = now_ms


def _motion_pulse(source: _SourceState, now_ms: int, value: bool) -> None:
    if value:
        source.last_motion_ms = now_ms


def _direct(source: _SourceState, now_ms: int, value: bool) -> None:
    source.direct = value


# How each signal sets its sensor's `_SourceState` (reading `value` taken at `now_ms`);
# `DeskMachine.observe` also marks every reading heard, or failed for READ_FAILED.
_READING: dict[Signal, Callable[[_SourceState, int, bool], None]] = {
    Signal.MOTION_START: _motion_start,  # pin high, and a hold from here once it falls
    Signal.MOTION_END: _motion_end,  # pin low: the hold runs from here
    Signal.MOTION_PULSE: _motion_pulse,  # a motion pulse (True) restarts the hold
    Signal.OCCUPANCY: _direct,  # the value is the state
    Signal.PRESENCE: _direct,
    Signal.READ_FAILED: _failed,
    Signal.LEVEL: _level,  # the pin's level, no hold starts
}


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
    # Not heard for this long, the sensor cannot tell (None: silence is normal, as for a
    # PIR pin, which only speaks on edges).
    stale_s: int | None = None


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
    stale_ms: int | None = None
    active: bool = False  # a PIR pin is high
    last_motion_ms: int | None = None  # when the hold started
    direct: bool | None = None  # last occupancy/presence value
    heard_ms: int = 0  # its last reading (or the start)
    failed: bool = False  # its last read failed

    def unknown_at(self, t_ms: int) -> bool:
        if self.failed:
            return True
        return self.stale_ms is not None and t_ms >= self.heard_ms + self.stale_ms

    def stale_from_ms(self) -> int | None:
        """When this sensor turns unknown by silence (None if it never does)."""
        if self.failed or self.stale_ms is None:
            return None
        return self.heard_ms + self.stale_ms

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
        self.heard_ms += delta_ms


@dataclass(slots=True)
class _DeskState:
    source: Source
    sensors: dict[str, _SourceState] = field(default_factory=dict)
    committed: DeskState | None = None
    pending: DeskState | None = None
    pending_since_ms: int = 0
    evaluated_ms: int = 0  # raw changes by the passing of time are applied up to here

    def raw_at(self, t_ms: int) -> DeskState:
        cannot_tell = False
        for s in self.sensors.values():
            if s.unknown_at(t_ms):
                cannot_tell = True
            elif s.occupied_at(t_ms):
                return DeskState.OCCUPIED
        return DeskState.UNKNOWN if cannot_tell else DeskState.VACANT

    def time_changes(self, after_ms: int, until_ms: int) -> list[int]:
        """Instants in (after_ms, until_ms] where a hold runs out or a sensor goes stale:
        the only places the raw state can change without a reading, in time order."""
        points = set()
        for s in self.sensors.values():
            for at in (s.hold_end_ms(), s.stale_from_ms()):
                if at is not None and after_ms < at <= until_ms:
                    points.add(at)
        return sorted(points)


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
            if spec.stale_s is not None and spec.stale_s <= 0:
                raise ValueError(f"sensor {spec.key}: stale_s must be > 0")
            self._desks[spec.desk].sensors[spec.key] = _SourceState(
                hold_ms=spec.hold_s * 1000,
                stale_ms=None if spec.stale_s is None else spec.stale_s * 1000,
            )
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
            for s in d.sensors.values():
                s.heard_ms = max(s.heard_ms, now_ms)
            d.committed = d.raw_at(now_ms)
            d.pending = None
            d.evaluated_ms = now_ms
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
        source.failed = signal is Signal.READ_FAILED
        if not source.failed:
            source.heard_ms = now_ms
        _READING[signal](source, now_ms, value)
        if self._started:
            self._raw_transition(desk, d, d.raw_at(now_ms), now_ms)
            d.evaluated_ms = now_ms
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
            for at in d.time_changes(d.evaluated_ms, 2**62):
                if d.raw_at(at) != heading:  # the change is confirmed one debounce later
                    due.append(at + self._debounce_ms)
                    break
        return min(due) if due else None

    def _clock(self, now_ms: int) -> int:
        """Accept a new reading of the clock; a step backwards shifts every stored time."""
        if self._now_ms is not None and now_ms < self._now_ms:
            delta = now_ms - self._now_ms
            for d in self._desks.values():
                d.pending_since_ms += delta
                d.evaluated_ms += delta
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
            # Holds that ran out and sensors that went stale since the last call are
            # transitions at their own time, each after confirming what came before it.
            for at in d.time_changes(d.evaluated_ms, now_ms):
                out.extend(self._confirm(desk, d, at))
                self._raw_transition(desk, d, d.raw_at(at), at)
            d.evaluated_ms = max(d.evaluated_ms, now_ms)
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
