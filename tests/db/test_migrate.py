"""Migrations: order, idempotence, records, checksums, params, locking, no-transaction files."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hubsense.devstack.postgres import PostgresServer

from hubsense.db.migrate import (
    MIGRATIONS_DIR,
    MigrationError,
    default_params,
    load_migrations,
    migrate,
    status,
)
from hubsense.db.sql_split import split_statements
from hubsense.settings import TimescaleSettings

_names = itertools.count(1)


@pytest.fixture
def empty_dsn(pg_server: PostgresServer) -> Iterator[str]:
    """A fresh database with nothing applied."""
    name = f"migrate_{next(_names)}"
    pg_server.create_database(name, exist_ok=False)
    yield pg_server.dsn(name)
    pg_server.drop_database(name)


def _rows(dsn: str, query: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query).fetchall()


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


def test_defaults_from_timescale_settings() -> None:
    assert default_params() == {"chunk_days": "7", "compress_after_days": "14"}
    custom = TimescaleSettings(chunk_days=1, compress_after_days=3, retain_days=90)
    assert default_params(custom) == {
        "chunk_days": "1",
        "compress_after_days": "3",
        "retain_days": "90",
    }


@pytest.mark.service
def test_applies_all_in_order_records_checksums_and_is_idempotent(empty_dsn: str) -> None:
    files = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    assert files[0] == "0001_core.sql"
    assert migrate(empty_dsn) == files
    recorded = _rows(
        empty_dsn, "SELECT name, checksum FROM schema_migrations ORDER BY applied_at, name"
    )
    assert recorded == [
        (name, hashlib.sha256((MIGRATIONS_DIR / name).read_bytes()).hexdigest()) for name in files
    ]
    assert migrate(empty_dsn) == []
    assert len(_rows(empty_dsn, "SELECT * FROM schema_migrations")) == len(files)
    # The core tables exist after 0001.
    tables = {
        r[0]
        for r in _rows(empty_dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert {"sites", "desks", "nodes", "sensors", "dead_letters", "schema_migrations"} <= tables


@pytest.mark.service
def test_changed_checksum_is_an_error_naming_the_file(empty_dsn: str, tmp_path: Path) -> None:
    directory = _write(tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (v int);"})
    assert migrate(empty_dsn, directory=directory) == ["0001_a.sql"]
    (directory / "0001_a.sql").write_text("CREATE TABLE a (v bigint);")
    _write(directory, {"0002_b.sql": "CREATE TABLE b (v int);"})
    with pytest.raises(
        MigrationError, match=r"^migration 0001_a\.sql: file changed since it was applied"
    ):
        migrate(empty_dsn, directory=directory)
    # Nothing after the changed file was applied.
    assert _rows(empty_dsn, "SELECT name FROM schema_migrations") == [("0001_a.sql",)]
    assert [(s.name, s.state) for s in status(empty_dsn, directory=directory)] == [
        ("0001_a.sql", "changed"),
        ("0002_b.sql", "pending"),
    ]


@pytest.mark.service
def test_failed_migration_rolls_back_and_is_not_recorded(empty_dsn: str, tmp_path: Path) -> None:
    directory = _write(
        tmp_path / "m",
        {
            "0001_ok.sql": "CREATE TABLE ok (v int);",
            "0002_bad.sql": "CREATE TABLE half (v int);\nSELECT no_such_function();",
        },
    )
    with pytest.raises(
        MigrationError,
        match=r"^migration 0002_bad\.sql: failed: function no_such_function\(\) does not exist",
    ):
        migrate(empty_dsn, directory=directory)
    assert _rows(empty_dsn, "SELECT name FROM schema_migrations") == [("0001_ok.sql",)]
    assert _rows(empty_dsn, "SELECT to_regclass('half') IS NULL") == [(True,)]


@pytest.mark.service
def test_params_are_readable_as_hubsense_settings(empty_dsn: str, tmp_path: Path) -> None:
    directory = _write(
        tmp_path / "m",
        {
            "0001_p.sql": (
                "CREATE TABLE p AS SELECT"
                " current_setting('hubsense.compress_after_days', true) AS c,"
                " current_setting('hubsense.retain_days', true) AS r,"
                " current_setting('hubsense.chunk_days', true) AS k;"
            ),
        },
    )
    migrate(empty_dsn, {"compress_after_days": "30", "chunk_days": "2"}, directory=directory)
    assert _rows(empty_dsn, "SELECT c, r, k FROM p") == [("30", None, "2")]


@pytest.mark.service
def test_default_params_reach_the_sql(empty_dsn: str, tmp_path: Path) -> None:
    directory = _write(
        tmp_path / "m",
        {
            "0001_p.sql": "CREATE TABLE p AS"
            " SELECT current_setting('hubsense.compress_after_days', true) AS c;",
        },
    )
    migrate(empty_dsn, directory=directory)
    assert _rows(empty_dsn, "SELECT c FROM p") == [("14",)]


@pytest.mark.service
def test_two_concurrent_migrators_apply_each_once(empty_dsn: str, tmp_path: Path) -> None:
    # pg_sleep widens the race window: without the advisory lock both would run 0001
    # and one would fail on the duplicate table.
    directory = _write(
        tmp_path / "m",
        {
            "0001_slow.sql": "SELECT pg_sleep(0.3); CREATE TABLE slow (v int);",
            "0002_next.sql": "CREATE TABLE next_one (v int);",
        },
    )
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(empty_dsn, directory=directory))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(name for result in results for name in result) == [
        "0001_slow.sql",
        "0002_next.sql",
    ]
    assert len(_rows(empty_dsn, "SELECT * FROM schema_migrations")) == 2


@pytest.mark.service
def test_no_transaction_migration_runs_statement_by_statement(
    empty_dsn: str, tmp_path: Path
) -> None:
    directory = _write(
        tmp_path / "m",
        {
            "0001_t.sql": "CREATE TABLE t (v int);",
            # CREATE INDEX CONCURRENTLY is refused inside a transaction block.
            "0002_c.sql": (
                "-- hubsense:no-transaction\n"
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_v ON t (v);\n"
                "COMMENT ON TABLE t IS 'has; a semicolon';\n"
            ),
        },
    )
    assert migrate(empty_dsn, directory=directory) == ["0001_t.sql", "0002_c.sql"]
    assert _rows(empty_dsn, "SELECT indexname FROM pg_indexes WHERE tablename = 't'") == [("t_v",)]
    assert _rows(empty_dsn, "SELECT obj_description('t'::regclass)") == [("has; a semicolon",)]
    assert [s.state for s in status(empty_dsn, directory=directory)] == ["applied", "applied"]


@pytest.mark.service
def test_status_before_and_after(empty_dsn: str) -> None:
    names = [m.name for m in load_migrations()]
    assert [(s.name, s.state, s.applied_at) for s in status(empty_dsn)] == [
        (n, "pending", None) for n in names
    ]
    migrate(empty_dsn)
    after = status(empty_dsn)
    assert [(s.name, s.state) for s in after] == [(n, "applied") for n in names]
    assert all(s.applied_at is not None and s.applied_at.tzinfo is not None for s in after)


@pytest.mark.service
def test_works_without_prepared_statements(empty_dsn: str, tmp_path: Path) -> None:
    # The PGlite lane shares one session and needs prepare_threshold=None.
    directory = _write(tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (v int);"})
    assert migrate(empty_dsn, directory=directory, prepare_threshold=None) == ["0001_a.sql"]
    assert migrate(empty_dsn, directory=directory, prepare_threshold=None) == []


@pytest.mark.service
def test_db_dsn_fixture_is_migrated(db_dsn: str) -> None:
    assert [r[0] for r in _rows(db_dsn, "SELECT name FROM schema_migrations ORDER BY name")] == [
        m.name for m in load_migrations()
    ]


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
        ("SELECT 'a;b'; SELECT 'it''s;'", ["SELECT 'a;b'", "SELECT 'it''s;'"]),
        ('CREATE TABLE "x;y" (v int); SELECT 1', ['CREATE TABLE "x;y" (v int)', "SELECT 1"]),
        (
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; SELECT f()",
            ["CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", "SELECT f()"],
        ),
        ("DO $body$ BEGIN PERFORM 1; END $body$;", ["DO $body$ BEGIN PERFORM 1; END $body$"]),
        (
            "-- a; comment\nSELECT 1; /* b; /* nested; */ c; */ SELECT 2",
            ["-- a; comment\nSELECT 1", "/* b; /* nested; */ c; */ SELECT 2"],
        ),
        ("SELECT E'x\\';y'; SELECT 3", ["SELECT E'x\\';y'", "SELECT 3"]),
        ("SELECT $1::int; -- only a comment ;\n", ["SELECT $1::int"]),
        ("  ;\n-- nothing\n;", []),
    ],
)
def test_split_statements(script: str, statements: list[str]) -> None:
    assert split_statements(script) == statements
