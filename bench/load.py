"""Load the whole path at increasing rates and say where it saturates and why.

publishers (processes, batched messages, paced) → Mosquitto → N `hubsense ingest run`
workers on the MQTT 5 shared subscription → PostgreSQL, with, when present, the
analytics (`hubsense analytics run` for today, every few seconds: a stand-in for a
scheduler, which does not exist as a service yet) and the API (`hubsense api run`,
polled at /hubs/{site}/state like a hub page) running against the same database.

Per step (offered events/s): achieved events/s (events / time until the last is
committed), p99 publish→commit latency, and CPU of every process as % of one core
(each ingest worker, Mosquitto, all PostgreSQL backends, publishers, analytics, API)
plus the whole machine's busy share (other people's work included: the box is shared).
A step saturates when it achieves < 90% of what was offered or its p99 passes 2 s;
the bottleneck named is the stage whose process is pegged at one core (ingest worker,
broker, analytics) or PostgreSQL when its backends dominate, or "machine CPU" when all
cores are busy and no single process is pegged.

Reuses bench/ingest.py (servers, inventory, ingest process, CPU counters).

Run: .venv/bin/python bench/load.py [--workers 2] [--rates 2000,5000,...]
     [--step-s 8] [--no-analytics] [--no-api] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("ingest_bench", HERE / "ingest.py")
assert _spec is not None and _spec.loader is not None
ib = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ib)

PER_MESSAGE = 50  # what an edge agent sends when it has a backlog; live it sends fewer
SATURATED_RATIO = 0.9
SATURATED_P99_MS = 2_000
PEGGED_PCT = 85.0


def publish_child(broker: str, publisher: int, nodes: int, rate: float, seconds: float) -> None:
    """Child process: `rate` events/s for `seconds`, PER_MESSAGE events a message, ts = now."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=f"load-{publisher}-{os.getpid()}",
        protocol=mqtt.MQTTv5,
    )
    client.max_inflight_messages_set(ib.PUBLISH_WINDOW)
    host, port = broker.rsplit(":", 1)
    client.connect(host, int(port), keepalive=60)
    while not client.is_connected():
        client.loop(0.05)
    print("ready", flush=True)
    sys.stdin.readline()  # every publisher starts at once, after the interpreters are up
    names = ib.node_ids(publisher, nodes)
    seqs = dict.fromkeys(names, int(time.time() * 1000) * 1000)  # fresh seqs every step
    interval_s = PER_MESSAGE / rate
    total = int(rate * seconds / PER_MESSAGE)
    pending: list[Any] = []
    start = time.perf_counter()
    for index in range(total):
        while (delay := start + index * interval_s - time.perf_counter()) > 0:
            client.loop(min(delay, 0.002))
        node = names[index % len(names)]
        now_ms = time.time_ns() // 1_000_000
        events = [ib.event(node, seqs[node] + i, now_ms) for i in range(PER_MESSAGE)]
        seqs[node] += PER_MESSAGE
        payload = json.dumps({"node": node, "events": events}, separators=(",", ":")).encode()
        pending.append(client.publish(f"hubsense/v1/{ib.SITE}/{node}/events", payload, qos=1))
        client.loop(0)
        while len(pending) >= ib.PUBLISH_WINDOW // PER_MESSAGE * 10:
            pending = [p for p in pending if not p.is_published()]
            client.loop(0.005)
    while any(not p.is_published() for p in pending):
        client.loop(0.01)
    client.disconnect()
    print(json.dumps({"events": total * PER_MESSAGE, "s": time.perf_counter() - start}), flush=True)


