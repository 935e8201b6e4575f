"""`hubsense simulate --via-edge`: real edge agents driven by simulated people.

The schedule tests are pure. The service tests run real agents (mock GPIO pins,
fed BTHome adverts) against the real Mosquitto, ingest and PostgreSQL.
"""

from __future__ import annotations

import itertools
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hubsense.simulators.edge_driver import (
    Action,
    ActionKind,
    EdgeFleet,
    SensorSchedule,
    Timing,
    pir_pulses,
)
from hubsense.simulators.run import publish

from hubsense.errors import ConfigError
from hubsense.inventory.model import Inventory, Node
from hubsense.settings import Settings

sys.path.insert(0, str(Path(__file__).parents[1] / "edge"))

KEY = "00112233445566778899aabbccddeeff"
MAC = "A4:C1:38:00:00:42"
PIR_HOLD_S = 2


def _inventory() -> Inventory:
    pir = {"type": "gpio_pir", "pin": 17, "desk": "vs-pir", "hold_s": PIR_HOLD_S}
    ble = {"type": "bthome", "address": MAC, "desk": "vs-ble", "bindkey": KEY}
    return Inventory.model_validate(
        {
            "organisation": "Via edge",
            "sites": [
                {
                    "id": "vs",
                    "name": "Via-edge office",
                    "kind": "office",
                    "timezone": "UTC",
                    "desks": [{"id": "vs-pir"}, {"id": "vs-ble"}],
                    "nodes": [
                        {"id": "pi-vs-1", "heartbeat_s": 3, "sensors": [pir]},
                        {"id": "pi-vs-2", "heartbeat_s": 3, "sensors": [ble]},
                    ],
                }
            ],
        }
    )


# -- the pure schedule ------------------------------------------------------------------


def test_pir_pulses_while_present_and_on_getting_up() -> None:
    timing = Timing()
    pulses = pir_pulses((0, 600_000), random.Random(1), timing)
    assert pulses[0] == (0, timing.pulse_ms)  # motion on arrival
    assert pulses[-1] == (600_000 - timing.pulse_ms, 600_000)  # and on getting up
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(pulses[:-1])]
    assert gaps and all(30_000 <= g <= 60_000 for g in gaps)
    assert all(b - a == timing.pulse_ms for a, b in pulses[:-1])
    assert pulses[-1][1] - pulses[-1][0] >= timing.pulse_ms  # may merge with the one before


def test_schedule_drives_pins_and_adverts_from_presence() -> None:
    inv = _inventory()
    sensors = [s for node in inv.sites[0].nodes for s in node.sensors]
    timing = Timing(pulse_ms=1_000, motion_every_ms=(30_000, 30_000), advert_every_ms=60_000)
    schedule = SensorSchedule(sensors, start_ms=100_000, seed="t", timing=timing)
    # Before the start is cut; repeats are ignored.
    schedule.add_presence("vs-pir", [(40_000, 110_000), (200_000, 250_000)])
    schedule.add_presence("vs-pir", [(200_000, 250_000)])
    schedule.add_presence("vs-ble", [(130_000, 190_000)])
    schedule.add_presence("not-here", [(0, 1)])
    got = schedule.due(260_000)
    assert got == sorted(got, key=lambda a: (a.ts_ms, a.kind))
    pir = [(a.ts_ms, a.kind) for a in got if a.sensor_key == "gpio:17"]
    assert pir == [
        (100_000, ActionKind.PIN_HIGH),
        (101_000, ActionKind.PIN_LOW),
        (109_000, ActionKind.PIN_HIGH),
        (110_000, ActionKind.PIN_LOW),
        (200_000, ActionKind.PIN_HIGH),
        (201_000, ActionKind.PIN_LOW),
        (230_000, ActionKind.PIN_HIGH),
        (231_000, ActionKind.PIN_LOW),
        (249_000, ActionKind.PIN_HIGH),
        (250_000, ActionKind.PIN_LOW),
    ]
    ble = [(a.ts_ms, a.value) for a in got if a.sensor_key == f"ble:{MAC}"]
    # The state at the start and every minute, plus each change.
    assert ble == [(100_000, 0), (130_000, 1), (160_000, 1), (190_000, 0), (220_000, 0)]
    assert schedule.due(260_000) == []
    assert schedule.due(280_000) == [Action(280_000, ActionKind.ADVERT, f"ble:{MAC}", 0)]


def test_via_edge_is_real_time_only() -> None:
    with pytest.raises(ConfigError, match="--via-edge: real edge agents run in real time only"):
        publish(
            _inventory(),
            Settings(),
            seed=1,
            mqtt_url="mqtt://127.0.0.1:1",
            speed=60.0,
            via_edge=True,
        )
    with pytest.raises(ConfigError, match=r"--via-edge: .* leave out --start"):
        publish(
            _inventory(),
            Settings(),
            seed=1,
            mqtt_url="mqtt://127.0.0.1:1",
            start_ms=1_772_406_000_000,
            via_edge=True,
        )


