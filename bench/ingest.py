"""Benchmark ingest on this machine: MQTT publishers → Mosquitto → ingest → PostgreSQL.

Starts its own private PostgreSQL and Mosquitto (hubsense.devstack), then measures in
one run:
  1. the ceiling: the same rows written by psycopg binary COPY through ingest's own
     staging + `INSERT` path (BatchWriter: `ON CONFLICT DO NOTHING` on a redelivery), no MQTT,
     right before and right after the batched stream (the ratio uses their mean);
     raw binary COPY into `events` for orientation;
  2. sustained events/s with batched messages (50 events each, as the edge sends a
     backlog) from publisher processes through one `hubsense ingest run` process;
  3. the same with one event per message;
  4. p99 latency from publish to committed row at 1,000 events/s (commit time from
     PostgreSQL's track_commit_timestamp, publish time from the event's ts).
Every event is checked stored exactly once. Also printed: CPU µs per event of ingest,
broker and publishers (independent of how busy the shared machine is) and the load
average. Targets (docs/scaling.md): batched ≥ 100,000 events/s and ≥ 50% of the ceiling;
single ≥ 15,000 events/s; p99 < 1 s.

Run: .venv/bin/python bench/ingest.py [--batched-events 600000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SITE = "bench"
TS0_MS = 1_764_000_000_000
DESKS_PER_NODE = 4
# paho reuses packet ids after 65,535 unacked publishes and then loses messages:
# each publisher keeps at most this many unacked.
PUBLISH_WINDOW = 1_000
HUBSENSE = str(Path(sys.executable).parent / "hubsense")


def node_ids(publisher: int, nodes: int) -> list[str]:
    return [f"bn-{publisher}-{index}" for index in range(nodes)]


def desk_ids(node: str) -> list[str]:
    return [f"{node}-d{index}" for index in range(DESKS_PER_NODE)]


def event(node: str, seq: int, ts_ms: int) -> dict[str, Any]:
    """Half alive, half desk events, so both row shapes are written."""
    if seq % 2:
        desk = desk_ids(node)[seq % DESKS_PER_NODE]
        state = "occupied" if seq % 4 == 1 else "vacant"
        return {
            "seq": seq,
            "ts": ts_ms,
            "type": "desk",
            "desk": desk,
            "source": "pir",
            "state": state,
        }
    return {"seq": seq, "ts": ts_ms, "type": "alive"}


# -- publisher process ---------------------------------------------------------------


def publish_main(args: argparse.Namespace) -> None:
    """Child process: publish `events` events over `nodes` nodes, `per_message` a message.

    paho runs in this one thread (no loop_start): each publish is written at once and
    PUBACKs are read in between, which avoids a thread hand-off per message.
    """
    import collections

    import paho.mqtt.client as mqtt

    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"bench-pub-{args.publisher}-{os.getpid()}",
        protocol=mqtt.MQTTv5,
    )
    client.max_inflight_messages_set(PUBLISH_WINDOW)
    host, port = args.broker.rsplit(":", 1)
    client.connect(host, int(port), keepalive=60)
    while not client.is_connected():
        client.loop(0.05)
    nodes = node_ids(args.publisher, args.nodes)
    sep = (",", ":")
    messages: list[tuple[str, bytes]] = []
    seqs = dict.fromkeys(nodes, 0)
    produced = 0
    # Built before the clock starts unless paced (latency runs stamp ts at publish time).
    while produced < args.events and not args.rate:
        for node in nodes:
            take = min(args.per_message, args.events - produced)
            if take <= 0:
                break
            events = [event(node, seqs[node] + i, TS0_MS + seqs[node] + i) for i in range(take)]
            seqs[node] += take
            produced += take
            payload = json.dumps({"node": node, "events": events}, separators=sep).encode()
            messages.append((f"hubsense/v1/{SITE}/{node}/events", payload))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()  # the parent starts every publisher at once
    window: collections.deque[Any] = collections.deque()

    def send(topic: str, payload: bytes) -> None:
        window.append(client.publish(topic, payload, qos=1))
        if len(window) % 64 == 0:
            client.loop(0)  # read the PUBACKs that arrived meanwhile
        while len(window) >= PUBLISH_WINDOW:
            while window and window[0].is_published():
                window.popleft()
            if len(window) >= PUBLISH_WINDOW:
                client.loop(0.01)

    if args.rate:
        interval_s = 1.0 / args.rate
        start = time.perf_counter()
        for index in range(args.events):
            node = nodes[index % len(nodes)]
            while (delay := start + index * interval_s - time.perf_counter()) > 0:
                client.loop(min(delay, 0.002))
            now_ms = time.time_ns() // 1_000_000
            payload = json.dumps(
                {"node": node, "events": [event(node, seqs[node], now_ms)]}, separators=sep
            ).encode()
            seqs[node] += 1
            send(f"hubsense/v1/{SITE}/{node}/events", payload)
            client.loop(0)
    else:
        for topic, payload in messages:
            send(topic, payload)
    while window:
        while window and window[0].is_published():
            window.popleft()
        if window:
            client.loop(0.01)
    client.disconnect()
    client.loop(0.1)


# -- servers, inventory, ingest -------------------------------------------------------


class Stack:
    def __init__(self, workdir: Path) -> None:
        from hubsense.devstack.mosquitto import MosquittoServer
        from hubsense.devstack.postgres import PostgresServer

        self.pg = PostgresServer(
            workdir / "postgres", extra_settings={"track_commit_timestamp": "on"}
        )
        self.broker = MosquittoServer(workdir / "mosquitto")
        self.workdir = workdir

    def start(self, publishers: int, nodes: int) -> str:
        from hubsense.db.migrate import migrate

        self.pg.start()
        self.broker.start()
        self.pg.create_database("bench")
        dsn = self.pg.dsn("bench")
        migrate(dsn)
        insert_inventory(dsn, publishers, nodes)
        return dsn

    def stop(self) -> None:
        self.broker.stop()
        self.pg.stop()


def insert_inventory(dsn: str, publishers: int, nodes: int) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "INSERT INTO sites (id, name, kind, timezone) VALUES (%s, 'Bench', 'office',"
            " 'Europe/Stockholm')",
            (SITE,),
        )
        for publisher in range(publishers):
            for node in node_ids(publisher, nodes):
                conn.execute(
                    "INSERT INTO nodes (id, site_id, heartbeat_s) VALUES (%s, %s, 60)", (node, SITE)
                )
                for pin, desk in enumerate(desk_ids(node)):
                    conn.execute("INSERT INTO desks (id, site_id) VALUES (%s, %s)", (desk, SITE))
                    conn.execute(
                        "INSERT INTO sensors (node_id, key, type, desk_id)"
                        " VALUES (%s, %s, 'gpio_pir', %s)",
                        (node, f"gpio:{pin}", desk),
                    )


def ingest_argv(dsn: str, url: str, worker: str) -> list[str]:
    """The command line of one ingest worker, logging JSON (its log is read for progress)."""
    return [
        HUBSENSE,
        "--log-format",
        "json",
        "ingest",
        "run",
        "--dsn",
        dsn,
        "--mqtt-url",
        url,
        "--worker-id",
        worker,
    ]


def start_ingest(dsn: str, url: str, workdir: Path, worker: str) -> subprocess.Popen[bytes]:
    log_path = workdir / f"ingest-{worker}.log"
    process = subprocess.Popen(
        ingest_argv(dsn, url, worker),
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while b"mqtt_subscribed" not in log_path.read_bytes():
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"ingest did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.05)
    return process


def truncate(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        # Coverage too: heads left by an earlier step would send every batch down the late path.
        conn.execute("TRUNCATE events, dead_letters, coverage, coverage_heads")
        conn.execute("VACUUM ANALYZE events")


def count(dsn: str) -> tuple[int, int, int]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT node_id, seq FROM events) d),"
            " (SELECT count(*) FROM dead_letters) FROM events"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def wait_rows(dsn: str, expected: int, timeout_s: float) -> float:
    """Poll until `expected` rows are stored; returns the monotonic time it was seen."""
    import psycopg

    deadline = time.monotonic() + timeout_s
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM events").fetchone()
            seen = int(row[0]) if row else 0
            now = time.monotonic()
            if seen >= expected:
                return now
            if now > deadline:
                raise RuntimeError(f"only {seen} of {expected} rows after {timeout_s} s")
            time.sleep(0.05)


# -- measurements ------------------------------------------------------------------------


def measure_ceiling(dsn: str, events: int, batch_events: int) -> dict[str, float]:
    """Rows/s of ingest's own write path (staging COPY + INSERT, coverage kept) and of raw COPY."""

    rows = []
    for seq in range(events):
        node = f"bn-0-{seq % 8}"
        item = event(node, seq, TS0_MS + seq)
        rows.append(
            (
                node,
                seq,
                item["ts"],
                SITE,
                item["type"],
                item.get("desk"),
                item.get("source"),
                item.get("state"),
            )
        )
    truncate(dsn)
    staging_s = timed_writes(dsn, rows, batch_events)
    no_coverage_s = _without_coverage(dsn, rows, batch_events)
    truncate(dsn)
    import psycopg

    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        start = time.perf_counter()
        for first in range(0, events, batch_events):
            with cur.copy(
                "COPY events (node_id, seq, ts, site_id, type, desk_id, source, state)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy:
                # An enum's binary form is its label's bytes, so text dumpers serve them.
                copy.set_types(
                    ["text", "int8", "timestamptz", "text", "text", "text", "text", "text"]
                )
                for node, seq, ts_ms, site, kind, desk, source, state in rows[
                    first : first + batch_events
                ]:
                    copy.write_row((node, seq, _dt(ts_ms), site, kind, desk, source, state))
            conn.commit()
        raw_s = time.perf_counter() - start
    return {
        "staging_copy_rows_s": events / staging_s,
        "staging_no_coverage_rows_s": events / no_coverage_s,
        "raw_copy_rows_s": events / raw_s,
    }


def _without_coverage(dsn: str, rows: list[Any], batch_events: int) -> float:
    """Seconds of the same staging writes with coverage maintenance switched off (for the
    comparison only: what keeping coverage in the events' transaction costs)."""
    import hubsense.ingest.copy_writer as copy_writer

    truncate(dsn)
    kept = copy_writer.update_coverage
    copy_writer.update_coverage = lambda conn, rows: None  # type: ignore[assignment]
    try:
        return timed_writes(dsn, rows, batch_events)
    finally:
        copy_writer.update_coverage = kept


def timed_writes(dsn: str, rows: list[Any], batch_events: int) -> float:
    """Seconds to write `rows` through BatchWriter, `batch_events` a batch."""
    from hubsense.ingest import copy_writer
    from hubsense.ingest.batch import Batch
    from hubsense.ingest.decode import Decoded

    writer = copy_writer.BatchWriter(dsn)
    writer.connect()
    start = time.perf_counter()
    for first in range(0, len(rows), batch_events):
        batch = Batch()
        batch.add("", b"", Decoded(events=rows[first : first + batch_events]), None, 0.0)
        writer.write(batch)
    seconds = time.perf_counter() - start
    writer.close()
    return seconds


def _dt(ts_ms: int) -> Any:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts_ms / 1000, tz=dt.UTC)


