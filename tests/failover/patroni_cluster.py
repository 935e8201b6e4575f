"""A real Patroni cluster for the failover test: one etcd, two PostgreSQL 15 under Patroni.

Everything comes from Debian packages (`patroni`, `etcd-server`, `etcd-client`,
`postgresql`), nothing is mocked. Patroni runs as user `postgres` when we are root
(PostgreSQL refuses root) through `setpriv`, which execs: the pid we hold is Patroni's
own, so SIGKILL hits it and not a wrapper. `kill_node` is the loss of a machine: Patroni
and its postmaster get SIGKILL together (SIGKILL of the postmaster alone is a crash
Patroni repairs in place by restarting it, with no failover).

Timings are short so a failover takes seconds, not a minute: the leader key lives
`TTL_S` (Patroni's default is 30 s) and each member looks every `LOOP_WAIT_S`.
`synchronous_mode` makes the standby synchronous: a commit returns only once the standby
has flushed it, and only that standby may be promoted, so nothing acked is lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from hubsense.devstack.ports import LOOPBACK, free_port
from support.waiting import wait_for

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEBIAN_PACKAGES = ("patroni", "etcd-server", "etcd-client")
SCOPE = "hubsense-ha"
TTL_S = 10
LOOP_WAIT_S = 1
RETRY_TIMEOUT_S = 3  # Patroni wants loop_wait + 2 * retry_timeout <= ttl
START_TIMEOUT_S = 90


def missing_binaries() -> list[str]:
    """The Debian packages whose programs are not installed."""
    wanted = {"patroni": "patroni", "etcd": "etcd-server", "etcdctl": "etcd-client"}
    missing = [package for binary, package in wanted.items() if shutil.which(binary) is None]
    if not (PG_BIN / "postgres").exists():
        missing.append("postgresql")
    return missing


def _as_postgres() -> list[str]:
    """The prefix that runs a program as `postgres` (exec, no wrapper process) when root."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]


def _give_to_postgres(path: Path) -> None:
    """chown to `postgres` and let it pass through our ancestors (hubsense.host does both)."""
    from hubsense.host import hand_over, service_account

    hand_over(path, service_account("postgres"))


def _http_get(url: str, timeout_s: float = 2.0) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) of a GET; (0, {}) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:  # Patroni answers 503 with a JSON body
        body = error.read()
        with contextlib.suppress(ValueError):
            return error.code, json.loads(body or b"{}")
        return error.code, {}
    except (OSError, ValueError):
        return 0, {}


