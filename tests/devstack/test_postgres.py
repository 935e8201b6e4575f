"""The private PostgreSQL cluster: settings, restart, reuse of a data dir, databases."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest
from hubsense.devstack.postgres import PostgresServer

from hubsense.errors import ServiceError

pytestmark = pytest.mark.service


def _one(dsn: str, query: str) -> object:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_dsn_shape_and_test_speed_settings(pg_server: PostgresServer) -> None:
    assert pg_server.dsn() == f"postgresql://postgres@127.0.0.1:{pg_server.port}/postgres"
    assert pg_server.dsn(dbname="x") == f"postgresql://postgres@127.0.0.1:{pg_server.port}/x"
    dsn = pg_server.dsn()
    assert _one(dsn, "SHOW fsync") == "off"  # the test cluster trades durability for speed
    assert _one(dsn, "SHOW listen_addresses") == "127.0.0.1"
    assert _one(dsn, "SHOW max_connections") == "200"
    assert _one(dsn, "SELECT current_user") == "postgres"


def test_restart_keeps_port_and_data(pg_server: PostgresServer) -> None:
    pg_server.create_database("restart_probe")
    try:
        dsn = pg_server.dsn("restart_probe")
        with psycopg.connect(dsn) as conn:
            conn.execute("CREATE TABLE t (v int)")
            conn.execute("INSERT INTO t VALUES (41), (1)")
        port = pg_server.port
        pg_server.restart()
        assert pg_server.port == port
        assert _one(dsn, "SELECT sum(v) FROM t") == 42
    finally:
        pg_server.drop_database("restart_probe")


def test_create_and_drop_database(pg_server: PostgresServer) -> None:
    pg_server.create_database("probe_db")
    pg_server.create_database("probe_db")  # exist_ok by default
    admin = pg_server.dsn()
    with psycopg.connect(pg_server.dsn("probe_db")):
        pass
    pg_server.drop_database("probe_db")  # WITH (FORCE): open sessions do not block it
    count = _one(admin, "SELECT count(*) FROM pg_database WHERE datname = 'probe_db'")
    assert count == 0


def test_durable_cluster_reused_by_a_new_handle(service_tmp_path: Path) -> None:
    directory = service_tmp_path / "pg"
    first = PostgresServer(directory, shared_buffers="128MB")
    first.start()
    try:
        assert _one(first.dsn(), "SHOW fsync") == "on"  # `services up` keeps durability
        assert _one(first.dsn(), "SHOW shared_buffers") == "128MB"
        assert _one(first.dsn(), "SHOW unix_socket_directories") == str(directory / "run")
        with psycopg.connect(first.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
        first.stop()
        assert not first.is_running()
        assert first.status()["running"] is False

        second = PostgresServer(directory)  # same directory: reuses the cluster and its port
        assert second.port == first.port
        second.start()
        assert second.is_running()
        assert _one(second.dsn(), "SELECT v FROM kept") == "still here"
        assert (directory / "data" / "PG_VERSION").read_text().strip() == "15"
    finally:
        PostgresServer(directory).stop()


def test_taken_port_is_retried_or_reported(service_tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]

        given = PostgresServer(service_tmp_path / "given", port=taken, durable=False)
        with pytest.raises(ServiceError, match=rf"^PostgreSQL on port {taken}: failed to start: "):
            given.start()

        chosen = PostgresServer(service_tmp_path / "chosen", durable=False)
        chosen._port = taken  # as if another process took the free port we had picked
        chosen.start()
        try:
            assert chosen.port != taken
            assert _one(chosen.dsn(), "SELECT 1") == 1
            with pytest.raises(
                ServiceError, match=rf"already running on port {chosen.port}, not {taken}"
            ):
                PostgresServer(service_tmp_path / "chosen", port=taken).start()
        finally:
            chosen.stop()
