"""`hubsense edge doctor`: an installer's checklist, each line PASS/WARN/FAIL with a fix.

Checks: config valid, GPIO readable, BLE adapter present, each BLE sensor heard
recently, broker reachable, credentials accepted, publish allowed on the node's
own status topic and subscribe allowed on its config topic, clock synchronised,
outbox healthy, disk space. It publishes only the node's own retained status
(what the agent publishes anyway) and never writes events. A denied publish
shows in the MQTT 5 PUBACK; Mosquitto grants a SUBACK even where its ACL will
not deliver, so the subscribe check reports only what the broker answered.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import ssl
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from hubsense.edge.io import system

from hubsense.checks import Check, Status
from hubsense.errors import HubsenseError
from hubsense.mqtt_url import parse_mqtt_url
from hubsense.node_config import NodeConfig, load_node_config
from hubsense.wire import StatusMessage, TopicKind, encode, node_topic

_MIN_FREE_BYTES = 100 * 1024 * 1024  # a day's backlog is kilobytes; logs and updates need more


def run_checks(config_path: Path, listen_s: float = 15.0, pin_factory: Any = None) -> list[Check]:
    """Every check in order; a config that does not load stops the list there."""
    try:
        config = load_node_config(config_path)
    except HubsenseError as error:
        return [
            Check("config valid", Status.FAIL, str(error), "correct the named field in node.yaml")
        ]
    checks = [
        Check(
            "config valid",
            Status.PASS,
            f"node {config.node} at site {config.site}, {len(config.sensors)} sensors",
        )
    ]
    checks.append(check_gpio(config, pin_factory))
    checks.extend(check_ble(config, listen_s))
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


def check_broker(config: NodeConfig, timeout_s: float) -> list[Check]:
    url = parse_mqtt_url(config.broker.url)
    try:
        with socket.create_connection((url.host, url.port), timeout=min(timeout_s, 10)) as sock:
            if url.tls:
                context = ssl.create_default_context(
                    cafile=str(config.broker.ca_file) if config.broker.ca_file else None
                )
                with context.wrap_socket(sock, server_hostname=url.host):
                    pass
    except (OSError, ssl.SSLError) as error:
        return [
            Check(
                "broker reachable",
                Status.FAIL,
                f"{url.redacted()}: {error}",
                "check the network, the broker URL and port, and (mqtts) the CA file",
            )
        ]
    checks = [Check("broker reachable", Status.PASS, url.redacted())]
    return checks + _mqtt_session_checks(config, min(timeout_s, 10))


def _mqtt_session_checks(config: NodeConfig, timeout_s: float) -> list[Check]:
    from hubsense.edge.io.mqtt import MqttLink

    got: dict[str, Any] = {}
    done = {k: threading.Event() for k in ("connack", "puback", "suback")}

    def on_event(event: Any) -> None:
        name = type(event).__name__
        if name in ("Connected", "ConnectRefused"):
            got["connack"] = event
            done["connack"].set()

    link = MqttLink(config, on_event, max_in_flight=1)
    client = link._client  # the doctor inspects the very client the agent would use

    def on_publish(_c: Any, _u: Any, _mid: int, reason: Any, _p: Any) -> None:
        got["puback"] = reason
        done["puback"].set()

    def on_subscribe(_c: Any, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        got["suback"] = reasons
        done["suback"].set()

    client.on_publish = on_publish
    client.on_subscribe = on_subscribe
    link.start()
    try:
        if not done["connack"].wait(timeout_s):
            return [
                Check("credentials accepted", Status.FAIL, "no CONNACK", "check the broker logs")
            ]
        if type(got["connack"]).__name__ == "ConnectRefused":
            return [
                Check(
                    "credentials accepted",
                    Status.FAIL,
                    got["connack"].reason,
                    "check broker.username and the password (file) for this node",
                )
            ]
        checks = [
            Check(
                "credentials accepted", Status.PASS, f"as {config.broker.username or 'anonymous'}"
            )
        ]
        running = (
            time.time() - config.live_path.stat().st_mtime < 2 * config.heartbeat_s + 2
            if config.live_path.exists()
            else False
        )
        status = StatusMessage(node=config.node, online=running, ts=time.time_ns() // 1_000_000)
        client.publish(link.status_topic, encode(status), qos=1, retain=True)
        ok = done["puback"].wait(timeout_s) and not got["puback"].is_failure
        checks.append(
            Check(
                "publish allowed on own topics",
                Status.PASS if ok else Status.FAIL,
                f"{link.status_topic}: {got.get('puback', 'no PUBACK')}",
                f"allow this node to write hubsense/v1/{config.site}/{config.node}/# in the ACL",
            )
        )
        done["suback"].wait(timeout_s)
        codes = got.get("suback") or []
        sub_ok = bool(codes) and not any(c.is_failure for c in codes)
        checks.append(
            Check(
                "subscribe allowed on config",
                Status.PASS if sub_ok else Status.FAIL,
                f"{node_topic(config.site, config.node, TopicKind.CONFIG)}: {codes or 'no SUBACK'}",
                "allow this node to read its config topic in the ACL",
            )
        )
        return checks
    finally:
        client.disconnect()
        client.loop_stop()


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
        return Check(
            "outbox healthy",
            Status.WARN,
            f"{path} does not exist yet",
            "start the agent once (systemctl start hubsense-edge)",
        )
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=5)
        try:
            integrity = db.execute("PRAGMA quick_check").fetchone()[0]
            depth, oldest = db.execute("SELECT count(*), min(ts_ms) FROM events").fetchone()
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
    status = Status.PASS if depth < 10_000 else Status.WARN
    return Check(
        "outbox healthy",
        status,
        f"{depth} events waiting{age}",
        "the broker has not acknowledged for a while: see the broker checks above",
    )


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
