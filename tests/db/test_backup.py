"""Backups and upgrades: `hubsense db backup|restore` round trips every row, and a migration
of a populated database keeps every row (SPEC issue 7, item 5). Real PostgreSQL 15."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from db_fill import fill, schema_columns, snapshot
from hubsense.devstack.postgres import PostgresServer

from hubsense.db.backup import BackupError, backup, restore
from hubsense.db.migrate import load_migrations, migrate
from hubsense.errors import ConfigError

pytestmark = pytest.mark.service

HUBSENSE = str(Path(sys.executable).parent / "hubsense")
_names = itertools.count(1)


@pytest.fixture
def new_db(pg_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """A factory of fresh empty databases, dropped at the end."""
    made: list[str] = []

    def factory() -> str:
        name = f"bk_{next(_names)}_{len(made)}"
        pg_server.create_database(name, exist_ok=False)
        made.append(name)
        return pg_server.dsn(name)

    yield factory
    for name in made:
        pg_server.drop_database(name)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HUBSENSE, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_backup_then_restore_into_a_fresh_database_keeps_every_row(
    new_db: Callable[[], str], tmp_path: Path
) -> None:
    source = new_db()
    migrate(source)
    counts = fill(source)
    before = snapshot(source)
    assert counts["events"] == 2 * 3 * 400
    assert len(before["events"]) == 2_400 and len(before["dead_letters"]) == 20
    assert all(before[table] for table in counts), "a table the test fills is empty"

    dump = tmp_path / "hubsense.dump"
    done = cli("db", "backup", str(dump), "--dsn", source)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {dump} (") and "entries" in done.stdout
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert not dump.with_name("hubsense.dump.partial").exists()

    target = new_db()
    done = cli("db", "restore", str(dump), "--dsn", target)
    assert done.returncode == 0, done.stderr
    after = snapshot(target)
    assert after == before
    total = sum(len(rows) for rows in before.values())
    assert done.stdout.startswith(f"restored {dump}: {len(before)} tables, {total} rows")
    # The dead-letter id sequence continues where the source stopped (no id reused).
    with psycopg.connect(source) as a, psycopg.connect(target) as b:
        nxt = "SELECT nextval(pg_get_serial_sequence('dead_letters', 'id'))"
        assert a.execute(nxt).fetchone() == b.execute(nxt).fetchone() == (21,)
    # Constraints came back too: the idempotency key still refuses a duplicate (node, seq).
    with psycopg.connect(target) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            "INSERT INTO events (node_id, seq, ts, site_id, type)"
            " VALUES ('pi-ost-0', 0, now(), 'ostersund-hq', 'alive')"
        )


def test_restore_refuses_a_database_with_a_schema_unless_clean(
    new_db: Callable[[], str], tmp_path: Path
) -> None:
    source = new_db()
    migrate(source)
    fill(source)
    dump = tmp_path / "a.dump"
    backup(source, dump)
    target = new_db()
    migrate(target)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sites (id, name, kind, timezone) VALUES ('stale', 'Stale', 'hub', 'UTC')"
        )
    with pytest.raises(ConfigError, match=r"already holds a hubsense schema.*--clean"):
        restore(target, dump)
    assert [row[0] for row in snapshot(target)["sites"]] == ["stale"]
    result = restore(target, dump, clean=True)
    assert snapshot(target) == snapshot(source)
    assert result.rows == sum(len(rows) for rows in snapshot(source).values())


def test_failed_restore_changes_nothing_and_says_why_in_one_line(
    new_db: Callable[[], str], tmp_path: Path
) -> None:
    source = new_db()
    migrate(source)
    fill(source)
    dump = tmp_path / "whole.dump"
    backup(source, dump)
    # A backup cut short (disk full while copying it off-site) is refused before any change.
    cut = tmp_path / "cut.dump"
    cut.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    target = new_db()
    done = cli("db", "restore", str(cut), "--dsn", target)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"hubsense: error: backup {cut}: not a readable pg_dump archive")
    assert snapshot(target) == {}
    # Restoring into a database where a conflicting object exists fails inside the single
    # transaction: nothing of the backup is left behind.
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute("CREATE TYPE desk_state AS ENUM ('x')")
    with pytest.raises(BackupError, match=r"pg_restore failed:.*desk_state"):
        restore(target, dump)
    assert snapshot(target) == {}


def test_backup_errors_are_one_line_and_leave_no_file(
    tmp_path: Path, pg_server: PostgresServer
) -> None:
    dump = tmp_path / "x.dump"
    missing = pg_server.dsn("no_such_database_here")
    done = cli("db", "backup", str(dump), "--dsn", missing)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("hubsense: error: backup of postgresql://postgres@")
    assert 'database "no_such_database_here" does not exist' in done.stderr
    assert not dump.exists() and not dump.with_name("x.dump.partial").exists()
    done = cli("db", "backup", str(tmp_path / "nodir" / "x.dump"), "--dsn", missing)
    assert done.returncode == 2
    assert "does not exist" in done.stderr and done.stderr.count("\n") == 1


def test_password_goes_in_the_environment_not_the_command_line(tmp_path: Path) -> None:
    from hubsense.db.backup import _split_password

    conninfo, env = _split_password("postgresql://ops:s3cret@db.example:5433/hubsense")
    assert "s3cret" not in conninfo
    assert env["PGPASSWORD"] == "s3cret"
    assert sorted(conninfo.split()) == [
        "dbname=hubsense",
        "host=db.example",
        "port=5433",
        "user=ops",
    ]


def test_migrating_a_populated_database_keeps_every_row(
    new_db: Callable[[], str], tmp_path: Path
) -> None:
    """For each split k: apply migrations 1..k, fill, apply the rest; no row of a table that
    existed before changes or disappears (compared on the columns it had before)."""
    migrations = load_migrations()
    assert len(migrations) >= 2
    source_dir = Path(__import__("hubsense.db.migrate", fromlist=["x"]).MIGRATIONS_DIR)
    checked = []
    for k in range(1, len(migrations)):
        partial = tmp_path / f"first_{k}"
        partial.mkdir()
        for migration in migrations[:k]:
            shutil.copy(source_dir / migration.name, partial / migration.name)
        dsn = new_db()
        assert migrate(dsn, directory=partial) == [m.name for m in migrations[:k]]
        counts = fill(dsn)
        old_columns = schema_columns(dsn)
        before = snapshot(dsn, only=old_columns)
        applied = migrate(dsn)
        assert applied == [m.name for m in migrations[k:]]
        after = snapshot(dsn, only=old_columns)
        # schema_migrations grows by design: its old rows stay, the new ones are added.
        grown = after.pop("schema_migrations")
        assert set(before.pop("schema_migrations")) < set(grown)
        assert after == before, f"rows changed by {applied}"
        assert len(after["events"]) == counts["events"] == 2_400
        checked.append((k, sum(len(rows) for rows in after.values())))
    assert [k for k, _ in checked] == list(range(1, len(migrations)))
    assert all(rows > 2_400 for _, rows in checked)
