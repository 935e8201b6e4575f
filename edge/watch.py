"""`hubsense edge watch`: a live terminal view of every sensor and desk of a node.

When the agent runs, it shows the agent's own live view (`live.json`, written
by the agent at most once a second): what the agent decided, its broker
connection and outbox depth. When the agent is stopped, watch opens the
sensors itself (GPIO pins, BLE scanner) and runs the same desk state machine,
so an installer can wave at a PIR and see its desk flip either way. It never
stores or sends events.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from hubsense.node_config import NodeConfig


def _read_live(config: NodeConfig) -> dict[str, Any] | None:
    """The agent's view if it is fresh (the agent rewrites it at least every heartbeat)."""
    path = config.live_path
    try:
        if time.time() - path.stat().st_mtime > 2 * config.heartbeat_s + 2:
            return None
        view: dict[str, Any] = json.loads(path.read_text())
        return view
    except (OSError, ValueError):
        return None


def render(view: dict[str, Any], source: str) -> Any:
    """A rich table of desks and sensors from a live view dict."""
    from rich.table import Table

    table = Table(title=f"node {view.get('node')} — {source}", expand=False)
    for column in ("desk", "state", "sensor", "reading"):
        table.add_column(column)
    sensors = view.get("sensors", {})
    for desk, state in view.get("desks", {}).items():
        colour = "red" if state == "occupied" else "green"
        for key, sensor in sensors.items():
            if sensor["desk"] == desk:
                table.add_row(desk, f"[{colour}]{state}[/]", key, str(sensor.get("reading")))
    ble = view.get("ble", {})
    table.caption = (
        f"broker {'connected' if view.get('connected') else 'NOT connected'} · "
        f"outbox {view.get('outbox_depth', '-')} · BLE adverts {ble.get('adverts', 0)}, "
        f"decoded {ble.get('decoded', 0)}, undecodable {ble.get('undecodable', 0)}, "
        f"replayed {ble.get('replayed', 0)}"
    )
    return table


def waiting_text(view: dict[str, Any]) -> str:
    return (
        f"agent of {view.get('node')} waits for the clock to be synchronised: a new outbox "
        "takes its first seq from the clock (check `timedatectl status`)"
    )


def watch_node(
    config: NodeConfig, duration_s: float | None, pin_factory: Any = None
) -> dict[str, Any] | None:
    """Render until Ctrl-C (or `duration_s`); returns the last view shown."""
    if _read_live(config) is not None:
        return _watch_agent(config, duration_s)
    return asyncio.run(_watch_sensors(config, duration_s, pin_factory))


def _watch_agent(config: NodeConfig, duration_s: float | None) -> dict[str, Any] | None:
    from rich.live import Live

    end = None if duration_s is None else time.monotonic() + duration_s
    view = None
    with Live(refresh_per_second=4) as live:
        while end is None or time.monotonic() < end:
            view = _read_live(config)
            if view is None:
                live.update(f"agent of {config.node} stopped writing {config.live_path}")
            elif view.get("waiting_for") == "clock_sync":
                live.update(waiting_text(view))
            else:
                live.update(render(view, "running agent"))
            time.sleep(0.25)
    return view


async def _watch_sensors(
    config: NodeConfig, duration_s: float | None, pin_factory: Any
) -> dict[str, Any]:
    """No agent running: read the sensors here, through the same machine as the agent."""
    from hubsense.edge.agent import sensor_specs, wall_clock_ms
    from hubsense.edge.core.machine import DeskMachine, Signal
    from hubsense.edge.io.ble import BleReading, BleScanner, BthomeDecoder
    from hubsense.edge.io.gpio import PirInputs
    from rich.live import Live

    machine = DeskMachine(sensor_specs(config), config.debounce_ms)
    loop = asyncio.get_running_loop()
    last: dict[str, str] = {}

    def on_pir(key: str, signal: Signal) -> None:
        now = wall_clock_ms()
        loop.call_soon_threadsafe(machine.observe, key, signal, now)

    def on_ble(readings: list[BleReading]) -> None:
        now = wall_clock_ms()
        for r in readings:
            last[r.sensor_key] = f"{r.signal.value}={int(r.value)}"
            machine.observe(r.sensor_key, r.signal, now, r.value)

    pins = PirInputs(config.pir_sensors, on_pir, pin_factory)
    decoder = BthomeDecoder(config.ble_sensors)
    scanner = BleScanner(decoder, on_ble, config.ble.adapter)
    for key, high in pins.start().items():
        if high:
            machine.observe(key, Signal.MOTION_START, wall_clock_ms())
    machine.start(wall_clock_ms())
    if config.ble_sensors:
        await scanner.start()
    end = None if duration_s is None else time.monotonic() + duration_s
    view: dict[str, Any] = {}
    try:
        with Live(refresh_per_second=4) as live:
            while end is None or time.monotonic() < end:
                machine.tick(wall_clock_ms())
                levels = pins.levels()
                view = {
                    "node": config.node,
                    "connected": None,
                    "outbox_depth": "-",
                    "desks": {
                        d: (s.value if (s := machine.state_of(d)) else None) for d in machine.desks
                    },
                    "sensors": {
                        s.key: {
                            "desk": s.desk,
                            "reading": {True: "high", False: "low", None: "read failed"}[
                                levels[s.key]
                            ]
                            if s.key in levels
                            else last.get(s.key),
                        }
                        for s in config.sensors
                    },
                    "ble": decoder.counters.totals(),
                }
                live.update(render(view, "sensors read directly (agent not running)"))
                await asyncio.sleep(0.25)
    finally:
        if config.ble_sensors:
            await scanner.stop()
        pins.close()
    return view
