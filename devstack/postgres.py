"""A private PostgreSQL 15 cluster under a state directory, for development and tests.

Layout under `directory`: `data/` (the cluster), `run/` (its unix socket),
`postgres.log`. It listens on 127.0.0.1 only, and authentication is `trust`
(any local user may connect as any role without a password): this is a
loopback development and test server, never a production one — production
deployments pass `--dsn` to their own server.

When we are root, the directory belongs to user `postgres` and initdb/pg_ctl run
through `runuser -u postgres --` (initdb and postgres refuse root).

`durable=False` (tests) turns off fsync, synchronous_commit and full_page_writes
for speed; the default keeps PostgreSQL's durable settings. Must not touch
anything outside `directory` (see privileges.py for the one exception).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from hubsense.devstack.packages import require_binary
from hubsense.devstack.ports import LOOPBACK, free_port, port_is_free, start_retrying_taken_port

from hubsense.errors import ServiceError
from hubsense.host import command_as, hand_over, service_account
from hubsense.logs import get_logger

log = get_logger(__name__)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"
START_TIMEOUT_S = 60
CONF_NAME = "hubsense.conf"


class PostgresServer:
    """Start, stop and query one private cluster; `port=None` picks (or reuses) a free one."""

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        *,
        durable: bool = True,
        max_connections: int = 200,
        shared_buffers: str = "256MB",
        extra_settings: dict[str, str] | None = None,
        bin_dir: Path = PG_BIN,
    ) -> None:
        self.directory = Path(directory).absolute()
        self.data_dir = self.directory / "data"
        self.socket_dir = self.directory / "run"
        self.log_file = self.directory / "postgres.log"
        self.host = LOOPBACK
        self._requested_port = port
        self._port: int | None = port
        self.durable = durable
        self.max_connections = max_connections
        self.shared_buffers = shared_buffers
        self.extra_settings = dict(extra_settings or {})
        self.bin_dir = bin_dir

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = self._choose_port()
        return self._port

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> None:
        """Initialise the cluster if needed and start it; a running cluster is left alone."""
        if self.is_running():
            running = self._running_port()
            if self._requested_port is not None and running not in (None, self._requested_port):
                raise ServiceError(
                    f"PostgreSQL in {self.data_dir}: already running on port {running}, "
                    f"not {self._requested_port}; stop it first to change the port"
                )
            self._port = running or self._port
            return
        self._init_if_needed()
        start_retrying_taken_port(self, "postgres")

    def _start_once(self) -> None:
        self._write_settings()
        hand_over(self.directory, service_account(SUPERUSER))
        result = self._pg_ctl("start", "-w", "-t", str(START_TIMEOUT_S), "-l", str(self.log_file))
        if result.returncode != 0:
            raise ServiceError(
                f"PostgreSQL on port {self.port}: failed to start: {self._log_tail()}"
            )
        log.info("postgres_started", port=self.port, data_dir=str(self.data_dir))

    def stop(self) -> None:
        """Stop the cluster (fast shutdown: sessions are ended, data is flushed)."""
        if not self.is_running():
            return
        result = self._pg_ctl("stop", "-w", "-m", "fast", "-t", str(START_TIMEOUT_S))
        if result.returncode != 0:
            raise ServiceError(f"PostgreSQL on port {self.port}: failed to stop: {result.stderr}")
        log.info("postgres_stopped", port=self.port)

    def restart(self) -> None:
        self.stop()
        self.start()

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return self._pg_ctl("status").returncode == 0

    def status(self) -> dict[str, Any]:
        running = self.is_running()
        if running:
            self._port = self._running_port() or self._port
        return {"running": running, "port": self._port}

    # -- databases -------------------------------------------------------------

    def create_database(self, name: str, *, exist_ok: bool = True) -> None:
        from psycopg import sql

        with self._admin() as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if exists and exist_ok:
                return
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        log.info("database_created", name=name, port=self.port)

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- internals ---------------------------------------------------------------

    def _admin(self) -> Any:
        from hubsense.db.connect import connect

        return connect(self.dsn("postgres"), autocommit=True)

    def _binary(self, name: str) -> str:
        return str(require_binary(self.bin_dir / name, "postgresql"))

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        command = command_as(service_account(SUPERUSER), args)
        # cwd inside our directory: runuser keeps it, and postgres cannot enter /root.
        return subprocess.run(
            command,
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S + 30,
        )

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self._run([self._binary("pg_ctl"), "-D", str(self.data_dir), *args])

    def _init_if_needed(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        hand_over(self.directory, service_account(SUPERUSER))
        args = [
            self._binary("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ]
        if not self.durable:
            args.append("--no-sync")
        result = self._run(args)
        if result.returncode != 0:
            raise ServiceError(f"initdb {self.data_dir}: failed: {result.stderr.strip()}")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\n# Written by hubsense: the settings below are rewritten on each start.\n"
                f"include_if_exists '{CONF_NAME}'\n"
            )
        log.info("postgres_initialised", data_dir=str(self.data_dir))

    def _choose_port(self) -> int:
        if self._requested_port is not None:
            return self._requested_port
        running = self._running_port() if self.is_running() else None
        if running is not None:
            return running
        previous = self._configured_port()
        if previous is not None and port_is_free(previous):
            return previous
        return free_port()

    def _settings(self) -> dict[str, str]:
        settings = {
            "listen_addresses": f"'{LOOPBACK}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": str(self.max_connections),
            "shared_buffers": f"'{self.shared_buffers}'",
            "timezone": "'UTC'",
        }
        if not self.durable:
            # Tests throw the cluster away; durability only costs time there.
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        return settings | self.extra_settings

    def _write_settings(self) -> None:
        lines = [f"{key} = {value}" for key, value in self._settings().items()]
        (self.data_dir / CONF_NAME).write_text("\n".join(lines) + "\n")

    def _configured_port(self) -> int | None:
        conf = self.data_dir / CONF_NAME
        if not conf.exists():
            return None
        for line in conf.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "port":
                return int(value.strip())
        return None

    def _running_port(self) -> int | None:
        # postmaster.pid line 4 is the port the running server listens on.
        pid_file = self.data_dir / "postmaster.pid"
        try:
            return int(pid_file.read_text().splitlines()[3])
        except (OSError, IndexError, ValueError):
            return None

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text().strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(lines[-3:]) or "empty log"
