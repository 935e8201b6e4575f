"""Chaos suite helpers: agent and ingest processes, a network cutter, outbox reads, recovery clocks.

A uniquely named module (not conftest) so `from chaos_helpers import …` never collides
with another folder's helpers. Everything here is real: separate processes (so SIGKILL
is a real SIGKILL), real TCP, the agents' own SQLite outboxes read as they are written.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).parent
CHILD = HERE / "chaos_agent.py"
SITE = "chaos-site"


def node_config(
    node: str, index: int, desks: int, broker_url: str, state_dir: Path, heartbeat_s: int
) -> dict[str, Any]:
    sensors = [
        {
            "type": "bthome",
            "address": f"A4:C1:38:{index:02X}:00:{d:02X}",
            "desk": f"{node}-d{d:02d}",
        }
        for d in range(desks)
    ]
    return {
        "node": node,
        "site": SITE,
        "broker": {"url": broker_url, "reconnect_max_s": 2},
        "state_dir": str(state_dir),
        "heartbeat_s": heartbeat_s,
        "debounce_ms": 0,
        "tick_s": 0.05,
        "sensors": sensors,
    }


def inventory_for(configs: list[dict[str, Any]]) -> Any:
    from hubsense.inventory.model import Inventory

    return Inventory.model_validate(
        {
            "organisation": "Chaos",
            "sites": [
                {
                    "id": SITE,
                    "name": "Chaos site",
                    "kind": "office",
                    "timezone": "Europe/Stockholm",
                    "desks": [{"id": s["desk"]} for c in configs for s in c["sensors"]],
                    "nodes": [
                        {"id": c["node"], "heartbeat_s": c["heartbeat_s"], "sensors": c["sensors"]}
                        for c in configs
                    ],
                }
            ],
        }
    )


class AgentProcess:
    """`chaos_agent.py` for one node: start, SIGKILL, restart, speed up its clock, stop."""

    def __init__(self, config: dict[str, Any], logdir: Path, rate: float, offset_ms: int = 0):
        self.node = config["node"]
        self.config_path = logdir / f"{self.node}.json"
        self.config_path.write_text(json.dumps(config))
        self.outbox_path = Path(config["state_dir"]) / "outbox.sqlite3"
        self.log_path = logdir / f"{self.node}.log"
        self.rate, self.offset_ms = rate, offset_ms
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    str(CHILD),
                    str(self.config_path),
                    str(self.rate),
                    str(self.offset_ms),
                ],
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    def send(self, command: str) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(f"{command}\n".encode())
        self.process.stdin.flush()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        self._close_stdin()
        self.kills += 1

    def stop(self, timeout_s: float = 60) -> int:
        assert self.process is not None
        self.send("stop")
        code = self.process.wait(timeout_s)
        self._close_stdin()
        return code

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self._close_stdin()

    def _close_stdin(self) -> None:
        if self.process is not None and self.process.stdin is not None:
            with contextlib.suppress(OSError):  # the child died with unread input in the pipe
                self.process.stdin.close()


def read_outbox(path: Path) -> dict[str, int]:
    """next_seq, depth and evicted_total of a live or stopped agent's outbox (WAL: readers
    never block the writer)."""
    db = sqlite3.connect(path, timeout=10)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        depth = db.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        db.close()
    return {
        "next_seq": int(meta["next_seq"]),
        "depth": int(depth),
        "evicted_total": int(meta["evicted_total"]),
    }


def create_outbox(state_dir: Path, node: str, offset_ms: int) -> int:
    """Create the node's outbox as the agent would on first boot; its first seq."""
    from hubsense.edge.io.outbox import open_outbox

    box = open_outbox(state_dir, node, int(time.time() * 1000) + offset_ms)
    first = box.next_seq
    box.close()
    return first


@dataclass
class Fault:
    name: str
    at_s: float  # since the stream started
    injected_mono: float
    # node -> (first seq, last seq produced when the fault hit): what must be stored to recover
    owed: dict[str, tuple[int, int]]
    recovered_mono: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def recovery_s(self) -> float | None:
        if self.recovered_mono is None:
            return None
        return self.recovered_mono - self.injected_mono


class RecoveryClock:
    """Polls the database: a fault has recovered once everything the nodes had produced
    when it hit is stored (per node, every seq from the first up to that point)."""

    def __init__(self, dsn: str, interval_s: float = 0.5) -> None:
        self.dsn = dsn
        self.interval_s = interval_s
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                    while not self._stop.wait(self.interval_s):
                        self._poll(conn)
            except psycopg.OperationalError:
                self._stop.wait(self.interval_s)  # PostgreSQL is restarting: try again
            except BaseException as error:
                self.error = error
                return

    def _poll(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            pending = [f for f in self.faults if f.recovered_mono is None]
        for fault in pending:
            nodes = sorted(fault.owed)
            rows = conn.execute(
                "SELECT u.n, (SELECT count(*) FROM events e WHERE e.node_id = u.n"
                " AND e.seq BETWEEN u.lo AND u.hi) = u.hi - u.lo + 1"
                " FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS u(n, lo, hi)",
                (nodes, [fault.owed[n][0] for n in nodes], [fault.owed[n][1] for n in nodes]),
            ).fetchall()
            if all(done for _, done in rows):
                fault.recovered_mono = time.monotonic()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        assert self.error is None, self.error
