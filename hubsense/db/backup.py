"""Back up a hubsense database to one file and restore it: pg_dump/pg_restore, custom format.

The custom format (`-Fc`) is compressed, restores table by table and lets
pg_restore pick objects; it is what PostgreSQL's docs recommend for a whole
database. Both tools run as the current user over TCP with the DSN; the
password, when the DSN has one, travels in the child's `PGPASSWORD`, never on
its command line (where `ps` would show it). A backup is written to
`FILE.partial` and renamed only once pg_dump succeeded and pg_restore could list
it, so a file named like a backup is always a whole one. A restore runs in one
transaction: it either lands completely or leaves the target as it was. It
refuses a target that already holds a hubsense schema unless told to replace
it (`clean=True`), so a mistyped DSN cannot overwrite production.

Must not start servers or apply migrations (run `hubsense db migrate` after
restoring an older backup). On TimescaleDB, wrap the restore in
`timescaledb_pre_restore()`/`timescaledb_post_restore()` as its docs say; the
PGlite test lane cannot run pg_restore, so that path is not automated here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from hubsense.db.connect import connect, redact_dsn
from hubsense.errors import ConfigError, HubsenseError, ServiceError
from hubsense.logs import get_logger

log = get_logger(__name__)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# A dump of a year of 1,000 desks takes minutes; a hung server must not hang the CLI forever.
TIMEOUT_S = 6 * 3600


class BackupError(HubsenseError):
    """pg_dump or pg_restore failed, or the backup file is not usable."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size_bytes: int
    seconds: float
    entries: int  # objects in the archive's table of contents


@dataclass(frozen=True, slots=True)
class RestoreResult:
    path: Path
    seconds: float
    tables: int
    rows: int  # rows in the restored tables of the public schema, counted after the restore


def find_tool(name: str, bin_dir: Path = PG_BIN) -> str:
    """The path of pg_dump/pg_restore: PostgreSQL 15's bin directory first, then PATH."""
    candidate = bin_dir / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ServiceError(
            f"{name}: not found in {bin_dir} or on PATH: install postgresql-client-15"
        )
    return found


def backup(dsn: str, path: Path, *, bin_dir: Path = PG_BIN) -> BackupResult:
    """Dump the whole database of `dsn` into `path` (custom format); replaces `path` when done."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"backup {path}: is a directory; name a file")
    if not path.parent.is_dir():
        raise ConfigError(f"backup {path}: directory {path.parent} does not exist")
    partial = path.with_name(path.name + ".partial")
    conninfo, env = _split_password(dsn)
    started = time.monotonic()
    try:
        _run(
            [
                find_tool("pg_dump", bin_dir),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={partial}",
                f"--dbname={conninfo}",
            ],
            env,
            f"backup of {redact_dsn(dsn)}",
        )
        entries = _count_entries(partial, bin_dir)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    result = BackupResult(path, path.stat().st_size, time.monotonic() - started, entries)
    log.info(
        "db_backup_written",
        path=str(path),
        size_bytes=result.size_bytes,
        entries=entries,
        seconds=round(result.seconds, 2),
    )
    return result


def restore(dsn: str, path: Path, *, clean: bool = False, bin_dir: Path = PG_BIN) -> RestoreResult:
    """Restore `path` into the database of `dsn` in one transaction.

    The target must be empty of hubsense tables unless `clean` (then the backup's
    objects replace the target's).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"restore {path}: no such file")
    _count_entries(path, bin_dir)  # a truncated or foreign file fails here, before any change
    if not clean and _has_schema(dsn):
        raise ConfigError(
            f"restore into {redact_dsn(dsn)}: the database already holds a hubsense schema; "
            "restore into a new empty database, or pass --clean to replace its contents"
        )
    conninfo, env = _split_password(dsn)
    args = [
        find_tool("pg_restore", bin_dir),
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={conninfo}",
    ]
    if clean:
        args += ["--clean", "--if-exists"]
    started = time.monotonic()
    _run([*args, str(path)], env, f"restore into {redact_dsn(dsn)}")
    tables, rows = _count_rows(dsn)
    result = RestoreResult(path, time.monotonic() - started, tables, rows)
    log.info(
        "db_restored", path=str(path), tables=tables, rows=rows, seconds=round(result.seconds, 2)
    )
    return result


def _split_password(dsn: str) -> tuple[str, dict[str, str]]:
    """(conninfo without the password, environment carrying it as PGPASSWORD)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    env = dict(os.environ)
    try:
        params = conninfo_to_dict(dsn)
    except Exception as error:  # psycopg.ProgrammingError; imported lazily
        raise ConfigError(f"database {redact_dsn(dsn)}: invalid DSN: {error}") from error
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items()}), env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise BackupError(f"{what}: {Path(args[0]).name} took longer than {TIMEOUT_S} s") from error
    if done.returncode != 0:
        raise BackupError(f"{what}: {Path(args[0]).name} failed: {_first_error(done.stderr)}")


def _first_error(stderr: str) -> str:
    """The most telling line of pg_dump/pg_restore's stderr, without the tool's name prefix."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    return lines[0] if lines else "no message"


def _count_entries(path: Path, bin_dir: Path) -> int:
    """Objects in the archive's table of contents; BackupError when it is not a whole archive.

    `--list` reads only the table of contents at the start of the file, so a file cut
    short (a copy that ran out of disk) would pass it; reading every entry into
    /dev/null as SQL also reads all the data blocks and catches that.
    """
    tool = find_tool("pg_restore", bin_dir)
    listed = subprocess.run(
        [tool, "--list", str(path)], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    if listed.returncode == 0:
        read = subprocess.run(
            [tool, f"--file={os.devnull}", str(path)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    for done in (listed, read) if listed.returncode == 0 else (listed,):
        if done.returncode != 0:
            raise BackupError(
                f"backup {path}: not a readable pg_dump archive: {_first_error(done.stderr)}"
            )
    return sum(1 for line in listed.stdout.splitlines() if line and not line.startswith(";"))


def _has_schema(dsn: str) -> bool:
    with connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT to_regclass('public.schema_migrations') IS NOT NULL"
            " OR to_regclass('public.events') IS NOT NULL"
        ).fetchone()
    return bool(row and row[0])


def _count_rows(dsn: str) -> tuple[int, int]:
    from psycopg import sql

    with connect(dsn, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        rows = 0
        for table in tables:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            count = conn.execute(query).fetchone()
            rows += int(count[0]) if count else 0
    return len(tables), rows