# -- real agents, broker, ingest, database -------------------------------------------------


@pytest.mark.service
def test_people_drive_real_agents_into_the_database(
    tmp_path: Path, mqtt_broker: Any, db_dsn: str
) -> None:
    from edge_helpers import start_ingest
    from support.database import query
    from support.waiting import wait_for

    from hubsense.db.inventory_sync import apply_inventory

    inv = _inventory()
    apply_inventory(db_dsn, inv)
    t0 = int(time.time() * 1000)
    arrive, leave = t0 + 1_500, t0 + 6_000
    present = {"vs-pir": [(arrive, leave)], "vs-ble": [(arrive, leave)]}

    def presence(node: Node, start_ms: int, end_ms: int) -> dict[str, list[tuple[int, int]]]:
        return {desk: present[desk] for desk in node.desk_ids}

    fleet = EdgeFleet(
        inv,
        mqtt_broker.url,
        tmp_path / "edge",
        presence,
        seed=3,
        timing=Timing(pulse_ms=1_000, motion_every_ms=(1_500, 2_000), advert_every_ms=2_000),
        config_extra={"debounce_ms": 100, "tick_s": 0.05},
    )
    ingest = start_ingest(db_dsn, mqtt_broker.url, "via-edge")
    try:
        fleet.start()
        end = fleet.run(threading.Event(), until_ms=leave + PIR_HOLD_S * 1000 + 3_000)
        assert end >= leave + PIR_HOLD_S * 1000
        sql = (
            "SELECT seq, (extract(epoch FROM ts) * 1000)::bigint, type::text, desk_id, "
            "source::text, state::text FROM events WHERE node_id = %s ORDER BY seq"
        )
        rows = {
            node: wait_for(
                lambda node=node: (r := query(db_dsn, sql, (node,))) and r[-1][2] == "stop" and r,
                what=f"{node}'s stop in the database",
            )
            for node in ("pi-vs-1", "pi-vs-2")
        }
    finally:
        ingest.close()

    next_seqs = fleet.next_seqs()
    for node, node_rows in rows.items():
        seqs = [r[0] for r in node_rows]
        # The agents' outbox seqs: contiguous from the first one the agent stored to its last.
        assert seqs == list(range(fleet.first_seqs[node], next_seqs[node]))
        assert seqs[0] > 10**15  # a fresh outbox seeds its seqs from the clock
        kinds = [r[2] for r in node_rows]
        assert kinds[:2] == ["desk", "alive"] and kinds[-1] == "stop"
        assert kinds.count("alive") >= 3  # at the start and every heartbeat_s (3 s)
    pir = [(r[1], r[4], r[5]) for r in rows["pi-vs-1"] if r[2] == "desk"]
    ble = [(r[1], r[4], r[5]) for r in rows["pi-vs-2"] if r[2] == "desk"]
    assert [(s, st) for _, s, st in pir] == [
        ("pir", "vacant"),
        ("pir", "occupied"),
        ("pir", "vacant"),
    ]
    assert [(s, st) for _, s, st in ble] == [
        ("ble", "vacant"),
        ("ble", "occupied"),
        ("ble", "vacant"),
    ]
    # Occupied on arrival (gpiozero samples at 2 Hz); vacant hold_s after the last motion,
    # which is the pulse on getting up.
    assert arrive <= pir[1][0] < arrive + 1_000
    assert leave + PIR_HOLD_S * 1000 - 100 <= pir[2][0] < leave + PIR_HOLD_S * 1000 + 1_000
    # BLE occupancy maps directly: occupied and vacant as the person comes and goes.
    assert arrive <= ble[1][0] < arrive + 500
    assert leave <= ble[2][0] < leave + 500
    assert fleet.events_stored() == sum(len(r) for r in rows.values())


@pytest.mark.service
def test_publish_via_edge_runs_agents_under_the_state_dir(
    tmp_path: Path, mqtt_broker: Any, collector: Any
) -> None:
    sub = collector("hubsense/v1/vs/+/events")
    summary = publish(
        _inventory(),
        Settings(),
        seed=5,
        mqtt_url=mqtt_broker.url,
        duration_s=2,
        state_file=tmp_path / "simulator-seq.json",
        faults=False,
        via_edge=True,
    )
    assert summary.nodes == 2
    for node in ("pi-vs-1", "pi-vs-2"):
        assert (tmp_path / "simulator-edge" / node / "live.json").exists()
    got = sub.wait_for(lambda m: sum(b'"stop"' in p for _, p, _ in m) >= 2)
    assert {t.split("/")[3] for t, _, _ in got} == {"pi-vs-1", "pi-vs-2"}
    assert summary.events >= 2 * 3  # per node: its desk, an alive, stop
