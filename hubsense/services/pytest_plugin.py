"""pytest fixtures: private PostgreSQL and Mosquitto servers for the test suite.

Loaded by `tests/conftest.py` (`pytest_plugins = ["hubsense.services.pytest_plugin"]`).

- `pg_server` (session): a PostgresServer in a pytest tmp dir, non-durable for
  speed (fsync off). `.dsn(dbname="postgres")`, `.port`, `.stop()`, `.start()`,
  `.restart()`, `.create_database()`, `.drop_database()`.
- `db_dsn` (module): a fresh, uniquely named database on `pg_server` with all
  migrations applied; yields its DSN and drops it afterwards.
- `mqtt_broker` (session): a MosquittoServer (persistence on, queue limits
  lifted). `.host`, `.port`, `.url`, `.stop()`, `.start()`, `.restart()`.
- `make_broker` (function): `make_broker(extra_lines=[...])` starts an own
  broker for one test; all are stopped when the test ends.

A test that stops or restarts a shared server must leave it running (call
`.start()` in a `finally`); `db_dsn` starts PostgreSQL again if it finds it down.

Why not pytest-postgresql (installed, 10.0): its executor runs `pg_ctl initdb`
and `pg_ctl start` directly as the current user, and initdb/postgres refuse to
run as root, which is how these machines run the tests; it has no hook to run
them as another user (e.g. `runuser -u postgres`), and it knows nothing of
Mosquitto. One harness (hubsense.services) serves `hubsense services up`, the
demo and the tests alike.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import pytest

from hubsense.services.mosquitto import MosquittoServer
from hubsense.services.postgres import PostgresServer

_db_counter = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = PostgresServer(tmp_path_factory.mktemp("postgres"), durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    broker = MosquittoServer(tmp_path_factory.mktemp("mosquitto"))
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
def make_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., MosquittoServer]]:
    started: list[MosquittoServer] = []

    def factory(extra_lines: list[str] | None = None, **options: object) -> MosquittoServer:
        broker = MosquittoServer(
            tmp_path_factory.mktemp("broker"), extra_lines=extra_lines, **options  # type: ignore[arg-type]
        )
        broker.start()
        started.append(broker)
        return broker

    yield factory
    for broker in started:
        broker.stop()


def _ensure_running(server: PostgresServer | MosquittoServer) -> None:
    if not server.is_running():
        server.start()

