"""pytest fixtures: private PostgreSQL and Mosquitto servers for the test suite.

Loaded by `tests/conftest.py` (`pytest_plugins = ["hubsense.devstack.pytest_plugin"]`).

- `pg_server` (session): a PostgresServer in a private temp dir, non-durable
  for speed (fsync off). `.dsn(dbname="postgres")`, `.port`, `.stop()`, `.start()`,
  `.restart()`, `.create_database()`, `.drop_database()`.
- `db_dsn` (module): a fresh, uniquely named database on `pg_server` with all
  migrations applied; yields its DSN and drops it afterwards.
- `mqtt_broker` (session): a MosquittoServer (persistence on, queue limits
  lifted). `.host`, `.port`, `.url`, `.stop()`, `.start()`, `.restart()`.
- `make_broker` (function): `make_broker(extra_lines=[...])` starts an own
  broker for one test; all are stopped when the test ends.
- `service_tmp_path` (function): a fresh directory for a test's own server.

Server data lives in a `tempfile.mkdtemp()` directory (mode 0711), not in
pytest's `tmp_path_factory`: when run as root, the servers run as `postgres`
and `mosquitto` and must pass through every ancestor of their directory, and
each new pytest session resets `/tmp/pytest-of-<user>` to mode 0700 — so a
second concurrent session (several people share these machines) would lock
the running servers out of their own files mid-test. The directory is removed
at session end; one left by a killed session (SIGKILL, timeout) is swept, and
its servers stopped, by the next session once its owning pid is gone.

A test that stops or restarts a shared server must leave it running (call
`.start()` in a `finally`); `db_dsn` starts PostgreSQL again if it finds it down.

Why not pytest-postgresql (installed, 10.0): its executor runs `pg_ctl initdb`
and `pg_ctl start` directly as the current user, and initdb/postgres refuse to
run as root, which is how these machines run the tests; it has no hook to run
them as another user (e.g. `runuser -u postgres`), and it knows nothing of
Mosquitto. One harness (hubsense.devstack) serves `hubsense services up`, the
demo and the tests alike.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hubsense.devstack.mosquitto import MosquittoServer
from hubsense.devstack.postgres import PostgresServer

_db_counter = itertools.count(1)
BASETEMP_PREFIX = "hubsense-services-"
OWNER_FILE = "owner.pid"


@pytest.fixture(scope="session")
def services_basetemp() -> Iterator[Path]:
    """A private temp dir for server data, removed at session end (see the module docstring)."""
    _sweep_orphans(Path(tempfile.gettempdir()))
    base = Path(tempfile.mkdtemp(prefix=BASETEMP_PREFIX))
    base.chmod(0o711)  # the servers' accounts (postgres, mosquitto) must pass through it
    (base / OWNER_FILE).write_text(f"{os.getpid()}\n")
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def service_tmp_path(services_basetemp: Path) -> Path:
    """A fresh directory for a test's own server (instead of tmp_path; see the module docstring)."""
    return Path(tempfile.mkdtemp(prefix="t-", dir=services_basetemp))


@pytest.fixture(scope="session")
def pg_server(services_basetemp: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(services_basetemp / "postgres", durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mqtt_broker(services_basetemp: Path) -> Iterator[MosquittoServer]:
    broker = MosquittoServer(services_basetemp / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def db_dsn(pg_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    from hubsense.db.migrate import migrate

    _ensure_running(pg_server)
    module = request.module.__name__.rsplit(".", 1)[-1]
    name = f"t_{module[:40]}_{os.getpid()}_{next(_db_counter)}".lower()
    pg_server.create_database(name, exist_ok=False)
    dsn = pg_server.dsn(name)
    try:
        migrate(dsn)
        yield dsn
    finally:
        _ensure_running(pg_server)
        pg_server.drop_database(name)


@pytest.fixture
def make_broker(services_basetemp: Path) -> Iterator[Callable[..., MosquittoServer]]:
    started: list[MosquittoServer] = []

    def factory(extra_lines: list[str] | None = None, **options: object) -> MosquittoServer:
        directory = Path(tempfile.mkdtemp(prefix="broker-", dir=services_basetemp))
        broker = MosquittoServer(directory, extra_lines=extra_lines, **options)  # type: ignore[arg-type]
        broker.start()
        started.append(broker)
        return broker

    yield factory
    for broker in started:
        broker.stop()


def _ensure_running(server: PostgresServer | MosquittoServer) -> None:
    if not server.is_running():
        server.start()


def _sweep_orphans(tmp_root: Path) -> None:
    """Stop the servers of earlier sessions that died without teardown (SIGKILL, timeout).

    Only directories whose owning pytest process is gone are touched, so concurrent
    sessions on a shared machine keep their servers.
    """
    for base in tmp_root.glob(f"{BASETEMP_PREFIX}*"):
        try:
            owner = int((base / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or still being set up
        if _process_alive(owner):
            continue
        for pid_file in [*base.glob("*/mosquitto.pid"), *base.glob("*/*/mosquitto.pid")]:
            MosquittoServer(pid_file.parent).stop()
        for version in [*base.glob("*/data/PG_VERSION"), *base.glob("*/*/data/PG_VERSION")]:
            PostgresServer(version.parent.parent).stop()
        shutil.rmtree(base, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
