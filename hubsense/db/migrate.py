"""Apply `hubsense/db/migrations/*.sql` in name order, once each.

Each migration runs in its own transaction under a transaction-scoped advisory
lock (so two migrators never race), and is recorded in `schema_migrations`
(name, checksum, applied_at). Editing an applied migration is an error that
names the file: write a new migration instead.

Before each migration, `params` are set as transaction-local custom settings,
`hubsense.<key>`, so its SQL can read them with
`current_setting('hubsense.compress_after_days', true)` (NULL when not given).
The defaults come from `Settings.timescale` (`chunk_days`, `compress_after_days`,
`retain_days`; a None value is left unset).

A migration whose first line is `-- hubsense:no-transaction` runs outside a
transaction, one statement at a time (for statements PostgreSQL refuses inside
a transaction block, e.g. TimescaleDB continuous aggregates); it is recorded
only after all its statements succeed, so write it to be re-runnable.

Only plain statements are sent (no COPY, no server-side prepared statements
needed), so this also works over PGlite's single shared session; pass
`prepare_threshold=None` through `connect_kwargs` there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubsense.db.connect import connect
from hubsense.db.sql_split import split_statements
from hubsense.errors import HubsenseError
from hubsense.logs import get_logger

if TYPE_CHECKING:
    import psycopg

    from hubsense.settings import TimescaleSettings

log = get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
NO_TRANSACTION = "-- hubsense:no-transaction"
# pg_advisory_xact_lock key: the first 8 bytes of sha256("hubsense.migrate"), as a bigint.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"hubsense.migrate").digest()[:8], "big", signed=True)

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(HubsenseError):
    """A migration file changed after it was applied, or a migration failed."""


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str
    checksum: str

    @property
    def transactional(self) -> bool:
        return not self.sql.lstrip().startswith(NO_TRANSACTION)


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    name: str
    state: str  # applied | pending | changed
    applied_at: datetime | None


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files of `directory`, in name order."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        data = path.read_bytes()
        migrations.append(Migration(path.name, data.decode(), hashlib.sha256(data).hexdigest()))
    return migrations


def default_params(timescale: TimescaleSettings | None = None) -> dict[str, str]:
    """`hubsense.*` settings for migrations from Settings.timescale (defaults when None)."""
    from hubsense.settings import TimescaleSettings

    values = (timescale or TimescaleSettings()).model_dump()
    return {key: str(value) for key, value in values.items() if value is not None}


def migrate(
    dsn: str,
    params: dict[str, str] | None = None,
    *,
    directory: Path = MIGRATIONS_DIR,
    **connect_kwargs: Any,
) -> list[str]:
    """Apply the pending migrations; return the names applied (empty when up to date)."""
    params = default_params() if params is None else params
    migrations = load_migrations(directory)
    applied_now: list[str] = []
    with connect(dsn, autocommit=True, **connect_kwargs) as conn:
        with conn.transaction():
            _lock(conn)
            conn.execute(CREATE_TABLE)
        for migration in migrations:
            if _apply_one(conn, migration, params):
                applied_now.append(migration.name)
    return applied_now


def status(
    dsn: str, *, directory: Path = MIGRATIONS_DIR, **connect_kwargs: Any
) -> list[MigrationStatus]:
    """Each migration file with its state: applied, pending, or changed since applied."""
    with connect(dsn, autocommit=True, **connect_kwargs) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        rows = (
            conn.execute("SELECT name, checksum, applied_at FROM schema_migrations").fetchall()
            if exists and exists[0]
            else []
        )
    applied = {name: (checksum, at) for name, checksum, at in rows}
    result = []
    for migration in load_migrations(directory):
        if migration.name not in applied:
            result.append(MigrationStatus(migration.name, "pending", None))
            continue
        checksum, at = applied[migration.name]
        state = "applied" if checksum == migration.checksum else "changed"
        result.append(MigrationStatus(migration.name, state, at))
    return result


def _lock(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def _recorded(conn: psycopg.Connection[Any], migration: Migration) -> bool:
    """Whether `migration` is applied; MigrationError when its file changed since."""
    row = conn.execute(
        "SELECT checksum FROM schema_migrations WHERE name = %s", [migration.name]
    ).fetchone()
    if row is None:
        return False
    if row[0] != migration.checksum:
        raise MigrationError(
            f"migration {migration.name}: file changed since it was applied "
            f"(checksum {row[0][:12]}… recorded, {migration.checksum[:12]}… now); "
            "restore it and add a new migration instead"
        )
    return True


def _set_params(conn: psycopg.Connection[Any], params: dict[str, str], local: bool) -> None:
    for key, value in params.items():
        conn.execute("SELECT set_config('hubsense.' || %s, %s, %s)", [key, value, local])


def _apply_one(conn: psycopg.Connection[Any], migration: Migration, params: dict[str, str]) -> bool:
    import psycopg

    try:
        if migration.transactional:
            with conn.transaction():
                _lock(conn)
                if _recorded(conn, migration):
                    return False
                _set_params(conn, params, local=True)
                conn.execute(migration.sql.encode())
                _record(conn, migration)
        else:
            with conn.transaction():
                _lock(conn)
                if _recorded(conn, migration):
                    return False
            _set_params(conn, params, local=False)
            for statement in split_statements(migration.sql):
                conn.execute(statement.encode())
            with conn.transaction():
                _lock(conn)
                if not _recorded(conn, migration):
                    _record(conn, migration)
    except psycopg.Error as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MigrationError(f"migration {migration.name}: failed: {detail}") from error
    log.info("migration_applied", name=migration.name)
    return True


def _record(conn: psycopg.Connection[Any], migration: Migration) -> None:
    conn.execute(
        "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
        [migration.name, migration.checksum],
    )
