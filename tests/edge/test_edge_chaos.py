"""Fault injection: SIGKILL the agent while it publishes; the broker away for 24 simulated hours."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from edge_helpers import Collector, SimClock, load_inventory, node_config, start_ingest
from hubsense.edge.embed import AgentThread
from hubsense.edge.io.bthome_adverts import build_advert
from hubsense.edge.io.outbox import open_outbox
from support.database import query
from support.tcp_relay import TcpRelay
from support.waiting import wait_for

pytestmark = [pytest.mark.service, pytest.mark.chaos, pytest.mark.slow]

BLE_MAC = "A4:C1:38:00:00:31"
CHILD = Path(__file__).with_name("edge_child.py")


def contiguous(seqs: list[int]) -> bool:
    return sorted(set(seqs)) == list(range(min(seqs), max(seqs) + 1))


def test_sigkill_20_times_while_publishing_loses_and_duplicates_nothing(
    tmp_path: Path, make_broker: Any, db_dsn: str
) -> None:
    broker = make_broker()
    ble = [{"type": "bthome", "address": BLE_MAC, "desk": "pi-k-ble"}]
    config = node_config(
        tmp_path / "state", broker.url, "pi-k", pins=3, ble=ble, heartbeat_s=1, debounce_ms=0
    )
    config_file = tmp_path / "node.json"
    config_file.write_text(config.model_dump_json())
    load_inventory(db_dsn, config)
    collector = Collector(broker.url)
    ingest = start_ingest(db_dsn, broker.url, "edge-kill")
    rng = random.Random(20)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    try:
        for round_ in range(20):
            child = subprocess.Popen(
                [sys.executable, str(CHILD), str(config_file), "churn"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert child.stdout is not None and child.stdout.readline().strip() == "sensing"
            time.sleep(rng.random() * 1.5)  # a random moment while it stores and publishes
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close()
            if round_ == 0:  # the broker publishes the last will: the node is offline
                wait_for(
                    lambda: collector.status.get("pi-k", {}).get("online") is False,
                    timeout_s=10,
                    what="last will",
                )
        # One clean run flushes what the killed runs left in the outbox, then stops.
        subprocess.run(
            [sys.executable, str(CHILD), str(config_file), "flush"],
            env=env,
            check=True,
            timeout=60,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        box = open_outbox(config.state_dir, "pi-k", 0)
        assert box.depth == 0
        last_seq = box.next_seq - 1
        box.close()
        rows = wait_for(
            lambda: (
                (
                    r := query(
                        db_dsn,
                        "SELECT seq, type::text FROM events WHERE node_id = 'pi-k' ORDER BY seq",
                    )
                )
                and r[-1][0] == last_seq
                and r
            ),
            timeout_s=60,
            what="every event in the database",
        )
    finally:
        ingest.close()
        collector.close()
    seqs = [r[0] for r in rows]
    assert seqs == list(range(seqs[0], last_seq + 1)), "a gap or a duplicate in the database"
    assert rows[-1][1] == "stop"
    assert sum(t == "alive" for _, t in rows) >= 21  # at least one per start
    assert len(rows) > 500, "the agent was not publishing much while killed"
    # What MQTT delivered is the same set; duplicates there are resends of unacked batches.
    assert set(collector.seqs()) == set(seqs)
    assert query(db_dsn, "SELECT count(*) FROM dead_letters")[0][0] == 0  # no conflicting resend
    print(
        json.dumps(
            {
                "events": len(seqs),
                "mqtt_deliveries": len(collector.seqs()),
                "alive": sum(t == "alive" for _, t in rows),
            }
        )
    )


def test_broker_away_24_simulated_hours_then_backlog_in_order(
    tmp_path: Path, make_broker: Any, db_dsn: str
) -> None:
    # The node reaches the broker through a relay; cutting the relay makes the broker
    # unreachable for the node only (lost uplink), while ingest keeps its session.
    broker = make_broker()
    relay = TcpRelay(broker.host, broker.port)
    relay.start()
    hour_ms = 3_600_000
    clock = SimClock(int(time.time() * 1000) - 26 * hour_ms)  # ends before "now": ingest accepts it
    ble = [{"type": "bthome", "address": BLE_MAC, "desk": "pi-o-ble"}]
    config = node_config(
        tmp_path,
        relay.url,
        "pi-o",
        pins=3,
        ble=ble,
        heartbeat_s=60,
        broker={"url": relay.url, "reconnect_max_s": 2},
        outbox={"rate_events_per_s": 500, "max_events_per_message": 500},
    )
    load_inventory(db_dsn, config)
    collector = Collector(broker.url)
    ingest = start_ingest(db_dsn, broker.url, "edge-outage")
    agent = AgentThread(config, clock_ms=clock).start()
    try:
        wait_for(lambda: len(collector.seqs()) >= 5, what="start events")
        relay.stop()
        wait_for(lambda: not agent.connected, what="agent notices the outage")
        offline_from = clock()
        # 24 simulated hours in steps of 20 s; each step waits for the agent's loop to have
        # seen it, so a loaded test machine slows simulated time instead of leaving holes.
        clock.set_speed(0)
        packet = 0
        while clock() < offline_from + 24 * hour_ms:
            packet += 1
            clock.jump(20_000)
            agent.feed_advert(
                BLE_MAC, build_advert([("packet_id", packet % 256), ("occupancy", packet % 2)])
            )
            if packet % 200 == 0:
                pin = agent.pin(17 + (packet // 200) % 3)
                pin.drive_high() if (packet // 600) % 2 == 0 else pin.drive_low()
            deadline = time.monotonic() + 10
            while agent.agent.last_tick_ms < clock() and time.monotonic() < deadline:
                time.sleep(0.0005)
        clock.set_speed(1)
        offline_to = clock()
        queued = agent.agent.outbox.depth
        assert queued > 2_000, f"only {queued} events queued"
        sent_before = len(collector.seqs())
        relay.start()
        wait_for(
            lambda: agent.agent.outbox.depth < 5 and agent.connected, timeout_s=120, what="drain"
        )
        agent.stop()
        all_seqs = wait_for(
            lambda: (s := collector.seqs()) and collector.events[-1]["type"] == "stop" and s,
            timeout_s=30,
            what="stop event",
        )
        rows = wait_for(
            lambda: (
                (r := query(db_dsn, "SELECT seq FROM events WHERE node_id = 'pi-o' ORDER BY seq"))
                and r[-1][0] == max(all_seqs)
                and r
            ),
            timeout_s=60,
            what=lambda: (
                f"backlog in the database; dead letters: "
                f"{query(db_dsn, 'SELECT reason, count(*) FROM dead_letters GROUP BY 1')}"
            ),
        )
    finally:
        if agent._thread.is_alive():
            agent.stop()
        ingest.close()
        collector.close()
        relay.stop()
    # Complete and in order: the backlog arrived oldest first with no gap.
    assert contiguous(all_seqs) and [r[0] for r in rows] == sorted(set(all_seqs))
    backlog = collector.seqs()[sent_before:]
    assert backlog == sorted(backlog), "backlog not sent oldest first"
    # Batched: many events per message, and rate limited (500 events/s after a 2,000 burst).
    arrivals = collector.arrivals[-(len(collector.arrivals) - 1) :]
    big = [n for _, n in arrivals if n > 1]
    assert max(big) >= 400 and collector.messages < len(all_seqs) / 20
    drain_s = arrivals[-1][0] - arrivals[0][0]
    assert drain_s >= (len(backlog) - 2_000) / 500 * 0.8, drain_s
    # Alive coverage of the offline period: no gap longer than 3 heartbeats (SPEC §6).
    alive_ts = sorted(
        ts
        for ts, t in query(
            db_dsn,
            "SELECT (extract(epoch FROM ts) * 1000)::bigint, type::text FROM events "
            "WHERE node_id = 'pi-o'",
        )
        if t == "alive"
    )
    covered = [t for t in alive_ts if offline_from - 3 * 60_000 <= t <= offline_to]
    gaps = [b - a for a, b in itertools.pairwise(covered)]
    assert covered[0] <= offline_from and covered[-1] >= offline_to - 3 * 60_000
    assert max(gaps) < 3 * 60_000, max(gaps)
    assert len(covered) >= 24 * 60 * 0.7  # ~1,440 alives for a day at heartbeat 60 s
    print(
        json.dumps(
            {
                "queued": queued,
                "events": len(all_seqs),
                "messages": collector.messages,
                "drain_s": round(drain_s, 1),
                "alives_offline": len(covered),
            }
        )
    )
