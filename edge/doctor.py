"""`hubsense edge doctor`: an installer's checklist, each line PASS/WARN/FAIL with a fix.

Checks: config valid, GPIO readable, BLE adapter present, each BLE sensor heard
recently, broker reachable, credentials accepted, publish allowed on the node's
own status topic and subscribe allowed on its config topic, clock synchronised,
outbox healthy, disk space. It publishes only the node's own retained status
(what the agent publishes anyway) and never writes events. A denied publish
shows in the MQTT 5 PUBACK; Mosquitto grants a SUBACK even where its ACL will
not deliver, so the subscribe check reports only what the broker answered. The broker
checks live in `doctor_broker.py`.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any

from hubsense.edge.doctor_broker import BROKER_CHECKS, check_broker
from hubsense.edge.io import system
from hubsense.edge.io.outbox import PLAUSIBLE_AFTER_MS, SEQS_PER_MS

from hubsense.checks import Check, Status, skipped
from hubsense.errors import HubsenseError
from hubsense.node_config import NodeConfig, load_node_config

_MIN_FREE_BYTES = 100 * 1024 * 1024  # a day's backlog is kilobytes; logs and updates need more
_LOCAL_CHECKS = ("GPIO readable", "BLE adapter present", "clock synchronised", "outbox healthy")


def missing_files(config: NodeConfig) -> list[str]:
    """The broker files node.yaml names that cannot be read (the agent would fail on them)."""
    problems = []
    broker = config.broker
    for field, path in (("broker.password_file", broker.password_file),
                        ("broker.ca_file", broker.ca_file)):  # fmt: skip
        if path is None:
            continue
        try:
            path.read_bytes()
        except OSError as error:
            problems.append(f"{field} {path}: {(error.strerror or str(error)).lower()}")
    return problems


def run_checks(config_path: Path, listen_s: float = 15.0, pin_factory: Any = None) -> list[Check]:
    """Every check in order; what cannot run (its config is wrong) is listed as SKIP."""
    try:
        config = load_node_config(config_path)
    except HubsenseError as error:
        return [
            Check("config valid", Status.FAIL, str(error), "correct the named field in node.yaml"),
            *skipped((*_LOCAL_CHECKS, *BROKER_CHECKS, "disk space"), "config not valid"),
        ]
    problems = missing_files(config)
    if problems:
        checks = [
            Check(
                "config valid",
                Status.FAIL,
                "; ".join(problems),
                "install the file from the node's bundle (`hubsense provision node`) "
                "or correct the path in node.yaml",
            )
        ]
    else:
        checks = [
            Check(
                "config valid",
                Status.PASS,
                f"node {config.node} at site {config.site}, {len(config.sensors)} sensors",
            )
        ]
    checks.append(check_gpio(config, pin_factory))
    checks.extend(check_ble(config, listen_s))
    if problems:
        checks.extend(skipped(BROKER_CHECKS, "the broker files are missing"))
    else:
        checks.extend(check_broker(config, listen_s))
    checks.append(check_clock())
    checks.append(check_outbox(config))
    checks.append(check_disk(config))
    return checks


def check_gpio(config: NodeConfig, pin_factory: Any = None) -> Check:
    if not config.pir_sensors:
        return Check("GPIO readable", Status.PASS, "no PIR sensors configured")
    from hubsense.edge.io.gpio import PirInputs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gpiozero warns about factory fallbacks
        try:
            pins = PirInputs(config.pir_sensors, lambda _k, _s: None, pin_factory)
            levels = pins.start()
            pins.close()
        except HubsenseError as error:
            return Check(
                "GPIO readable",
                Status.FAIL,
                str(error),
                "run on the Pi as a user in group gpio, check the pin is free "
                "(stop the agent) and the wiring (BCM numbering)",
            )
    shown = ", ".join(f"{k}={'high' if v else 'low'}" for k, v in levels.items())
    return Check("GPIO readable", Status.PASS, shown)


def _adapters() -> list[str]:
    base = Path("/sys/class/bluetooth")
    return sorted(p.name for p in base.iterdir()) if base.exists() else []


def check_ble(config: NodeConfig, listen_s: float) -> list[Check]:
    if not config.ble_sensors:
        return [Check("BLE adapter present", Status.PASS, "no BLE sensors configured")]
    adapters = _adapters()
    wanted = config.ble.adapter
    if not adapters or (wanted and wanted not in adapters):
        return [
            Check(
                "BLE adapter present",
                Status.FAIL,
                f"no adapter {wanted or ''} (found: {', '.join(adapters) or 'none'})",
                "enable Bluetooth (dtparam / rfkill unblock bluetooth) and start bluetoothd",
            )
        ]
    checks = [Check("BLE adapter present", Status.PASS, ", ".join(adapters))]
    from hubsense.edge.io.ble import BleScanner, BthomeDecoder

    decoder = BthomeDecoder(config.ble_sensors)
    scanner = BleScanner(decoder, lambda _r: None, wanted)

    async def listen() -> None:
        await scanner.start()
        await asyncio.sleep(listen_s)
        await scanner.stop()

    try:
        asyncio.run(listen())
    except Exception as error:
        return [
            *checks,
            Check(
                "BLE scan",
                Status.FAIL,
                repr(error),
                "check bluetoothd runs and the user may use it (group bluetooth)",
            ),
        ]
    for sensor in config.ble_sensors:
        heard = sensor.key in decoder.counters.last_heard_s
        checks.append(
            Check(
                f"BLE sensor {sensor.address} heard",
                Status.PASS if heard else Status.FAIL,
                f"decoded within {listen_s:.0f} s"
                if heard
                else f"nothing decodable in {listen_s:.0f} s "
                f"(undecodable {decoder.counters.undecodable}, "
                f"replayed {decoder.counters.replayed})",
                "check the sensor's battery and distance, its address, and its bindkey",
            )
        )
    return checks


def check_clock() -> Check:
    synced = system.clock_synced()
    if synced is None:
        return Check(
            "clock synchronised",
            Status.WARN,
            "cannot tell (adjtimex unavailable)",
            "check `timedatectl status`",
        )
    if synced:
        return Check("clock synchronised", Status.PASS, "kernel reports NTP sync")
    return Check(
        "clock synchronised",
        Status.FAIL,
        "kernel reports the clock unsynchronised",
        "enable NTP: `timedatectl set-ntp true` and allow UDP 123 to the NTP server",
    )


def check_outbox(config: NodeConfig) -> Check:
    path = config.state_dir / "outbox.sqlite3"
    if not path.exists():
        if _live_waiting_for(config) == "clock_sync":
            return Check(
                "outbox healthy",
                Status.FAIL,
                "the agent waits for the clock to be synchronised before its first seq "
                "(a new outbox starts at the clock's Unix ms * 1,000)",
                "enable NTP: `timedatectl set-ntp true` and allow UDP 123 to the NTP server",
            )
        return Check(
            "outbox healthy",
            Status.WARN,
            f"{path} does not exist yet (created once the clock is synchronised)",
            "start the agent once (systemctl start hubsense-edge)",
        )
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=5)
        try:
            integrity = db.execute("PRAGMA quick_check").fetchone()[0]
            depth, oldest = db.execute("SELECT count(*), min(ts_ms) FROM events").fetchone()
            seq_row = db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        finally:
            db.close()
    except sqlite3.Error as error:
        return Check(
            "outbox healthy",
            Status.FAIL,
            f"{path}: {error}",
            "check the state_dir is writable by the agent's user",
        )
    if integrity != "ok":
        return Check(
            "outbox healthy",
            Status.FAIL,
            f"integrity: {integrity}",
            "stop the agent, move the outbox away, start again (unsent events are lost)",
        )
    age = (
        ""
        if oldest is None
        else f", oldest {(time.time_ns() // 1_000_000 - oldest) / 3_600_000:.1f} h"
    )
    if seq_row is not None and int(seq_row[0]) < PLAUSIBLE_AFTER_MS * SEQS_PER_MS:
        return Check(
            "outbox healthy",
            Status.WARN,
            f"{depth} events waiting{age}; next seq {seq_row[0]} did not start from the "
            "clock, so a reflashed node could reuse seqs (ingest dead-letters them)",
            "at the next SD card change the new outbox starts from the clock by itself",
        )
    status = Status.PASS if depth < 10_000 else Status.WARN
    return Check(
        "outbox healthy",
        status,
        f"{depth} events waiting{age}",
        "the broker has not acknowledged for a while: see the broker checks above",
    )


def _live_waiting_for(config: NodeConfig) -> str | None:
    """What a running agent says it waits for in its live view (None: not waiting)."""
    import json

    try:
        view = json.loads(config.live_path.read_text())
    except (OSError, ValueError):
        return None
    if time.time() - config.live_path.stat().st_mtime > 2 * config.heartbeat_s + 2:
        return None
    waiting = view.get("waiting_for") if isinstance(view, dict) else None
    return str(waiting) if waiting else None


def check_disk(config: NodeConfig) -> Check:
    free = system.disk_free_bytes(config.state_dir)
    if free is None:
        return Check("disk space", Status.WARN, f"cannot read free space of {config.state_dir}")
    mb = free // (1024 * 1024)
    if free < _MIN_FREE_BYTES // 10:
        return Check(
            "disk space", Status.FAIL, f"{mb} MiB free", "free space: journalctl --vacuum-size=50M"
        )
    if free < _MIN_FREE_BYTES:
        return Check(
            "disk space", Status.WARN, f"{mb} MiB free", "free space: journalctl --vacuum-size=50M"
        )
    return Check("disk space", Status.PASS, f"{mb} MiB free on {config.state_dir}")