class Etcd:
    """One etcd member on loopback ports, data in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.client_port, self.peer_port = free_port(), free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "etcd.log"

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.client_port}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        client = f"http://{self.endpoint}"
        peer = f"http://{LOOPBACK}:{self.peer_port}"
        args = [
            "etcd", "--name", "e1", "--data-dir", str(self.directory / "data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"e1={peer}", "--initial-cluster-state", "new",
        ]  # fmt: skip
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT)
        wait_for(
            lambda: _http_get(f"{client}/health")[1].get("health") == "true",
            30,
            lambda: f"etcd healthy ({self.log_path})",
        )

    def stop(self) -> None:
        _stop_process(self.process)


class PatroniNode:
    """One PostgreSQL 15 under Patroni: its YAML, its process, its ports."""

    def __init__(self, name: str, directory: Path, etcd: Etcd) -> None:
        self.name = name
        self.directory = directory
        self.pg_port, self.api_port = free_port(), free_port()
        self.data_dir = directory / "data"
        self.config_path = directory / "patroni.yml"
        self.log_path = directory / "patroni.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.etcd = etcd

    @property
    def host_port(self) -> str:
        return f"{LOOPBACK}:{self.pg_port}"

    @property
    def api_address(self) -> str:
        return f"{LOOPBACK}:{self.api_port}"

    @property
    def api(self) -> str:
        return f"http://{self.api_address}"

    def config(self) -> dict[str, Any]:
        hba = [
            f"host replication replicator {LOOPBACK}/32 trust",
            f"host all all {LOOPBACK}/32 trust",
            "local all all trust",
        ]
        return {
            "scope": SCOPE,
            "name": self.name,
            "restapi": {"listen": self.api_address, "connect_address": self.api_address},
            "etcd3": {"hosts": self.etcd.endpoint},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL_S,
                    "loop_wait": LOOP_WAIT_S,
                    "retry_timeout": RETRY_TIMEOUT_S,
                    "synchronous_mode": True,
                    "postgresql": {
                        "use_pg_rewind": False,
                        "parameters": {
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_keep_size": "256MB",
                            # The durable defaults, said out loud: a commit waits for the
                            # synchronous standby's flush.
                            "synchronous_commit": "on",
                            "fsync": "on",
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}],
            },
            "postgresql": {
                "listen": self.host_port,
                "connect_address": self.host_port,
                "data_dir": str(self.data_dir),
                "bin_dir": str(PG_BIN),
                "pgpass": str(self.directory / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "postgres"},
                    "replication": {"username": "replicator", "password": "replicator"},
                },
                "parameters": {
                    "unix_socket_directories": str(self.directory / "run"),
                    "max_connections": 100,
                    "shared_buffers": "128MB",
                    "timezone": "UTC",
                },
                "pg_hba": hba,
            },
        }  # fmt: skip

    def start(self) -> None:
        (self.directory / "run").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        _give_to_postgres(self.directory)
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [*_as_postgres(), "patroni", str(self.config_path)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
            )

    def role(self) -> str:
        """Patroni's view of this member: 'primary', 'replica', … or '' when it is down."""
        role = str(_http_get(f"{self.api}/patroni")[1].get("role", ""))
        return "primary" if role == "master" else role  # Patroni 3.0 still says master

    def is_sync_standby(self) -> bool:
        return _http_get(f"{self.api}/sync")[0] == 200

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL Patroni and its postmaster at once: this machine is gone."""
        postmaster = self.postmaster_pid()
        assert self.process is not None and postmaster is not None
        os.kill(self.process.pid, signal.SIGKILL)
        os.kill(postmaster, signal.SIGKILL)
        self.process.wait(30)
        # The backends notice their postmaster died and exit; wait so no port stays taken.
        wait_for(lambda: not _alive(postmaster), 30, f"{self.name}'s postmaster gone")

    def stop(self) -> None:
        """Patroni stops its PostgreSQL on SIGTERM; what survives a timeout gets SIGKILL."""
        _stop_process(self.process, timeout_s=60)
        postmaster = self.postmaster_pid()
        if postmaster is not None and _alive(postmaster):
            os.kill(postmaster, signal.SIGKILL)

    def log_tail(self, lines: int = 8) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "no log"


class PatroniCluster:
    """etcd + two Patroni members; `dsn()` names both servers, libpq finds the primary."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.etcd = Etcd(directory / "etcd")
        self.nodes = [PatroniNode(f"pg{i}", directory / f"pg{i}", self.etcd) for i in (1, 2)]

    def start(self) -> None:
        self.etcd.start()
        first, second = self.nodes
        first.start()
        wait_for(
            lambda: first.role() == "primary",
            START_TIMEOUT_S,
            lambda: f"{first.name} to bootstrap as primary: {first.log_tail()}",
        )
        second.start()
        wait_for(
            second.is_sync_standby,
            START_TIMEOUT_S,
            lambda: f"{second.name} to become the synchronous standby: {second.log_tail()}",
        )

    def dsn(self, dbname: str = "postgres") -> str:
        hosts = ",".join(node.host_port for node in self.nodes)
        return f"postgresql://postgres@{hosts}/{dbname}?target_session_attrs=read-write"

    def primary(self) -> PatroniNode:
        primaries = [node for node in self.nodes if node.role() == "primary"]
        assert len(primaries) == 1, [node.role() for node in self.nodes]
        return primaries[0]

    def other(self, node: PatroniNode) -> PatroniNode:
        return next(n for n in self.nodes if n is not node)

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()
        self.etcd.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purpose; /proc says so.
    with contextlib.suppress(OSError):
        if " Z " in Path(f"/proc/{pid}/stat").read_text():
            return False
    return True


def _stop_process(process: subprocess.Popen[bytes] | None, timeout_s: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)


def wait_writable(dsn: str, timeout_s: float) -> float:
    """Seconds until a read-write connection over `dsn` succeeds (polled every 0.1 s)."""
    import psycopg

    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2, autocommit=True) as conn:
                conn.execute("SELECT 1")
            return time.monotonic() - started
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
