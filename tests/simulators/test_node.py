"""Virtual nodes: contract-valid events, contiguous seq, alive spacing, hold time, outages."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from itertools import pairwise

from hubsense.simulators.messages import event_batches, offline_payload, status_payload
from hubsense.simulators.node import Outage, SimEvent, Transition, VirtualNode
from hubsense.simulators.world import NO_FAULTS, Faults, World, merge

from hubsense.inventory.model import GpioPirSensor, Inventory
from hubsense.wire import EVENTS_ADAPTER, STATUS_ADAPTER, DeskState, EventType, Source

OCC, VAC = DeskState.OCCUPIED, DeskState.VACANT
T0 = 1_772_406_000_000  # 2026-03-02 00:00 Europe/Stockholm
HOUR = 3_600_000


def _kinds(events: list[SimEvent]) -> list[tuple[int, int, str, str | None, str | None]]:
    return [(e.seq, e.ts, e.type.value, e.desk, e.state.value if e.state else None) for e in events]


def test_start_changes_heartbeat_and_outages_literal() -> None:
    node = VirtualNode("pi-x", 60, [("d1", Source.PIR), ("d2", Source.BLE)], seq_start=100)
    node.schedule(
        [
            Transition(T0 - 5_000, "d1", OCC),  # before the start: only the initial state
            Transition(T0 + 30_000, "d2", OCC),
            Transition(T0 + 30_000, "d2", OCC),  # a repeat is not a change
            Transition(T0 + 150_000, "d1", VAC),  # during the crash: seen at restart only
            Transition(T0 + 200_000, "d2", VAC),
        ]
    )
    node.schedule_outage(Outage(T0 + 100_000, T0 + 190_000, clean=False))
    node.schedule_outage(Outage(T0 + 250_000, T0 + 260_000, clean=True))
    events = node.start(T0) + node.advance(T0 + 330_000) + node.stop(T0 + 330_000)
    assert _kinds(events) == [
        (100, T0, "desk", "d1", "occupied"),
        (101, T0, "desk", "d2", "vacant"),
        (102, T0, "alive", None, None),
        (103, T0 + 30_000, "desk", "d2", "occupied"),
        (104, T0 + 60_000, "alive", None, None),
        # crash at +100 s: no stop, no alives until the restart at +190 s
        (105, T0 + 190_000, "desk", "d1", "vacant"),
        (106, T0 + 190_000, "desk", "d2", "occupied"),
        (107, T0 + 190_000, "alive", None, None),
        (108, T0 + 200_000, "desk", "d2", "vacant"),
        (109, T0 + 250_000, "stop", None, None),
        (110, T0 + 260_000, "desk", "d1", "vacant"),
        (111, T0 + 260_000, "desk", "d2", "vacant"),
        (112, T0 + 260_000, "alive", None, None),
        (113, T0 + 320_000, "alive", None, None),
        (114, T0 + 330_000, "stop", None, None),
    ]
    assert node.next_seq == 115
    assert node.running is False


def _world_events(inventory: Inventory, faults: Faults, days: int = 7) -> dict[str, list[SimEvent]]:
    world = World(inventory, 21, faults=faults)
    return {
        node.id: world.node_events(node, T0, T0 + days * 24 * HOUR, seq_start=7)[0]
        for site in inventory.sites
        for node in site.nodes
    }


def test_events_are_contract_valid_with_contiguous_seq(inventory: Inventory) -> None:
    stops = crashes = 0
    for node_id, events in _world_events(inventory, Faults(crash=0.5, restart=0.9)).items():
        assert [e.seq for e in events] == list(range(7, 7 + len(events)))
        assert all(a.ts <= b.ts for a, b in pairwise(events))
        decoded = []
        for payload, count in event_batches(node_id, events):
            message = EVENTS_ADAPTER.validate_json(payload)
            assert message.node == node_id and len(message.events) == count <= 50
            decoded.extend(message.events)
        assert [(e.seq, e.ts, e.type) for e in decoded] == [(e.seq, e.ts, e.type) for e in events]
        stops += sum(e.type is EventType.STOP for e in events)
        alives = [e.ts for e in events if e.type is EventType.ALIVE]
        crashes += sum(b - a > 15 * 60_000 for a, b in pairwise(alives))
    assert stops >= 5 and crashes >= 3  # 3 nodes x 7 days of frequent faults


def test_alive_spacing_is_heartbeat_between_starts(inventory: Inventory) -> None:
    events = _world_events(inventory, NO_FAULTS)["pi-hq-1"]
    alives = [e.ts for e in events if e.type is EventType.ALIVE]
    assert alives[0] == T0
    assert {b - a for a, b in pairwise(alives)} == {60_000}
    assert len(alives) == 7 * 24 * 60
    # After the start burst: 6 desk states then one alive, all at T0.
    assert [e.type for e in events[:7]] == [EventType.DESK] * 6 + [EventType.ALIVE]


def test_pir_hold_and_ble_direct(inventory: Inventory) -> None:
    world = World(inventory, 21, faults=NO_FAULTS)
    end = T0 + 7 * 24 * HOUR
    days = [dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(8)]
    presence: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for day in days:
        for visit in world.plan(day).visits:
            presence[visit.desk].extend(visit.presence_ms)
    for node_id, hold_s in (("pi-hq-1", 600), ("pi-hq-2", 0)):
        node = inventory.node_by_id[node_id]
        events, _ = world.node_events(node, T0, end)
        for sensor in node.sensors:
            if isinstance(sensor, GpioPirSensor):
                assert sensor.hold_s == hold_s
            desk_events = [e for e in events if e.desk == sensor.desk][1:]  # after the start state
            expected = merge([(a, b + hold_s * 1000) for a, b in presence[sensor.desk]])
            got = [(e.ts, e.state) for e in desk_events]
            assert got == [(t, s) for a, b in expected for t, s in ((a, OCC), (b, VAC))]
            ends = {b for _, b in presence[sensor.desk]}
            for ts, state in got:
                if state is VAC:  # hold_s after a leave, and nobody came back meanwhile
                    assert ts - hold_s * 1000 in ends
                    assert not any(
                        a < ts and b > ts - hold_s * 1000 for a, b in presence[sensor.desk]
                    )
        if hold_s:
            short = [
                (a[1], b[0])
                for intervals in (sorted(presence[s.desk]) for s in node.sensors)
                for a, b in pairwise(intervals)
                if 0 < b[0] - a[1] < hold_s * 1000
            ]
            assert short, "the plans have short breaks the hold must bridge"
            vacants = {e.ts for e in events if e.state is VAC}
            assert not any(leave + hold_s * 1000 in vacants for leave, _ in short)


def test_fused_desk_has_one_stream(inventory: Inventory) -> None:
    from hubsense.inventory.model import Inventory as Inv

    data = inventory.model_dump()
    node = data["sites"][1]["nodes"][0]
    node["sensors"].append({"type": "bthome", "address": "A4:C1:38:00:01:09", "desk": "hub-01"})
    fused = Inv.model_validate(data)
    world = World(fused, 2, faults=NO_FAULTS)
    hub_node = fused.node_by_id["pi-hub-a"]
    assert world.desks_of(hub_node) == [
        ("hub-01", Source.FUSED),
        ("hub-02", Source.BLE),
        ("hub-03", Source.PIR),
    ]
    assert world.hold_ms(hub_node) == {"hub-01": 300_000, "hub-02": 0, "hub-03": 300_000}
    events, _ = world.node_events(hub_node, T0, T0 + 24 * HOUR)
    assert [e.desk for e in events[:3]] == ["hub-01", "hub-02", "hub-03"]


def test_status_and_will_payloads_are_contract_valid() -> None:
    status = STATUS_ADAPTER.validate_json(
        status_payload("pi-x", T0, 12.5, {"gpio:17": 3.0, "ble:A4:C1:38:00:00:01": None}, 47.25)
    )
    assert status.online is True and status.outbox_depth == 0 and status.uptime_s == 12.5
    assert status.last_reading_age_s == {"gpio:17": 3.0, "ble:A4:C1:38:00:00:01": None}
    assert status.version is not None and status.version.startswith("hubsense-sim ")
    will = STATUS_ADAPTER.validate_json(offline_payload("pi-x"))
    assert (will.node, will.online, will.version) == ("pi-x", False, None)


def test_same_seed_same_events_other_window_agrees(inventory: Inventory) -> None:
    world = World(inventory, 8, faults=NO_FAULTS)
    node = inventory.node_by_id["pi-hq-2"]
    week, _ = world.node_events(node, T0, T0 + 7 * 24 * HOUR)
    again, _ = World(inventory, 8, faults=NO_FAULTS).node_events(node, T0, T0 + 7 * 24 * HOUR)
    assert week == again
    # A window starting mid-week sees the same desk changes (plans depend on the date only).
    later, _ = world.node_events(node, T0 + 3 * 24 * HOUR, T0 + 7 * 24 * HOUR)
    changes = {
        (e.ts, e.desk, e.state)
        for e in week
        if e.type is EventType.DESK and e.ts > T0 + 3 * 24 * HOUR
    }
    later_changes = {(e.ts, e.desk, e.state) for e in later[7:] if e.type is EventType.DESK}
    assert changes == later_changes and len(changes) > 20
