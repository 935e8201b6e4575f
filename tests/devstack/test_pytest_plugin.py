"""The fixtures' own housekeeping: orphaned servers of killed sessions are swept."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hubsense.devstack.mosquitto import MosquittoServer
from hubsense.devstack.postgres import PostgresServer
from hubsense.devstack.pytest_plugin import BASETEMP_PREFIX, OWNER_FILE, _sweep_orphans

pytestmark = pytest.mark.service


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_sweep_stops_servers_of_dead_sessions_only(service_tmp_path: Path) -> None:
    root = service_tmp_path
    dead = root / f"{BASETEMP_PREFIX}dead"
    alive = root / f"{BASETEMP_PREFIX}alive"
    for base, owner in ((dead, _dead_pid()), (alive, os.getpid())):
        base.mkdir()
        base.chmod(0o711)
        (base / OWNER_FILE).write_text(f"{owner}\n")
    orphan_broker = MosquittoServer(dead / "mosquitto")
    orphan_pg = PostgresServer(dead / "postgres", durable=False)
    live_broker = MosquittoServer(alive / "t-1" / "broker")
    orphan_broker.start()
    orphan_pg.start()
    live_broker.start()
    try:
        _sweep_orphans(root)
        assert not dead.exists()
        assert not orphan_broker.is_running()
        assert subprocess.run(["pgrep", "-f", str(dead)], capture_output=True).stdout == b""
        assert live_broker.is_running()  # its session (this process) is alive
    finally:
        live_broker.stop()
        orphan_broker.stop()
        orphan_pg.stop()
