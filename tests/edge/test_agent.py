"""The real agent (mock GPIO pins, fed BLE adverts) against real Mosquitto, ingest, PostgreSQL."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from edge_helpers import Collector, load_inventory, node_config, start_ingest
from hubsense.edge.embed import AgentThread
from hubsense.edge.io.bthome_adverts import build_advert
from support.database import query
from support.waiting import wait_for

from hubsense.wire import EVENTS_ADAPTER, ConfigMessage, SensorConfig, StatusMessage, encode

pytestmark = pytest.mark.service

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
MAC = "A4:C1:38:00:00:09"


def desk_events(events: list[dict[str, Any]], desk: str) -> list[str]:
    return [e["state"] for e in events if e.get("desk") == desk]


def test_sensors_to_database_exactly_once(
    tmp_path: Path, mqtt_broker: Any, db_dsn: str, collector: Collector
) -> None:
    ble = [{"type": "bthome", "address": MAC, "desk": "pi-e1-ble", "bindkey": KEY.hex()}]
    config = node_config(tmp_path, mqtt_broker.url, "pi-e1", pins=2, ble=ble)
    load_inventory(db_dsn, config)
    ingest = start_ingest(db_dsn, mqtt_broker.url, "edge-e2e")
    try:
        agent = AgentThread(config).start()
        wait_for(lambda: len(collector.seqs()) >= 4, what="start events")
        agent.pin(17).drive_high()
        agent.feed_advert(MAC, build_advert([("occupancy", 1)], mac=MAC, bindkey=KEY, counter=1))
        agent.feed_advert(
            MAC, build_advert([("occupancy", 1)], mac="A4:C1:38:00:00:08", bindkey=KEY, counter=2)
        )  # wrong nonce: forged
        wait_for(
            lambda: "occupied" in desk_events(collector.events, "pi-e1-d0"), what="PIR occupied"
        )
        agent.pin(17).drive_low()  # hold_s 1: vacant about 1 s later
        wait_for(
            lambda: desk_events(collector.events, "pi-e1-d0") == ["vacant", "occupied", "vacant"],
            what="PIR vacant after hold",
        )
        assert agent.agent.decoder.counters.undecodable == 1
        status = wait_for(lambda: collector.status.get("pi-e1"), what="status")
        agent.stop()
        wait_for(lambda: collector.status["pi-e1"]["online"] is False, what="offline status")
        rows = wait_for(
            lambda: (
                (
                    r := query(
                        db_dsn,
                        "SELECT seq, type::text, desk_id, source::text, "
                        "state::text FROM events WHERE node_id = 'pi-e1' ORDER BY seq",
                    )
                )
                and r[-1][1] == "stop"
                and r
            ),
            what="rows in the database",
        )
    finally:
        ingest.close()
    seqs = [r[0] for r in rows]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gaps, each once (PK)
    assert sorted(collector.seqs()) == seqs
    # The start: every desk's state, then alive; the end: stop.
    assert [(r[1], r[2], r[4]) for r in rows[:4]] == [
        ("desk", "pi-e1-d0", "vacant"),
        ("desk", "pi-e1-d1", "vacant"),
        ("desk", "pi-e1-ble", "vacant"),
        ("alive", None, None),
    ]
    per_desk: dict[str, list[tuple[str, str]]] = {}
    for _seq, kind, desk, source, state in rows:
        if kind == "desk":
            per_desk.setdefault(desk, []).append((source, state))
    assert per_desk == {
        "pi-e1-d0": [("pir", "vacant"), ("pir", "occupied"), ("pir", "vacant")],
        "pi-e1-d1": [("pir", "vacant")],
        "pi-e1-ble": [("ble", "vacant"), ("ble", "occupied")],  # the forged advert did nothing
    }
    assert rows[-1][1] == "stop"
    # Status carried what an operator needs.
    parsed = StatusMessage.model_validate(status)
    assert parsed.online and parsed.version == "0.1.0" and parsed.uptime_s is not None
    assert set(parsed.last_reading_age_s) == {"gpio:17", "gpio:18", f"ble:{MAC}"}
    assert parsed.disk_full is False and parsed.outbox_depth is not None


def test_every_message_is_a_valid_batch_and_timestamps_are_ordered(
    tmp_path: Path, mqtt_broker: Any
) -> None:
    import paho.mqtt.client as mqtt

    config = node_config(tmp_path, mqtt_broker.url, "pi-e2", pins=3)
    payloads: list[bytes] = []
    sub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_message = lambda _c, _u, m: payloads.append(m.payload)
    sub.connect(mqtt_broker.host, mqtt_broker.port)
    sub.subscribe("hubsense/v1/edge-site/pi-e2/events", qos=1)
    sub.loop_start()
    time.sleep(0.3)
    agent = AgentThread(config).start()
    for i in range(20):
        pin = agent.pin(17 + i % 3)
        pin.drive_high() if i % 2 == 0 else pin.drive_low()
        time.sleep(0.15)
    agent.stop()
    wait_for(
        lambda: payloads and json.loads(payloads[-1])["events"][-1]["type"] == "stop", what="stop"
    )
    sub.loop_stop()
    events = [e for p in payloads for e in EVENTS_ADAPTER.validate_json(p).events]
    assert all(m.node == "pi-e2" for m in (EVENTS_ADAPTER.validate_json(p) for p in payloads))
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + len(events)))
    ts = [e.ts for e in events]
    assert ts == sorted(ts), "(ts, seq) order must be the order things happened"


def test_config_topic_changes_heartbeat_and_hold_live(
    tmp_path: Path, mqtt_broker: Any, collector: Collector
) -> None:
    import paho.mqtt.client as mqtt

    config = node_config(tmp_path, mqtt_broker.url, "pi-e3", pins=1, heartbeat_s=3600)
    config = config.model_copy(
        update={"sensors": [config.sensors[0].model_copy(update={"hold_s": 3600})]}
    )
    agent = AgentThread(config).start()
    wait_for(lambda: len(collector.seqs()) >= 2, what="start events")
    pub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect(mqtt_broker.host, mqtt_broker.port)
    pub.loop_start()
    desired = ConfigMessage(
        node="pi-e3", heartbeat_s=1, sensors=[SensorConfig(key="gpio:17", hold_s=1)]
    )
    pub.publish(
        "hubsense/v1/edge-site/pi-e3/config", encode(desired), qos=1, retain=True
    ).wait_for_publish(5)
    # A malformed and a foreign config are logged and ignored, never a crash.
    pub.publish("hubsense/v1/edge-site/pi-e3/config", b"{nope", qos=1).wait_for_publish(5)
    wait_for(lambda: agent.agent.heartbeat_s == 1, timeout_s=10, what="heartbeat applied")
    alives_before = sum(e["type"] == "alive" for e in collector.events)
    time.sleep(3.5)
    alives = sum(e["type"] == "alive" for e in collector.events) - alives_before
    assert 2 <= alives <= 5, alives  # ~one a second instead of one an hour
    agent.pin(17).drive_high()
    time.sleep(0.5)
    agent.pin(17).drive_low()
    started = time.monotonic()
    wait_for(
        lambda: (
            desk_events(collector.events, "pi-e3-d0")[-1:] == ["vacant"]
            and len(desk_events(collector.events, "pi-e3-d0")) == 3
        ),
        timeout_s=10,
        what="vacant",
    )
    assert time.monotonic() - started < 5  # hold 1 s (not 3600 s) was applied live
    pub.publish("hubsense/v1/edge-site/pi-e3/config", b"", qos=1, retain=True).wait_for_publish(5)
    pub.loop_stop()
    agent.stop()


def test_clean_restart_resumes_seq_and_resends_the_state(
    tmp_path: Path, mqtt_broker: Any, collector: Collector
) -> None:
    config = node_config(tmp_path, mqtt_broker.url, "pi-e4", pins=1)
    agent = AgentThread(config).start()
    agent.pin(17).drive_high()
    wait_for(lambda: "occupied" in desk_events(collector.events, "pi-e4-d0"), what="occupied")
    agent.stop()
    first_run = collector.seqs()
    # The PIR input is pulled down when it is opened (a disconnected PIR reads
    # "no motion"), so after the restart the desk's state is re-sent as vacant.
    agent = AgentThread(config, pin_factory=agent.pin_factory).start()
    wait_for(lambda: len(collector.seqs()) >= len(first_run) + 2, what="restart events")
    agent.stop()
    events = collector.events
    seqs = collector.seqs()
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    restart = events[len(first_run) :]
    assert (restart[0]["desk"], restart[0]["state"], restart[1]["type"]) == (
        "pi-e4-d0",
        "vacant",
        "alive",
    )
    assert events[len(first_run) - 1]["type"] == "stop"


def test_refuses_to_timestamp_before_its_last_recorded_event(
    tmp_path: Path, mqtt_broker: Any, collector: Collector
) -> None:
    from edge_helpers import SimClock
    from hubsense.edge.io.outbox import open_outbox

    last_ms = int(time.time() * 1000)
    box = open_outbox(tmp_path, "pi-e5", last_ms)
    box.append([{"ts": last_ms, "type": "alive"}])
    box.close()
    clock = SimClock(last_ms - 60_000)  # rebooted without RTC: a minute behind the last event
    config = node_config(tmp_path, mqtt_broker.url, "pi-e5", pins=1)
    handle = AgentThread(config, clock_ms=clock)
    handle._thread.start()
    time.sleep(1.5)
    assert handle.agent.ready is False  # waiting, not sensing with a wrong clock
    clock.jump(60_000)  # NTP sets the clock
    wait_for(lambda: handle.agent.ready, timeout_s=5, what="sensing after the clock is set")
    wait_for(
        lambda: len([e for e in collector.events if e.get("type") == "alive"]) >= 2, what="events"
    )
    handle.stop()
    assert all(e["ts"] >= last_ms for e in collector.events)
    assert collector.events[0]["seq"] == last_ms * 1000  # the old alive, sent first


def test_a_fresh_outbox_waits_for_clock_sync_then_starts_at_its_ms_times_1000(
    tmp_path: Path, mqtt_broker: Any, collector: Collector
) -> None:
    """A reflashed Pi: no outbox, clock not yet synchronised. It waits, visibly."""
    from edge_helpers import SimClock
    from hubsense.edge.doctor import Status, check_outbox

    synced = {"now": False}
    start_ms = 1_800_000_000_000
    clock = SimClock(start_ms)

    config = node_config(
        tmp_path, mqtt_broker.url, "pi-e6", pins=1, outbox={"wait_for_clock_sync": True}
    )
    handle = AgentThread(config, clock_ms=clock, clock_synced=lambda: synced["now"])
    handle._thread.start()
    wait_for(lambda: config.live_path.exists(), what="the live view of the wait")
    assert json.loads(config.live_path.read_text())["waiting_for"] == "clock_sync"
    assert handle.agent.waiting_for == "clock_sync" and handle.agent.ready is False
    assert not (tmp_path / "outbox.sqlite3").exists()  # no seq handed out yet
    doctor = check_outbox(config)
    assert doctor.status is Status.FAIL and "waits for the clock" in doctor.detail
    clock.jump(3_600_000)  # NTP steps the clock an hour ahead, then reports sync
    synced["now"] = True
    wait_for(lambda: handle.agent.ready, timeout_s=5, what="sensing after sync")
    wait_for(lambda: len(collector.events) >= 2, what="the first events")
    handle.stop()
    seq0 = collector.events[0]["seq"]
    assert seq0 % 1000 == 0
    # The seed is the synced clock's ms * 1,000, not the unsynced start's.
    assert start_ms + 3_600_000 <= seq0 // 1000 <= collector.events[0]["ts"]


def test_an_existing_outbox_does_not_wait_for_clock_sync(
    tmp_path: Path, mqtt_broker: Any, collector: Collector
) -> None:
    from hubsense.edge.io.outbox import open_outbox

    now = int(time.time() * 1000)
    open_outbox(tmp_path, "pi-e7", now).close()
    config = node_config(
        tmp_path, mqtt_broker.url, "pi-e7", pins=1, outbox={"wait_for_clock_sync": True}
    )
    handle = AgentThread(config, clock_synced=lambda: False).start(timeout_s=10)
    assert handle.agent.waiting_for is None
    handle.stop()
