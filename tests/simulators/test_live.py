"""Live and backfill publishing to a real Mosquitto, received by a real paho subscriber."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from itertools import pairwise

import pytest
from hubsense.simulators.fleet import Fleet, backfill, run_live
from hubsense.simulators.node import Outage
from hubsense.simulators.world import NO_FAULTS, Faults, World

from hubsense.inventory.model import Inventory
from hubsense.wire import EVENTS_ADAPTER, STATUS_ADAPTER, EventType, parse_topic

pytestmark = pytest.mark.service

T0 = 1_772_406_000_000  # 2026-03-02 00:00 Europe/Stockholm (a Monday)
MINUTE = 60_000
NODES = {"pi-hq-1": "hq", "pi-hq-2": "hq", "pi-hub-a": "hub-a"}


def _events_by_node(messages: list[tuple[str, bytes, bool]]) -> dict[str, list]:  # type: ignore[type-arg]
    out: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
    for topic, payload, _ in messages:
        parsed = parse_topic(topic)
        if parsed is not None and parsed.kind.value == "events":
            message = EVENTS_ADAPTER.validate_json(payload)
            assert message.node == parsed.node
            out[message.node].extend(message.events)
    return out


def _statuses(messages: list[tuple[str, bytes, bool]], node: str) -> list:  # type: ignore[type-arg]
    """Status messages sent while subscribed (not the retained one left by an earlier test)."""
    return [
        STATUS_ADAPTER.validate_json(payload)
        for topic, payload, retained in messages
        if topic == f"hubsense/v1/{NODES[node]}/{node}/status" and not retained
    ]


def test_live_publish_topics_status_and_stop(inventory: Inventory, mqtt_broker, collector) -> None:  # type: ignore[no-untyped-def]
    sub = collector()
    start = T0 + 8 * 3600_000  # 08:00 local on a workday: people arrive
    summary, seqs = run_live(
        inventory,
        mqtt_broker.url,
        seed=4,
        stop_event=threading.Event(),
        speed=600.0,  # one simulated minute per 0.1 s
        start_ms=start,
        duration_s=40 * 60,
        faults=NO_FAULTS,
    )
    events = sub.wait_for(
        lambda got: sum(len(v) for v in _events_by_node(got).values()) >= summary.events
    )
    by_node = _events_by_node(events)
    topics = {topic for topic, _, retained in events if not retained}
    assert topics == {
        f"hubsense/v1/{site}/{node}/{kind}"
        for node, site in NODES.items()
        for kind in ("events", "status")
    }
    assert summary.nodes == 3 and summary.events == sum(len(v) for v in by_node.values())
    for node, got in by_node.items():
        desks = len(inventory.node_by_id[node].sensors)
        assert [e.seq for e in got] == list(range(len(got)))
        assert seqs[node] == len(got)
        assert [e.type for e in got[: desks + 1]] == [EventType.DESK] * desks + [EventType.ALIVE]
        assert all(e.ts == start for e in got[: desks + 1])
        alives = [e.ts for e in got if e.type is EventType.ALIVE]
        assert alives == [start + i * MINUTE for i in range(40)]
        assert got[-1].type is EventType.STOP and got[-1].ts == start + 40 * MINUTE
        statuses = _statuses(events, node)
        online = [s for s in statuses if s.online]
        assert len(online) >= 30  # every simulated heartbeat
        assert online[-1].outbox_depth == 0 and online[-1].version and online[-1].cpu_temp_c
        assert set(online[-1].last_reading_age_s) == {
            s.key for s in inventory.node_by_id[node].sensors
        }
        assert statuses[-1].online is False  # clean shutdown says offline itself
    assert any(e.type is EventType.DESK and e.ts > start for got in by_node.values() for e in got)
    # The retained status is what a late subscriber sees first.
    ours = {f"hubsense/v1/{site}/{node}/status" for node, site in NODES.items()}
    late = collector("hubsense/v1/+/+/status")
    retained = late.wait_for(lambda got: ours <= {t for t, _, _ in got})
    mine = [(t, json.loads(p), r) for t, p, r in retained if t in ours]
    assert sorted(mine, key=lambda m: m[0]) == sorted(
        (
            (
                f"hubsense/v1/{site}/{node}/status",
                {"node": node, "online": False, "last_reading_age_s": {}},
                True,
            )
            for node, site in NODES.items()
        ),
        key=lambda m: m[0],
    )


def test_killed_connection_fires_last_will_and_restart_resends_states(
    inventory: Inventory,
    mqtt_broker,
    collector,  # type: ignore[no-untyped-def]
) -> None:
    sub = collector()
    world = World(inventory, 9, faults=NO_FAULTS)
    fleet = Fleet(world, mqtt_broker.url, seq_start={"pi-hub-a": 500})
    start = T0 + 10 * 3600_000
    # A crash of the hub node from +3 to +10 simulated minutes.
    fleet.members["pi-hub-a"].virtual.schedule_outage(
        Outage(start + 3 * MINUTE, start + 10 * MINUTE, clean=False)
    )
    fleet.connect()
    fleet.run_live(start, 600.0, threading.Event(), until_ms=start + 15 * MINUTE)
    got = sub.wait_for(
        lambda m: any(e.type is EventType.STOP for e in _events_by_node(m).get("pi-hub-a", []))
    )
    statuses = _statuses(got, "pi-hub-a")
    flags = [s.online for s in statuses]
    # online while running, the broker's will (offline, no version) after the kill, online again.
    will = flags.index(False)
    assert flags[:will] == [True] * will and will >= 2
    assert statuses[will].version is None and statuses[will].ts is None
    assert True in flags[will + 1 :] and flags[-1] is False
    hub = _events_by_node(got)["pi-hub-a"]
    assert [e.seq for e in hub] == list(range(500, 500 + len(hub)))
    alives = [e.ts for e in hub if e.type is EventType.ALIVE]
    assert alives == [start + i * MINUTE for i in (0, 1, 2)] + [
        start + i * MINUTE for i in range(10, 15)
    ]
    restart = [e for e in hub if e.ts == start + 10 * MINUTE]
    assert [e.type for e in restart] == [EventType.DESK] * 3 + [EventType.ALIVE]
    assert not any(e.type is EventType.STOP for e in hub[:-1])  # a crash sends no stop


def test_kill_without_disconnect_sets_retained_status_offline(
    inventory: Inventory,
    mqtt_broker,
    collector,  # type: ignore[no-untyped-def]
) -> None:
    fleet = Fleet(World(inventory, 1, faults=NO_FAULTS), mqtt_broker.url)
    fleet.connect()
    try:
        fleet.backfill(T0, T0 + 5 * MINUTE)
        before = collector("hubsense/v1/hq/pi-hq-2/status").wait_for(bool, timeout_s=10)
        assert STATUS_ADAPTER.validate_json(before[-1][1]).online is True
        fleet.members["pi-hq-2"].link.kill()
        late = collector("hubsense/v1/hq/pi-hq-2/status")
        retained = late.wait_for(
            lambda got: bool(got) and not STATUS_ADAPTER.validate_json(got[-1][1]).online,
            timeout_s=10,
        )
        will = json.loads(retained[-1][1])
        assert (will["node"], will["online"], "version" in will) == ("pi-hq-2", False, False)
        assert retained[-1][2] is True
    finally:
        fleet.close(T0 + 5 * MINUTE)


def test_backfill_delivers_every_event_exactly_once(
    inventory: Inventory, mqtt_broker, collector
) -> None:  # type: ignore[no-untyped-def]
    sub = collector("hubsense/v1/+/+/events")
    days = 4
    end = T0 + days * 24 * 60 * MINUTE
    faults = Faults(crash=0.3, restart=0.3)
    summary, seqs = backfill(
        inventory, mqtt_broker.url, duration_s=days * 86_400, seed=13, end_ms=end, faults=faults
    )
    got = _events_by_node(sub.wait_for(lambda m: len(m) >= summary.messages, timeout_s=60))
    world = World(inventory, 13, faults=faults)
    expected_total = 0
    for node_id in NODES:
        expected, _ = world.node_events(inventory.node_by_id[node_id], T0, end)
        received = got[node_id]
        assert [e.seq for e in received] == list(range(len(expected) + 1))  # + the final stop
        assert [(e.seq, e.ts, e.type) for e in received[:-1]] == [
            (e.seq, e.ts, e.type) for e in expected
        ]
        assert received[-1].type is EventType.STOP and received[-1].ts == end
        assert seqs[node_id] == len(received)
        expected_total += len(received)
    assert summary.events == expected_total > 3 * days * 1000
    # Batches of 50 events from the history, then the closing `stop` in a message of its own.
    assert summary.messages == sum(-(-(len(got[n]) - 1) // 50) + 1 for n in NODES)


def test_backfill_ending_in_a_crash_comes_back_live(
    inventory: Inventory,
    mqtt_broker,
    collector,  # type: ignore[no-untyped-def]
) -> None:
    sub = collector("hubsense/v1/hub-a/pi-hub-a/#")
    fleet = Fleet(World(inventory, 6, faults=NO_FAULTS), mqtt_broker.url, {"pi-hub-a": 40})
    end = T0 + 60 * MINUTE
    hub = fleet.members["pi-hub-a"]
    hub.virtual.schedule_outage(Outage(end - 5 * MINUTE, end + 5 * MINUTE, clean=False))
    fleet.connect()
    fleet.backfill(T0, end)
    assert hub.link.is_open is False  # off at the end of the history: the will said so
    fleet.run_live(end, 600.0, threading.Event(), until_ms=end + 8 * MINUTE)
    got = sub.wait_for(
        lambda m: any(e.type is EventType.STOP for e in _events_by_node(m).get("pi-hub-a", []))
    )
    events = _events_by_node(got)["pi-hub-a"]
    assert [e.seq for e in events] == list(range(40, 40 + len(events)))
    alives = [e.ts for e in events if e.type is EventType.ALIVE]
    assert alives == [T0 + i * MINUTE for i in range(55)] + [end + i * MINUTE for i in (5, 6, 7)]
    assert events[-1].ts == end + 8 * MINUTE
    flags = [s.online for s in _statuses(got, "pi-hub-a")]
    assert flags[-1] is False and flags.count(True) >= 2 and False in flags[:-1]


def test_backfill_then_fast_live_catches_up_and_never_runs_ahead(
    inventory: Inventory,
    mqtt_broker,
    collector,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    import time

    from hubsense.simulators.run import publish

    from hubsense.settings import load_settings

    sub = collector("hubsense/v1/hq/pi-hq-2/events")
    stop = threading.Event()
    timer = threading.Timer(4.0, stop.set)  # 2 h replayed at 3600x take 2 s, then real time
    timer.start()
    began_ms = int(time.time() * 1000)
    summary = publish(
        inventory,
        load_settings(),
        seed=3,
        mqtt_url=mqtt_broker.url,
        speed=3600.0,
        backfill_s=6 * 3600,
        state_file=tmp_path / "seq.json",
        faults=False,
        stop_event=stop,
    )
    finished_ms = int(time.time() * 1000)
    timer.join()
    got = sub.wait_for(
        lambda m: any(e.type is EventType.STOP for e in _events_by_node(m).get("pi-hq-2", []))
    )
    events = _events_by_node(got)["pi-hq-2"]
    assert [e.seq for e in events] == list(range(len(events)))
    assert max(e.ts for e in events) <= finished_ms  # never stamped in the future
    alives = [e.ts for e in events if e.type is EventType.ALIVE]
    # One unbroken heartbeat from 6 h ago to now: backfill, accelerated replay, real time.
    assert alives[0] <= began_ms - 6 * 3600_000 + 1000
    assert {b - a for a, b in pairwise(alives)} == {MINUTE}
    assert alives[-1] >= began_ms - MINUTE
    assert summary.nodes == 3 and summary.events >= 3 * 6 * 60
