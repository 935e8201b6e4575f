"""Scale-out on this machine: a second ingest worker on the shared subscription.

One event per message, so ingest's per-message work (MQTT, decode, ack) is as large as
it gets. The measurement is a drain: the workers subscribe, stop (their persistent
sessions stay, each a member of the share group), 40,000 messages are published and the
broker queues them over the group's sessions; then the workers start again and the rate
is the stored events over the span of their commits (`received_at`), so the publishers
do not compete for the cores while ingest is timed. Runs alternate 1, 2, 1, 2, 1, 2
workers (load changes hit both sides alike) and medians are compared.

What it asserts: every event stored exactly once; with two workers the broker really
splits the backlog (each worker stores at least a fifth); and throughput grows with
the second worker (median >= 1.05x) when the machine was quiet before the measurement
(1-minute load average below 3 on 2 cores, as in CI, which runs alone). Measured on a
quiet machine: 1.21x, 1.27x, 1.20x (every two-worker run above every one-worker run).
When other work already loads the cores (load average 6-10 was seen while several
people shared this machine), two workers came out between 0.7x and 1.2x of one: ingest
is not the limit then, the cores are, so only "no collapse" (>= 0.5x) is asserted and
the test prints that it did so.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.service, pytest.mark.slow]

BENCH = Path(__file__).parents[2] / "bench" / "ingest.py"
_spec = importlib.util.spec_from_file_location("ingest_bench", BENCH)
assert _spec is not None and _spec.loader is not None
ib = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ib)

EVENTS = 40_000
PUBLISHERS = 2
NODES = 10
ROUNDS = 3
# On a quiet machine (1-minute load average before the test, 2 cores) the second
# worker must raise throughput; on a busy one it must at least not collapse it.
QUIET_LOAD = 3.0
GROWTH = 1.05
NO_COLLAPSE = 0.5
MIN_SHARE = 0.2


def start_worker(dsn: str, url: str, workdir: Path, worker: str, group: str) -> Any:
    log_path = workdir / f"{worker}.log"
    env = {**os.environ, "HUBSENSE_INGEST__SHARE_GROUP": group}
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            ib.ingest_argv(dsn, url, worker),
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    process.log_path = log_path  # type: ignore[attr-defined]
    return process


def wait_subscribed(process: Any, runs: int) -> None:
    deadline = time.monotonic() + 60
    while process.log_path.read_bytes().count(b"mqtt_subscribed") < runs:
        assert process.poll() is None and time.monotonic() < deadline, process.log_path.read_text()[
            -2000:
        ]
        time.sleep(0.05)


def forget_session(url: str, worker: str) -> None:
    """End a worker's persistent session, so its queue cannot outlive the test."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"hubsense-ingest-{worker}",
        protocol=mqtt.MQTTv5,
    )
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    client.connect(host, int(port), clean_start=True, properties=props)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


def stored_span(dsn: str) -> tuple[int, float]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), extract(epoch FROM max(received_at) - min(received_at)) FROM events"
        ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1] or 0.0)


CPU: list[dict[str, float]] = []
SHARES: list[list[float]] = []


def last_inserted(log_path: Path) -> int:
    """events_inserted of the worker's last clean stop (the drain run)."""
    import json

    lines = [line for line in log_path.read_text().splitlines() if '"ingest_stopped"' in line]
    return int(json.loads(lines[-1])["events_inserted"])


def drain_rate(dsn: str, url: str, workdir: Path, workers: int, broker_pid: int = 0) -> float:
    """Events/s over the span of the commits that drained a queued backlog."""
    ib.truncate(dsn)
    group = f"scale-{uuid.uuid4().hex[:6]}"
    names = [f"{group}-w{k}" for k in range(workers)]
    processes = [start_worker(dsn, url, workdir, name, group) for name in names]
    try:
        for process in processes:
            wait_subscribed(process, 1)
        for process in processes:
            process.terminate()
            assert process.wait(60) == 0
        args = argparse.Namespace(nodes=NODES)
        children = ib.spawn_publishers(args, url, PUBLISHERS, EVENTS // PUBLISHERS, 1)
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            assert child.wait(300) == 0
            child.stdin.close()
            child.stdout.close()
        assert stored_span(dsn)[0] == 0, "a worker was still taking messages"
        broker_before = ib.cpu_s(broker_pid) if broker_pid else 0.0
        processes = [start_worker(dsn, url, workdir, name, group) for name in names]
        ib.wait_rows(dsn, EVENTS, 300)
        CPU.append(
            {
                "workers": workers,
                "broker_s": ib.cpu_s(broker_pid) - broker_before if broker_pid else 0.0,
                "ingest_s": [ib.cpu_s(p.pid) for p in processes],
            }
        )
        assert ib.count(dsn) == (EVENTS, EVENTS, 0)
        stored, span_s = stored_span(dsn)
        for process in processes:
            process.terminate()
            assert process.wait(60) == 0
        SHARES.append([last_inserted(p.log_path) / EVENTS for p in processes])
        return stored / span_s
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(60)
        for name in names:
            forget_session(url, name)


def test_a_second_worker_takes_half_the_backlog_without_slowing_the_drain(
    db_dsn: str, make_broker: Any, tmp_path: Path
) -> None:
    load_before = os.getloadavg()[0]
    broker = make_broker()
    ib.insert_inventory(db_dsn, PUBLISHERS, NODES)
    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(ROUNDS):
        for workers in (1, 2):
            rates[workers].append(drain_rate(db_dsn, broker.url, tmp_path, workers, broker._pid()))
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(
        f"\n1 worker: {[round(r) for r in rates[1]]} events/s, median {one:,.0f}"
        f"\n2 workers: {[round(r) for r in rates[2]]} events/s, median {two:,.0f}"
        f"\nratio {two / one:.2f} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()}"
        f" cpus, python {sys.version_info.major}.{sys.version_info.minor})"
        f"\ncpu seconds per run: {CPU}\nshares of the backlog per run: {SHARES}"
    )
    two_worker_shares = [shares for shares in SHARES if len(shares) == 2]
    assert len(two_worker_shares) == ROUNDS
    assert all(min(shares) >= MIN_SHARE for shares in two_worker_shares), two_worker_shares
    assert all(abs(sum(shares) - 1) < 1e-9 for shares in SHARES), SHARES
    if load_before < QUIET_LOAD:
        assert two >= GROWTH * one, (rates, two / one, load_before)
    else:
        print(
            f"load average {load_before:.1f} before the test: other work holds the cores, "
            f"so only no collapse (>= {NO_COLLAPSE}x) is asserted"
        )
        assert two >= NO_COLLAPSE * one, (rates, two / one)