class Machine:
    """CPU seconds of named processes and the machine's busy share, between two samples."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids

    def sample(self) -> dict[str, float]:
        out = {name: sum(_cpu(pid) for pid in pids) for name, pids in self.pids.items()}
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        out["_idle"], out["_total"] = (fields[3] + fields[4]) / 100, sum(fields) / 100
        out["_t"] = time.monotonic()
        return out


def _cpu(pid: int) -> float:
    try:
        return float(ib.cpu_s(pid))
    except (OSError, IndexError):
        return 0.0  # the process ended (a postgres backend that closed)


def postgres_pids(pg: Any) -> list[int]:
    import psutil

    postmaster = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    parent = psutil.Process(postmaster)
    return [postmaster, *(child.pid for child in parent.children())]


class Periodic:
    """Run `fn` every `every_s` seconds on a thread; counts runs and their time."""

    def __init__(self, fn: Any, every_s: float) -> None:
        self.fn, self.every_s = fn, every_s
        self.runs, self.seconds, self.errors = 0, 0.0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(self.every_s):
            started = time.monotonic()
            try:
                self.fn()
                self.runs += 1
            except Exception:
                self.errors += 1
            self.seconds += time.monotonic() - started


def run_step(
    args: argparse.Namespace, stack: Any, dsn: str, rate: float, machine: Machine
) -> dict[str, Any]:
    ib.truncate(dsn)
    broker = stack.broker.url.removeprefix("mqtt://")
    children = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--publish-child",
                broker,
                str(p),
                str(args.nodes),
                str(rate / args.publishers),
                str(args.step_s),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for p in range(args.publishers)
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    children_before = ib.children_cpu_s() - ANALYTICS_CPU_S[0]
    analytics_before = ANALYTICS_CPU_S[0]
    before = machine.sample()
    start = time.monotonic()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    published = 0
    for child in children:
        out, _ = child.communicate(timeout=args.step_s * 20 + 120)
        published += json.loads(out.strip().splitlines()[-1])["events"]
    publish_s = time.monotonic() - start
    publishers_cpu_s = ib.children_cpu_s() - ANALYTICS_CPU_S[0] - children_before
    try:
        done = ib.wait_rows(dsn, published, args.step_s * 10 + 60)
        drained = True
    except RuntimeError:
        done, drained = time.monotonic(), False
    after = machine.sample()
    stored, distinct, dead = ib.count(dsn)
    wall = after["_t"] - before["_t"]
    cpu = {
        name: round((after[name] - before[name]) / wall * 100, 1)
        for name in machine.pids
        if name in before
    }
    # Exited children are counted by rusage (analytics runs are waited for separately).
    cpu["publishers"] = round(publishers_cpu_s / publish_s * 100, 1)
    if ANALYTICS_CPU_S[0] or analytics_before:
        cpu["analytics"] = round((ANALYTICS_CPU_S[0] - analytics_before) / wall * 100, 1)
    busy = 1 - (after["_idle"] - before["_idle"]) / max(after["_total"] - before["_total"], 1e-9)
    p99 = latency_p99_ms(dsn)
    achieved = stored / (done - start)
    published_rate = published / publish_s
    return {
        "offered_events_s": round(rate),
        "published_events_s": round(published_rate),
        "achieved_events_s": round(achieved),
        "stored": stored,
        "published": published,
        "exactly_once": stored == distinct == published and dead == 0 and drained,
        "p99_ms": p99,
        "cpu_pct_of_one_core": cpu,
        "machine_busy_pct": round(busy * 100, 1),
        "publishers_kept_up": published_rate >= SATURATED_RATIO * rate,
        "saturated": achieved < SATURATED_RATIO * published_rate
        or not drained
        or (p99 or 0) > SATURATED_P99_MS
        or published_rate < SATURATED_RATIO * rate,
    }


def latency_p99_ms(dsn: str) -> float | None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT percentile_disc(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM"
            " pg_xact_commit_timestamp(xmin) - ts) * 1000) FROM events"
        ).fetchone()
    return None if row is None or row[0] is None else round(float(row[0]))


def bottleneck(step: dict[str, Any], cores: int) -> str:
    if (
        not step["publishers_kept_up"]
        and step["achieved_events_s"] >= SATURATED_RATIO * step["published_events_s"]
    ):
        return (
            f"the load generator: publishers reached {step['published_events_s']:,}/s of "
            f"{step['offered_events_s']:,}/s and everything they sent was stored in time"
        )
    cpu = {k: v for k, v in step["cpu_pct_of_one_core"].items() if k != "publishers"}
    pegged = sorted(((v, k) for k, v in cpu.items() if v >= PEGGED_PCT), reverse=True)
    if pegged:
        value, name = pegged[0]
        return f"{name} CPU ({value:.0f}% of one core: that process is the limit)"
    if step["machine_busy_pct"] >= 90:
        top = max(cpu, key=lambda k: cpu[k])
        return (
            f"machine CPU ({step['machine_busy_pct']:.0f}% of {cores} cores busy, biggest"
            f" share {top} {cpu[top]:.0f}%: every stage competes for the same cores)"
        )
    if cpu.get("postgres", 0) >= max(cpu.values()):
        return "PostgreSQL (its backends use the most CPU; commits/IO wait the rest)"
    return "latency/IO wait (no process pegged, machine not busy)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--publish-child", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2, help="ingest workers")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--nodes", type=int, default=20, help="nodes per publisher")
    parser.add_argument(
        "--rates",
        default="2000,5000,10000,20000,40000,80000",
        help="offered events/s, comma separated, in order",
    )
    parser.add_argument("--step-s", type=float, default=8.0, help="seconds per step")
    parser.add_argument("--no-analytics", action="store_true", help="leave analytics out")
    parser.add_argument("--no-api", action="store_true", help="leave the API out")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.publish_child:
        broker, publisher, nodes, rate, seconds = args.publish_child
        publish_child(broker, int(publisher), int(nodes), float(rate), float(seconds))
        return
    from hubsense.logs import configure_logging

    configure_logging("warning", "console")
    workdir = Path(tempfile.mkdtemp(prefix="hubsense-bench-load-"))
    os.chmod(workdir, 0o755)
    stack = ib.Stack(workdir)
    procs: list[subprocess.Popen[bytes]] = []
    periodic: list[Periodic] = []
    try:
        dsn = stack.start(args.publishers, args.nodes)
        workers = [
            ib.start_ingest(dsn, stack.broker.url, workdir, f"load-{k}")
            for k in range(args.workers)
        ]
        procs += workers
        pids: dict[str, list[int]] = {f"ingest-{k}": [w.pid] for k, w in enumerate(workers)}
        pids["mosquitto"] = [stack.broker._pid()]
        stages = ["publishers", "mosquitto", f"{args.workers} ingest workers", "postgresql"]
        if not args.no_analytics:
            periodic.append(Periodic(lambda: analytics_once(dsn), 5.0))
            stages.append("analytics (hubsense analytics run every 5 s, in-process)")
        if not args.no_api:
            api, url = start_api(dsn, workdir)
            procs.append(api)
            pids["api"] = [api.pid]
            periodic.append(Periodic(lambda: urllib.request.urlopen(url, timeout=5).read(), 1.0))
            stages.append("api (hubsense api run, /hubs/bench/state polled 1/s)")
        pids["postgres"] = postgres_pids(stack.pg)
        machine = Machine(pids)
        steps = []
        for rate in [float(r) for r in args.rates.split(",")]:
            machine.pids["postgres"] = postgres_pids(stack.pg)
            step = run_step(args, stack, dsn, rate, machine)
            step["bottleneck"] = bottleneck(step, os.cpu_count() or 1)
            steps.append(step)
            if not args.json:
                print_step(step)
            if step["saturated"]:
                break
        extra = {
            "analytics_runs": periodic[0].runs if periodic and not args.no_analytics else 0,
            "analytics_errors": periodic[0].errors if periodic and not args.no_analytics else 0,
        }
        report(args, stages, steps, extra)
    finally:
        for p in periodic:
            p.stop.set()
        for proc in procs:
            proc.terminate()
            proc.wait(60)
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


ANALYTICS_CPU_S = [0.0]


def analytics_once(dsn: str) -> None:
    """One `hubsense analytics run` for today; its CPU is read from wait4 (its own rusage)."""
    import datetime as dt

    today = dt.date.today()
    proc = subprocess.Popen(
        [
            ib.HUBSENSE,
            "analytics",
            "run",
            "--from",
            str(today),
            "--to",
            str(today + dt.timedelta(days=1)),
            "--dsn",
            dsn,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    ANALYTICS_CPU_S[0] += usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        raise RuntimeError(f"hubsense analytics run exited {proc.returncode}")


def start_api(dsn: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    from hubsense.devstack.ports import free_port

    port = free_port()
    log = (workdir / "api.log").open("ab")
    proc = subprocess.Popen(
        [ib.HUBSENSE, "api", "run", "--dsn", dsn, "--port", str(port), "--no-watcher"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/hubs/{ib.SITE}/state"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
            return proc, url
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the API did not start") from None
            time.sleep(0.2)


def print_step(step: dict[str, Any]) -> None:
    cpu = "  ".join(f"{k} {v:.0f}%" for k, v in step["cpu_pct_of_one_core"].items())
    flag = "SATURATED" if step["saturated"] else "ok"
    print(
        f"offered {step['offered_events_s']:>7,}/s  published {step['published_events_s']:>7,}/s"
        f"  stored {step['achieved_events_s']:>7,}/s  p99 {step['p99_ms']} ms  {flag}"
        f"  exactly-once {step['exactly_once']}  machine {step['machine_busy_pct']:.0f}% busy"
        f"\n    cpu (% of one core): {cpu}",
        flush=True,
    )


def report(
    args: argparse.Namespace, stages: list[str], steps: list[dict[str, Any]], extra: dict[str, Any]
) -> None:
    sustained = [s for s in steps if not s["saturated"]]
    best = max((s["achieved_events_s"] for s in sustained), default=0)
    last = steps[-1]
    summary = {
        "stages": stages,
        "workers": args.workers,
        "cores": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 1),
        "steps": steps,
        "sustained_events_s": best,
        "saturated_at_offered_events_s": last["offered_events_s"] if last["saturated"] else None,
        "bottleneck": last["bottleneck"] if last["saturated"] else "not reached: raise --rates",
        **extra,
    }
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    print(f"stages: {' → '.join(stages)}")
    print(
        f"sustained {best:,} events/s with {args.workers} ingest worker(s) on "
        f"{os.cpu_count()} cores (1-min load {summary['load_avg_1m']})"
    )
    if last["saturated"]:
        print(
            f"saturates at {last['offered_events_s']:,} events/s offered "
            f"({last['achieved_events_s']:,} stored): bottleneck {last['bottleneck']}"
        )
    else:
        print("did not saturate: raise --rates")


if __name__ == "__main__":
    main()
