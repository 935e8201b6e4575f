"""Silent and failing sensors make their desk `unknown` (SPEC §4), through the real agent.

The agent runs with gpiozero mock pins (one pin class that can be made to fail a read)
and hears BTHome adverts through the very callback bleak calls; its events go through
real Mosquitto and ingest into PostgreSQL. Time is a simulated clock, so "silent for ten
minutes" is a jump, not a wait.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from edge_helpers import Collector, SimClock, load_inventory, node_config, start_ingest
from gpiozero.pins.mock import MockFactory, MockPin
from hubsense.edge.embed import AgentThread
from hubsense.edge.io.ble import BTHOME_UUID
from hubsense.edge.io.bthome_adverts import build_advert
from support.database import query
from support.waiting import wait_for

pytestmark = pytest.mark.service

MAC = "A4:C1:38:00:00:0A"
BLE_DESK = "pi-s1-ble"
PIR_DESK = "pi-s1-d0"


class FlakyPin(MockPin):
    """A mock pin whose reads raise while `broken` (a loose wire, a dead GPIO chip)."""

    broken = False

    def _get_state(self) -> bool:
        if self.broken:
            raise OSError(5, "Input/output error")
        return bool(super()._get_state())


def hear(handle: AgentThread, payload: bytes) -> None:
    """What bleak does for an advert: detection_callback(device, advertisement), on its loop."""
    device = BLEDevice(MAC, None, None)
    adv = AdvertisementData(
        local_name=None,
        manufacturer_data={},
        service_data={BTHOME_UUID: payload},
        service_uuids=[BTHOME_UUID],
        tx_power=None,
        rssi=-60,
        platform_data=(),
    )
    loop: asyncio.AbstractEventLoop = handle.agent._loop  # type: ignore[assignment]
    loop.call_soon_threadsafe(handle.agent.ble.detection_callback, device, adv)


def desk_states(collector: Collector, desk: str) -> list[tuple[str, int]]:
    with collector.lock:
        return [(e["state"], e["ts"]) for e in collector.events if e.get("desk") == desk]


def test_silent_ble_sensor_and_failing_pin_make_their_desks_unknown_until_heard_again(
    tmp_path: Path, mqtt_broker: Any, db_dsn: str, collector: Collector
) -> None:
    ble = [{"type": "bthome", "address": MAC, "desk": BLE_DESK, "advert_interval_s": 120}]
    config = node_config(tmp_path, mqtt_broker.url, "pi-s1", pins=1, ble=ble)
    assert config.ble_sensors[0].stale_after_s == 600  # 3 x 120 s is less than ten minutes
    load_inventory(db_dsn, config)
    ingest = start_ingest(db_dsn, mqtt_broker.url, "edge-unknown")
    # Fifteen minutes behind, so the jump below stays in ingest's past (no ts_in_future).
    clock = SimClock(int(time.time() * 1000) - 900_000)
    handle = AgentThread(config, pin_factory=MockFactory(pin_class=FlakyPin), clock_ms=clock)
    try:
        handle.start()
        wait_for(lambda: desk_states(collector, BLE_DESK), what="start state of the BLE desk")

        hear(handle, build_advert([("packet_id", 1), ("occupancy", 1)]))
        wait_for(lambda: len(desk_states(collector, BLE_DESK)) >= 2, what="occupied")
        (_, heard_ms) = desk_states(collector, BLE_DESK)[1]
        # The battery dies: nothing heard for 601 s. Unknown from exactly heard + 600 s.
        clock.jump(601_000)
        wait_for(lambda: len(desk_states(collector, BLE_DESK)) >= 3, what="unknown")
        assert desk_states(collector, BLE_DESK)[2] == ("unknown", heard_ms + 600_000)
        # A new battery: the next advert says what is true again.
        hear(handle, build_advert([("packet_id", 2), ("occupancy", 0)]))
        wait_for(lambda: len(desk_states(collector, BLE_DESK)) >= 4, what="vacant again")

        pin = handle.pin(17)
        pin.broken = True
        wait_for(lambda: len(desk_states(collector, PIR_DESK)) >= 2, what="PIR unknown")
        assert handle.agent.failed_pins == {"gpio:17"}
        pin.broken = False
        wait_for(lambda: len(desk_states(collector, PIR_DESK)) >= 3, what="PIR read again")
        handle.stop()
        wait_for(
            lambda: query(db_dsn, "SELECT count(*) FROM events WHERE type = 'stop'")[0][0] == 1,
            what="everything stored",
        )
    finally:
        if handle._thread.is_alive():
            handle.stop()
        ingest.close()
    dead = query(db_dsn, "SELECT reason::text, detail FROM dead_letters")
    assert dead == []

    assert [s for s, _ in desk_states(collector, BLE_DESK)] == [
        "vacant",
        "occupied",
        "unknown",
        "vacant",
    ]
    assert [s for s, _ in desk_states(collector, PIR_DESK)] == ["vacant", "unknown", "vacant"]
    stored = query(
        db_dsn,
        "SELECT desk_id, state::text FROM events WHERE type = 'desk' ORDER BY ts, seq",
    )
    assert [s for d, s in stored if d == BLE_DESK] == ["vacant", "occupied", "unknown", "vacant"]
    assert [s for d, s in stored if d == PIR_DESK] == ["vacant", "unknown", "vacant"]
