"""The edge agent's loop: sensors → desk state machine → outbox → MQTT.

One asyncio thread owns all state (machine, outbox, in-flight window);
gpiozero, bleak and paho call in from their own threads and only enqueue.
Every event, `alive` and `stop` included, is stored in the outbox before it
is sent, and deleted only after its PUBACK. After each start the agent
stores every desk's current state and an `alive` (docs/wire.md).

It must not import ingest, analytics, psycopg or numba (README.md).

Over 400 lines on purpose: what is left here is `EdgeAgent`, the one owner of the loop's
state (the pieces it drives, the machine, outbox rules, MQTT link, GPIO, BLE, clock, are
modules of their own already). Splitting the class would hand that state to a second
owner across threads, which is what the single-owner design rules out.
"""

# Over 400 lines on purpose: EdgeAgent is the one owner of the loop's state (docstring).
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hubsense.edge.core.machine import Change, DeskMachine, SensorSpec, Signal, SourceKind
from hubsense.edge.core.outbox_rules import InFlight, OutboxLimits, TokenBucket, events_that_fit
from hubsense.edge.io import mqtt as link_events
from hubsense.edge.io import system
from hubsense.edge.io.ble import BleReading, BleScanner, BthomeDecoder
from hubsense.edge.io.gpio import PirInputs
from hubsense.edge.io.outbox import (
    PLAUSIBLE_AFTER_MS,
    OutboxFullError,
    open_outbox,
    outbox_exists,
)
from hubsense.edge.status import live_view, status_message, write_live_view

from hubsense.inventory.model import BthomeSensor, GpioPirSensor
from hubsense.logs import get_logger
from hubsense.node_config import NodeConfig
from hubsense.wire import CONFIG_ADAPTER, StatusMessage, encode

log = get_logger(__name__)

# How long a clean stop waits for the backlog (and the `stop` event) to be acknowledged.
STOP_FLUSH_S = 5.0
# After a PUBACK with a failure reason (e.g. not authorised), wait before trying again.
REJECT_PAUSE_S = 5.0


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class _Reading:
    sensor_key: str
    signal: Signal
    value: bool
    ts_ms: int


def sensor_specs(config: NodeConfig) -> list[SensorSpec]:
    return [
        SensorSpec(
            key=s.key,
            desk=s.desk,
            hold_s=s.hold_s,
            kind=SourceKind.PIR if isinstance(s, GpioPirSensor) else SourceKind.BLE,
            # A BLE sensor proves it works only by being heard; a PIR pin speaks only on
            # edges, so its silence is normal and a failed read is what makes it unknown.
            stale_s=s.stale_after_s if isinstance(s, BthomeSensor) else None,
        )
        for s in config.sensors
    ]


