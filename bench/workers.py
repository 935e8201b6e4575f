"""Benchmark the second ingest worker: the drain of a queued backlog, 1 vs 2 workers.

Starts its own PostgreSQL and Mosquitto (hubsense.devstack, as bench/ingest.py). One
event per message, so ingest's per-message work (MQTT, decode, ack) is as large as it
gets. The measurement is a drain: the workers subscribe, stop (their persistent sessions
stay, each a member of the share group), the messages are published and the broker
queues them over the group's sessions; then the workers start again and the rate is the
stored events over the span of their commits (`received_at`), so the publishers do not
compete for the cores while ingest is timed. Runs alternate 1, 2, 1, 2, ... workers (load
changes hit both sides alike); medians and their ratio are printed with the load average.

Figures and their reading: docs/scaling.md ("the drain of a queued backlog"). The
correctness of the split (every event once, each worker a real share) is a test:
tests/scaling/test_workers.py, which uses these functions.

Run: .venv/bin/python bench/workers.py [--events 40000] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

_spec = importlib.util.spec_from_file_location(
    "ingest_bench", Path(__file__).with_name("ingest.py")
)
assert _spec is not None and _spec.loader is not None
ib = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ib)

PUBLISHERS = 2
NODES = 10
CPU: list[dict[str, Any]] = []
SHARES: list[list[float]] = []


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


def drain_rate(
    dsn: str, url: str, workdir: Path, workers: int, broker_pid: int = 0, events: int = 40_000
) -> float:
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
        children = ib.spawn_publishers(args, url, PUBLISHERS, events // PUBLISHERS, 1)
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
        ib.wait_rows(dsn, events, 300)
        CPU.append(
            {
                "workers": workers,
                "broker_s": ib.cpu_s(broker_pid) - broker_before if broker_pid else 0.0,
                "ingest_s": [ib.cpu_s(p.pid) for p in processes],
            }
        )
        assert ib.count(dsn) == (events, events, 0)
        stored, span_s = stored_span(dsn)
        for process in processes:
            process.terminate()
            assert process.wait(60) == 0
        SHARES.append([last_inserted(p.log_path) / events for p in processes])
        return stored / span_s
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(60)
        for name in names:
            forget_session(url, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000, help="queued messages per run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating 1- and 2-worker runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    from hubsense.logs import configure_logging

    configure_logging("warning", "console")
    workdir = Path(tempfile.mkdtemp(prefix="hubsense-bench-workers-"))
    os.chmod(workdir, 0o755)
    stack = ib.Stack(workdir)
    load_before = os.getloadavg()[0]
    rates: dict[int, list[float]] = {1: [], 2: []}
    try:
        dsn = stack.start(PUBLISHERS, NODES)
        for _ in range(args.rounds):
            for workers in (1, 2):
                rate = drain_rate(
                    dsn, stack.broker.url, workdir, workers, stack.broker._pid(), args.events
                )
                rates[workers].append(rate)
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    result = {
        "events": args.events,
        "one_worker_events_s": rates[1],
        "two_workers_events_s": rates[2],
        "median_one": one,
        "median_two": two,
        "ratio": two / one,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "cpus": os.cpu_count(),
        "shares": SHARES,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"1 worker : {[round(r) for r in rates[1]]} events/s, median {one:,.0f}")
    print(f"2 workers: {[round(r) for r in rates[2]]} events/s, median {two:,.0f}")
    print(
        f"ratio {two / one:.2f}\u00d7 (target >= 1.05\u00d7 on a quiet machine; load average"
        f" {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, {os.cpu_count()} cpus,"
        f" python {sys.version_info.major}.{sys.version_info.minor})"
    )
    print(f"shares of the backlog per 2-worker run: {[s for s in SHARES if len(s) == 2]}")


if __name__ == "__main__":
    main()