def spawn_publishers(
    args: argparse.Namespace,
    url: str,
    publishers: int,
    events_each: int,
    per_message: int,
    rate: float = 0.0,
) -> list[subprocess.Popen[str]]:
    broker = url.removeprefix("mqtt://")
    children = []
    for publisher in range(publishers):
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--publish",
                "--publisher",
                str(publisher),
                "--broker",
                broker,
                "--events",
                str(events_each),
                "--per-message",
                str(per_message),
                "--nodes",
                str(args.nodes),
                "--rate",
                str(rate),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append(child)
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return children


def cpu_s(pid: int) -> float:
    """utime + stime of a process (seconds), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_stream(
    args: argparse.Namespace, dsn: str, url: str, events: int, per_message: int
) -> dict[str, float]:
    truncate(dsn)
    cpu_before = (cpu_s(args.ingest_pid), cpu_s(args.broker_pid), children_cpu_s())
    publishers = args.publishers
    children = spawn_publishers(args, url, publishers, events // publishers, per_message)
    total = (events // publishers) * publishers
    start = time.monotonic()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        if child.wait(600) != 0:
            raise RuntimeError("a publisher failed")
    published_s = time.monotonic() - start
    done = wait_rows(dsn, total, 600)
    stored, distinct, dead = count(dsn)
    if (stored, distinct, dead) != (total, total, 0):
        raise RuntimeError(f"stored {stored}, distinct {distinct}, dead {dead}; expected {total}")
    cpu_after = (cpu_s(args.ingest_pid), cpu_s(args.broker_pid), children_cpu_s())
    ingest_cpu, broker_cpu, publishers_cpu = (
        b - a for a, b in zip(cpu_before, cpu_after, strict=True)
    )
    # CPU per event does not depend on how busy the shared machine is; events/s does.
    return {
        "events": total,
        "events_s": total / (done - start),
        "publish_events_s": total / published_s,
        "ingest_cpu_us_per_event": ingest_cpu / total * 1e6,
        "broker_cpu_us_per_event": broker_cpu / total * 1e6,
        "publishers_cpu_us_per_event": publishers_cpu / total * 1e6,
        "load_avg_1m": os.getloadavg()[0],
    }


def measure_latency(args: argparse.Namespace, dsn: str, url: str) -> dict[str, float]:
    import psycopg

    truncate(dsn)
    total = int(args.latency_rate * args.latency_s)
    children = spawn_publishers(args, url, 1, total, 1, rate=args.latency_rate)
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
        child.wait(600)
    wait_rows(dsn, total, 60)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ms),"
            " percentile_disc(0.99) WITHIN GROUP (ORDER BY ms), max(ms), count(*) FROM ("
            " SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - ts) * 1000 AS ms"
            " FROM events) AS latency"
        ).fetchone()
    assert row is not None
    return {
        "events": int(row[3]),
        "p50_ms": float(row[0]),
        "p99_ms": float(row[1]),
        "max_ms": float(row[2]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publish", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--publisher", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--broker", default="", help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--per-message", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--nodes", type=int, default=10, help="nodes per publisher")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--batched-events", type=int, default=600_000)
    parser.add_argument("--single-events", type=int, default=100_000)
    parser.add_argument("--ceiling-events", type=int, default=500_000)
    parser.add_argument("--latency-rate", type=float, default=1_000.0, help="events/s")
    parser.add_argument("--latency-s", type=float, default=15.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.publish:
        publish_main(args)
        return
    from hubsense.logs import configure_logging
    from hubsense.settings import IngestSettings

    configure_logging("warning", "console")
    workdir = Path(tempfile.mkdtemp(prefix="hubsense-bench-ingest-"))
    os.chmod(workdir, 0o755)
    stack = Stack(workdir)
    ingest = None
    try:
        dsn = stack.start(max(args.publishers, 1), args.nodes)
        batch_events = IngestSettings().batch_max_events
        ingest = start_ingest(dsn, stack.broker.url, workdir, "bench-1")
        args.ingest_pid = ingest.pid
        args.broker_pid = stack.broker._pid()
        # The machine is shared: measure the ceiling right before and right after the
        # batched stream and compare with their mean, so a change of load between the two
        # does not decide the ratio. The idle ingest process is subscribed meanwhile.
        before = measure_ceiling(dsn, args.ceiling_events, batch_events)
        results: dict[str, Any] = {}
        results["batched_50"] = measure_stream(args, dsn, stack.broker.url, args.batched_events, 50)
        after = measure_ceiling(dsn, args.ceiling_events, batch_events)
        results["ceiling"] = {key: (before[key] + after[key]) / 2 for key in before} | {
            "staging_before_rows_s": before["staging_copy_rows_s"],
            "staging_after_rows_s": after["staging_copy_rows_s"],
        }
        results["single"] = measure_stream(args, dsn, stack.broker.url, args.single_events, 1)
        results["latency"] = measure_latency(args, dsn, stack.broker.url)
        ceiling = results["ceiling"]["staging_copy_rows_s"]
        results["batched_vs_ceiling"] = results["batched_50"]["events_s"] / ceiling
        report(results, args.json)
    finally:
        if ingest is not None:
            ingest.terminate()
            ingest.wait(60)
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def report(results: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(results, indent=2))
        return
    c, b, s, lat = results["ceiling"], results["batched_50"], results["single"], results["latency"]
    ratio = results["batched_vs_ceiling"]
    ok = {True: "ok", False: "MISSED"}
    print(
        f"ceiling: staging COPY + INSERT      {c['staging_copy_rows_s']:>10,.0f} rows/s"
        f"  (mean of before {c['staging_before_rows_s']:,.0f} and after"
        f" {c['staging_after_rows_s']:,.0f})"
    )
    print(
        f"         the same without coverage  {c['staging_no_coverage_rows_s']:>10,.0f} rows/s"
        f"  (coverage maintenance off, for comparison)"
    )
    print(f"         raw binary COPY into events {c['raw_copy_rows_s']:>10,.0f} rows/s")
    print(
        f"batched (50/msg) via MQTT + ingest   {b['events_s']:>10,.0f} events/s"
        f"  [{ok[b['events_s'] >= 100_000]} >= 100,000]  (publishers alone"
        f" {b['publish_events_s']:,.0f}/s, {b['events']:,} events)"
    )
    print(f"         ratio to staging ceiling    {ratio:>10.1%}  [{ok[ratio >= 0.5]} >= 50%]")
    print(
        f"single (1/msg) via MQTT + ingest     {s['events_s']:>10,.0f} events/s"
        f"  [{ok[s['events_s'] >= 15_000]} >= 15,000]  (publishers alone"
        f" {s['publish_events_s']:,.0f}/s, {s['events']:,} events)"
    )
    for name, part in (("batched", b), ("single", s)):
        print(
            f"cpu per event, {name:<8} ingest {part['ingest_cpu_us_per_event']:5.1f} us"
            f"  broker {part['broker_cpu_us_per_event']:5.1f} us"
            f"  publishers {part['publishers_cpu_us_per_event']:5.1f} us"
            f"  (1-min load average {part['load_avg_1m']:.1f} on {os.cpu_count()} cpus)"
        )
    print(
        f"latency publish->commit at 1,000/s   p50 {lat['p50_ms']:.0f} ms  p99"
        f" {lat['p99_ms']:.0f} ms  max {lat['max_ms']:.0f} ms  [{ok[lat['p99_ms'] < 1000]} < 1 s]"
    )


if __name__ == "__main__":
    main()