class EdgeAgent:
    """Run with `await agent.run()`; `request_stop()` and `feed_advert()` are thread-safe."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        pin_factory: Any = None,
        scan_ble: bool = True,
        clock_ms: Callable[[], int] = wall_clock_ms,
        clock_synced: Callable[[], bool | None] = system.clock_synced,
    ) -> None:
        self.config = config
        self.clock = clock_ms
        self.clock_synced = clock_synced
        # What the agent waits for before sensing (shown by `edge watch` and `edge doctor`).
        self.waiting_for: str | None = None
        self._pin_factory = pin_factory
        self._scan_ble = scan_ble and bool(config.ble_sensors)
        self.limits = OutboxLimits(
            max_events_per_message=config.outbox.max_events_per_message,
            max_in_flight=config.outbox.max_in_flight,
            rate_events_per_s=config.outbox.rate_events_per_s,
            burst_events=max(2_000, config.outbox.max_events_per_message),
            ack_timeout_s=config.outbox.ack_timeout_s,
        )
        self.heartbeat_s = config.heartbeat_s
        self.machine = DeskMachine(sensor_specs(config), config.debounce_ms)
        self.decoder = BthomeDecoder(config.ble_sensors)
        self.ble = BleScanner(self.decoder, self._ble_readings, config.ble.adapter)
        self.pins = PirInputs(config.pir_sensors, self._pir_signal, pin_factory)
        self.inflight = InFlight()
        self._bucket = TokenBucket(self.limits.rate_events_per_s, self.limits.burst_events)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._stopping = False
        self.started_mono = time.monotonic()
        self._paused_until = 0.0
        self.outbox: Any = None
        self.link: Any = None
        self.ready = False  # set once the start events are stored (tests wait for it)
        self.last_tick_ms = 0  # the clock at the last loop pass (tests pace simulated time on it)
        self.dropped_events = 0  # events lost because the disk was full and nothing was evictable
        self.last_values: dict[str, str] = {}  # sensor key → last reading, for `watch`
        self.failed_pins: set[str] = set()  # PIR pins whose last read failed (desk unknown)
        self._live_dirty = True
        self._live_written_mono = 0.0

    # -- thread-safe entry points -------------------------------------------------
    def _submit(self, item: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop closing during shutdown
                self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _pir_signal(self, key: str, signal: Signal) -> None:
        self._submit(_Reading(key, signal, True, self.clock()))

    def _ble_readings(self, readings: list[BleReading]) -> None:
        ts = self.clock()
        for r in readings:
            self._submit(_Reading(r.sensor_key, r.signal, r.value, ts))

    def feed_advert(self, address: str, payload: bytes, rssi_dbm: int = -60) -> None:
        """Hand the agent a BTHome advert as if bleak had heard it (simulator hook)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.ble.feed, address, payload, rssi_dbm)

    def request_stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, None)

    # -- the loop -----------------------------------------------------------------
    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        if not outbox_exists(self.config.state_dir):
            await self._wait_for_synced_clock()
            if self._stopping:
                log.info("edge_stopped", node=self.config.node, note="before the first seq")
                return
        self.outbox = open_outbox(
            self.config.state_dir,
            self.config.node,
            self.clock(),
            self.config.outbox.max_mb * 1024 * 1024,
        )
        try:
            await self._wait_for_plausible_clock()
            self._start_sensing()
            self.link = link_events.MqttLink(self.config, self._submit, self.limits.max_in_flight)
            self.link.start()
            if self._scan_ble:
                await self.ble.start()
            await self._serve()
        except Exception:
            log.exception("edge_failed", node=self.config.node)
            raise
        finally:
            await self._shutdown()

    def _clock_ready_for_first_seq(self) -> bool:
        if self.clock() < PLAUSIBLE_AFTER_MS:
            return False
        if not self.config.outbox.wait_for_clock_sync:
            return True
        # None: the kernel cannot tell (not Linux); a clock past 2024 is then trusted.
        return self.clock_synced() is not False

    async def _wait_for_synced_clock(self) -> None:
        """A fresh outbox seeds its seq from the clock (docs/wire.md): wait until it is right.

        A reflashed Pi without RTC boots in 1970; seeding then would restart at seq 0
        and reuse the seqs its earlier outbox sent. The wait shows in the log, in the
        live view (`edge watch`) and in `edge doctor`.
        """
        while not self._stopping and not self._clock_ready_for_first_seq():
            if self.waiting_for is None:
                self.waiting_for = "clock_sync"
                log.warning(
                    "outbox_waits_for_clock_sync",
                    node=self.config.node,
                    now_ms=self.clock(),
                    hint="a new outbox takes its first seq from the clock; enable NTP",
                )
            write_live_view(
                self.config.live_path,
                {"node": self.config.node, "ts_ms": self.clock(), "waiting_for": "clock_sync"},
            )
            with contextlib.suppress(TimeoutError):
                item = await asyncio.wait_for(self._queue.get(), timeout=1.0)
                if item is None:  # nothing else is queued before sensing starts
                    self._stopping = True
        if self.waiting_for is not None and not self._stopping:
            log.info("clock_synced_outbox_starts", node=self.config.node, now_ms=self.clock())
        self.waiting_for = None

    async def _wait_for_plausible_clock(self) -> None:
        """Refuse to timestamp before the clock is past the last stored event (docs/wire.md)."""
        warned = False
        while not self._stopping:
            floor = max(self.outbox.last_ts_ms, PLAUSIBLE_AFTER_MS)
            now = self.clock()
            if now >= floor:
                return
            if not warned:
                log.warning("clock_implausible", now_ms=now, needs_ms=floor)
                warned = True
            with contextlib.suppress(TimeoutError):
                if await asyncio.wait_for(self._queue.get(), timeout=1.0) is None:
                    self._stopping = True

    def _start_sensing(self) -> None:
        now = self.clock()
        for key, high in self.pins.start().items():
            if high:
                self.machine.observe(key, Signal.MOTION_START, now)
        changes = self.machine.start(now)
        self._store(changes, [{"ts": now, "type": "alive"}])
        self._next_alive_ms = now + self.heartbeat_s * 1000
        self._next_status_mono = 0.0
        self.ready = True
        log.info(
            "edge_started",
            node=self.config.node,
            desks=len(changes),
            outbox_depth=self.outbox.depth,
            next_seq=self.outbox.next_seq,
        )

    async def _serve(self) -> None:
        while not self._stopping:
            self._tick()
            self._pump()
            timeout = self.config.tick_s
            if self._wants_to_send():
                timeout = min(timeout, 0.05)
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout=timeout)
            except TimeoutError:
                continue
            self._handle(item)
            while not self._queue.empty() and not self._stopping:
                self._handle(self._queue.get_nowait())

    def _handle(self, item: Any) -> None:
        if item is None:
            self._stopping = True
        elif isinstance(item, _Reading):
            if self.machine.knows(item.sensor_key):
                self.last_values[item.sensor_key] = f"{item.signal.value}={int(item.value)}"
                self._live_dirty = True
                self._store(
                    self.machine.observe(item.sensor_key, item.signal, item.ts_ms, item.value)
                )
        elif isinstance(item, link_events.Acked):
            self._acked(item)
        elif isinstance(item, link_events.Connected):
            self.inflight.restamp(self._mono_ms())
            self._next_status_mono = 0.0
        elif isinstance(item, link_events.ConfigReceived):
            self._apply_config(item.payload)

    def _tick(self) -> None:
        now = self.clock()
        self.last_tick_ms = now
        extra = []
        if now >= self._next_alive_ms:
            extra.append({"ts": now, "type": "alive"})
            self._next_alive_ms = now + self.heartbeat_s * 1000
        self._store(self.machine.tick(now), extra)
        self._check_pins(now)
        mono = time.monotonic()
        if mono >= self._next_status_mono and self.link is not None and self.link.connected:
            self.link.publish_status(encode(self.status(online=True)))
            self._next_status_mono = mono + self.heartbeat_s
        if self._live_dirty or mono - self._live_written_mono >= self.heartbeat_s:
            self._write_live(mono)
        for mid in self.inflight.expired(self._mono_ms(), self.limits):
            flight = self.inflight.rejected(mid)
            log.warning("outbox_ack_timeout", mid=mid, lo=flight.lo if flight else None)

    def _check_pins(self, now: int) -> None:
        """Read every PIR pin: one that fails makes its desk unknown until it reads again."""
        for key, level in self.pins.levels().items():
            if level is None and key not in self.failed_pins:
                self.failed_pins.add(key)
                log.warning("gpio_read_failed", sensor=key)
                self._store(self.machine.observe(key, Signal.READ_FAILED, now))
            elif level is not None and key in self.failed_pins:
                self.failed_pins.discard(key)
                log.info("gpio_read_again", sensor=key, level=level)
                self._store(self.machine.observe(key, Signal.LEVEL, now, level))

    def _store(self, changes: list[Change], extra: list[dict[str, Any]] | None = None) -> None:
        events: list[dict[str, Any]] = [
            {
                "ts": c.ts_ms,
                "type": "desk",
                "desk": c.desk,
                "source": c.source.value,
                "state": c.state.value,
            }
            for c in changes
        ]
        events.extend(extra or [])
        if not events:
            return
        floor = self.outbox.last_ts_ms
        for event in events:
            # (ts, seq) must stay the order things happened, even if the clock stepped back.
            event["ts"] = max(event["ts"], floor)
        try:
            self.outbox.append(events)
        except OutboxFullError as error:
            # Nothing left to evict: keep sensing; the next alive tries again
            # (status says disk_full).
            self.dropped_events += len(events)
            log.error("outbox_write_failed", error=str(error), dropped_total=self.dropped_events)
            return
        self._live_dirty = True
        for c in changes:
            log.info(
                "desk_changed",
                desk=c.desk,
                state=c.state.value,
                source=c.source.value,
                ts_ms=c.ts_ms,
            )

    # -- sending ------------------------------------------------------------------
    @staticmethod
    def _mono_ms() -> int:
        return time.monotonic_ns() // 1_000_000

    def _wants_to_send(self) -> bool:
        return (
            self.link is not None
            and self.link.connected
            and self.outbox.next_seq - 1 > self.inflight.cursor
            and self.inflight.room(self.limits) > 0
        )

    def _pump(self) -> None:
        if time.monotonic() < self._paused_until:
            return
        while self._wants_to_send():
            rows = self.outbox.pending(self.inflight.cursor, self.limits.max_events_per_message)
            if not rows:
                return
            n = events_that_fit(
                [len(body) for _, body in rows],
                self.limits.max_events_per_message,
                self.limits.max_message_bytes,
            )
            now = self._mono_ms()
            if self._bucket.wait_ms(n, now) > 0:
                return
            rows = rows[:n]
            bodies = ",".join(b for _, b in rows)
            payload = f'{{"node":"{self.config.node}","events":[{bodies}]}}'.encode()
            mid = self.link.publish_events(payload)
            if mid is None:
                return
            self._bucket.take(n, now)
            self.inflight.sent(mid, rows[0][0], rows[-1][0], now)

    def _acked(self, ack: link_events.Acked) -> None:
        if ack.ok:
            flight = self.inflight.acked(ack.mid)
            if flight is not None:
                self.outbox.delete_range(flight.lo, flight.hi)
            return
        flight = self.inflight.rejected(ack.mid)
        self._paused_until = time.monotonic() + REJECT_PAUSE_S
        if ack.reason == "No matching subscribers":
            log.warning(
                "outbox_no_subscriber",
                lo=flight.lo if flight else None,
                hint="ingest is not subscribed (broker restarted?); kept in the outbox, retrying",
            )
            return
        log.error(
            "outbox_publish_rejected",
            reason=ack.reason,
            lo=flight.lo if flight else None,
            hint="check the broker ACL allows this node to publish on its events topic",
        )

    def _apply_config(self, payload: bytes) -> None:
        try:
            message = CONFIG_ADAPTER.validate_json(payload)
        except ValueError as error:
            log.warning("config_rejected", reason="invalid", detail=str(error)[:300])
            return
        if message.node != self.config.node:
            log.warning("config_rejected", reason="node_mismatch", node=message.node)
            return
        if message.heartbeat_s is not None and message.heartbeat_s != self.heartbeat_s:
            self._next_alive_ms += (message.heartbeat_s - self.heartbeat_s) * 1000
            self.heartbeat_s = message.heartbeat_s
            self._next_status_mono = 0.0
        for sensor in message.sensors:
            if sensor.hold_s is not None and self.machine.knows(sensor.key):
                self.machine.set_hold(sensor.key, sensor.hold_s)
        log.info(
            "config_applied",
            heartbeat_s=self.heartbeat_s,
            holds={s.key: s.hold_s for s in message.sensors if s.hold_s},
        )

    def _write_live(self, mono: float) -> None:
        """The live view for `hubsense edge watch`, at most once a second."""
        if 0 <= mono - self._live_written_mono < 1.0:
            return
        write_live_view(self.config.live_path, live_view(self))
        self._live_dirty = False
        self._live_written_mono = mono

    def status(self, online: bool) -> StatusMessage:
        message: StatusMessage = status_message(self, online)
        return message

    async def _shutdown(self) -> None:
        if self.ready:
            self._store([], [{"ts": self.clock(), "type": "stop"}])
            deadline = time.monotonic() + STOP_FLUSH_S
            self._paused_until = 0.0
            while time.monotonic() < deadline and self.outbox.depth and self.link.connected:
                self._pump()
                with contextlib.suppress(TimeoutError):
                    item = await asyncio.wait_for(self._queue.get(), timeout=0.05)
                    if isinstance(item, link_events.Acked):
                        self._acked(item)
        if self._scan_ble:
            await self.ble.stop()
        self.pins.close()
        if self.link is not None:
            self.link.stop()
        self.outbox.close()
        log.info("edge_stopped", node=self.config.node)
