"""Write one batch in one transaction: binary COPY into staging, then insert with dedupe.

The psycopg adapter of ingest: psycopg types never leave this module. Events go
through a TEMP staging table with binary COPY and then `INSERT INTO events … SELECT`, in
a savepoint; when that hits a stored key (a redelivery) it is redone with
`ON CONFLICT DO NOTHING` (no conflict target, so both the plain key (node_id, seq) and
the hypertable key (node_id, seq, ts) dedupe it). A (node, seq) stored before with other
content is a conflicting duplicate (docs/wire.md): when the insert skipped rows (always, on
TimescaleDB, whose key holds ts too) `_raise_stored_conflicts` compares the staged
rows with the stored ones; messages holding a conflict become dead letters and
the transaction is redone without them, so nothing of them is written and the
dead letters commit with the rest. Dead letters, the `seq_conflicts` marks,
status upserts and node coverage (`coverage.update_coverage`) commit in the same
transaction as the events. If the database rejects a batch for what is in it (not
for being down), `write_each` writes message by message and dead-letters the ones it
refuses, so one bad message never stops ingest.
Must not ack, retry or sleep: the service decides that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubsense.ingest.batch import Batch
from hubsense.ingest.coverage import update_coverage
from hubsense.ingest.decode import DeadLetter, Decoded, EventRow, Reason, StatusRow
from hubsense.ingest.seq_marks import (
    CLEAR_SEQ_CONFLICTS,
    FIND_STORED_CONFLICTS,
    StoredConflictsError,
    note_seq_conflicts,
    stored_rows,
)

from hubsense.db.connect import connect

STAGING = "ingest_staging"
# ON COMMIT DELETE ROWS empties staging at every commit and rollback: no TRUNCATE round trip.
_CREATE_STAGING = f"""
CREATE TEMP TABLE IF NOT EXISTS {STAGING} (
    node_id text, seq bigint, ts_ms bigint, site_id text,
    type text, desk_id text, source text, state text
) ON COMMIT DELETE ROWS
"""
_STAGING_TYPES = ["text", "int8", "int8", "text", "text", "text", "text", "text"]
_COPY_STAGING = f"COPY {STAGING} FROM STDIN (FORMAT BINARY)"
# ts_ms / 1000 in float8 is exact to the millisecond for any real date (to_timestamp rounds
# to µs), and float division costs a tenth of numeric's (`/ 1000.0`).
_INSERT_EVENTS = f"""
INSERT INTO events (node_id, seq, ts, site_id, type, desk_id, source, state)
SELECT node_id, seq, to_timestamp(ts_ms::float8 / 1000), site_id, type::event_type, desk_id,
       source::event_source, state::desk_state
FROM {STAGING}
"""
_SKIP_STORED = "ON CONFLICT DO NOTHING"
_COPY_DEAD = "COPY dead_letters (topic, payload, reason, detail) FROM STDIN (FORMAT BINARY)"
_DEAD_TYPES = ["text", "bytea", "text", "text"]
# A redelivered older status must not overwrite a newer one; a last will (no ts) always wins.
_UPSERT_STATUS = """
INSERT INTO node_status (node_id, site_id, online, version, uptime_s, outbox_depth,
    last_reading_age_s, cpu_temp_c, clock_synced, disk_full, reported_at, updated_at)
VALUES (%(node_id)s, %(site_id)s, %(online)s, %(version)s, %(uptime_s)s, %(outbox_depth)s,
    %(last_reading_age_json)s::jsonb, %(cpu_temp_c)s, %(clock_synced)s, %(disk_full)s,
    to_timestamp(%(reported_ms)s::bigint / 1000.0), now())
ON CONFLICT (node_id) DO UPDATE SET
    site_id = EXCLUDED.site_id, online = EXCLUDED.online, version = EXCLUDED.version,
    uptime_s = EXCLUDED.uptime_s, outbox_depth = EXCLUDED.outbox_depth,
    last_reading_age_s = EXCLUDED.last_reading_age_s, cpu_temp_c = EXCLUDED.cpu_temp_c,
    clock_synced = EXCLUDED.clock_synced, disk_full = EXCLUDED.disk_full,
    reported_at = EXCLUDED.reported_at, updated_at = now()
WHERE node_status.reported_at IS NULL OR EXCLUDED.reported_at IS NULL
    OR EXCLUDED.reported_at >= node_status.reported_at
"""


@dataclass(frozen=True, slots=True)
class WriteResult:
    inserted: int  # new event rows; the rest of the batch's events were already stored
    dead: int


class DatabaseDownError(Exception):
    """The database cannot be reached or the connection broke; the batch may be retried."""


class DatabaseRejectedError(Exception):
    """The database refused the batch's content; `write_each` can isolate the culprit."""


class BatchWriter:
    """One connection, one staging table; `write` commits a batch or raises."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: Any = None
        # On TimescaleDB a conflicting row with another ts is not skipped by the insert
        # (the unique key holds ts): every batch is compared with the stored rows there.
        self._always_compare = False

    def connect(self) -> Any:
        """(Re)open the connection and its staging table; raises DatabaseDownError."""
        self.close()
        try:
            self._conn = connect(self.dsn, autocommit=True)
            self._conn.execute(_CREATE_STAGING)
            self._always_compare = bool(
                self._conn.execute("SELECT hubsense_has_timescale()").fetchone()[0]
            )
        except Exception as error:
            self.close()
            raise DatabaseDownError(_last_line(error)) from error
        return self._conn

    @property
    def connection(self) -> Any:
        return self._conn if self._conn is not None else self.connect()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def write(self, batch: Batch) -> WriteResult:
        """Commit the whole batch in one transaction.

        A message conflicting with stored rows rolls the transaction back; it is
        redone with that message as a dead letter (each round removes one at least).
        """
        with self._errors():
            conn = self.connection
            while True:
                try:
                    with conn.transaction():
                        rows = list(batch.events.values())
                        inserted = self._write_events(conn, rows)
                        update_coverage(conn, rows)
                        _write_statuses(conn, list(batch.statuses.values()))
                        _write_dead(conn, batch.dead)
                    break
                except StoredConflictsError as found:
                    if not batch.reject_conflicts(found.stored):
                        raise DatabaseRejectedError(
                            "stored conflicts found but no message holds them"
                        ) from found
        return WriteResult(inserted=inserted, dead=len(batch.dead))

    def _write_events(self, conn: Any, rows: list[EventRow], *, clear: bool = False) -> int:
        return _write_events(conn, rows, clear=clear, always_compare=self._always_compare)

    def write_each(self, batch: Batch) -> WriteResult:
        """Commit message by message (savepoints); what the database refuses is dead-lettered."""
        inserted = 0
        dead = list(batch.dead)
        with self._errors():
            conn = self.connection
            with conn.transaction():
                for topic, payload, decoded in batch.decoded:
                    if decoded.dead is not None:
                        continue
                    try:
                        inserted += self._write_one(conn, decoded)
                    except StoredConflictsError as found:
                        single = Batch()
                        single.add(topic, payload, decoded, None, 0.0)
                        single.reject_conflicts(found.stored)
                        dead.extend(single.dead)
                    except _content_errors() as error:
                        dead.append(
                            DeadLetter(topic, payload, Reason.DB_REJECTED, _last_line(error))
                        )
                _write_dead(conn, dead)
        return WriteResult(inserted=inserted, dead=len(dead))

    def _write_one(self, conn: Any, decoded: Decoded) -> int:
        with conn.transaction():  # a savepoint inside the batch transaction
            inserted = self._write_events(conn, decoded.events, clear=True)
            update_coverage(conn, decoded.events)
            if decoded.status is not None:
                _write_statuses(conn, [decoded.status])
        return inserted

    def _errors(self) -> Any:
        return _ErrorMapper(self)


class _ErrorMapper:
    """Turn psycopg errors into ours: connection trouble → down, anything else → rejected."""

    def __init__(self, writer: BatchWriter) -> None:
        self.writer = writer

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        import psycopg

        if error is None or isinstance(error, DatabaseDownError):
            return
        # A read-only server is one that stopped being the primary (demoted after a
        # failover, or reached before it): reconnect, so libpq's read-write check finds
        # the new primary, instead of retrying on this connection for ever.
        down = (
            psycopg.OperationalError,
            psycopg.InterfaceError,
            psycopg.errors.ReadOnlySqlTransaction,
        )
        if isinstance(error, down):
            self.writer.close()
            raise DatabaseDownError(_last_line(error)) from error
        if isinstance(error, psycopg.Error):
            raise DatabaseRejectedError(_last_line(error)) from error


def _content_errors() -> tuple[type[Exception], ...]:
    import psycopg

    # Data and integrity errors and a trigger's RAISE are about the rows. A programming
    # error (a missing table, an unmigrated schema) is ours: retried, never dead-lettered.
    return (psycopg.DataError, psycopg.IntegrityError, psycopg.errors.RaiseException)


def _last_line(error: BaseException) -> str:
    """The server's primary message when there is one, else the error's first line."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def _write_events(
    conn: Any, rows: list[EventRow], *, clear: bool = False, always_compare: bool = False
) -> int:
    if not rows:
        return 0
    with conn.cursor() as cur:
        with cur.copy(_COPY_STAGING) as copy:
            copy.set_types(_STAGING_TYPES)
            write_row = copy.write_row
            for row in rows:
                write_row(row)
        inserted = _insert_staged(conn, cur)
        if always_compare or inserted < len(rows):
            _raise_stored_conflicts(cur)
        if clear:
            # Inside a savepoint the commit (and its ON COMMIT DELETE) comes after more messages.
            cur.execute(f"DELETE FROM {STAGING}")
    return int(inserted)


def _write_statuses(conn: Any, statuses: list[StatusRow]) -> None:
    if not statuses:
        return
    params = [{slot: getattr(status, slot) for slot in StatusRow.__slots__} for status in statuses]
    with conn.cursor() as cur:
        cur.executemany(_UPSERT_STATUS, params)


def _raise_stored_conflicts(cur: Any) -> None:
    """Compare the staged rows with the stored ones of the same (node, seq).

    Runs only when the insert skipped rows (or on TimescaleDB), so a batch of new
    events pays nothing. The rows just inserted compare equal to themselves.
    """
    cur.execute(FIND_STORED_CONFLICTS)
    found = cur.fetchall()
    if found:
        raise StoredConflictsError(stored_rows(found))


def _insert_staged(conn: Any, cur: Any) -> int:
    """Insert the staged rows; how many were new.

    First as a plain INSERT in a savepoint: almost every batch holds only new rows, and
    `ON CONFLICT DO NOTHING` probes the key before each row's insert, a quarter of the
    insert's time (bench/ingest.py). A redelivery makes the plain insert fail on the key;
    then the savepoint is rolled back and the batch goes in skipping the stored rows. (The
    server logs that unique violation once a redelivered batch.)
    """
    import psycopg

    try:
        with conn.transaction():
            cur.execute(_insert_clearing_conflicts())
            return int(cur.rowcount)
    except psycopg.errors.UniqueViolation:
        cur.execute(_insert_clearing_conflicts(skip_stored=True))
        return int(cur.rowcount)


def _insert_clearing_conflicts(*, skip_stored: bool = False) -> str:
    # The clearing rides in the insert's round trip (a data-modifying CTE; rowcount stays
    # the insert's); the server skips its staging scan while no conflict is open.
    insert = f"{_INSERT_EVENTS} {_SKIP_STORED}" if skip_stored else _INSERT_EVENTS
    return f"WITH cleared AS ({CLEAR_SEQ_CONFLICTS} RETURNING 1) {insert}"


def _write_dead(conn: Any, dead: list[DeadLetter]) -> None:
    if not dead:
        return
    with conn.cursor() as cur, cur.copy(_COPY_DEAD) as copy:
        copy.set_types(_DEAD_TYPES)
        for letter in dead:
            copy.write_row((letter.topic, letter.payload, str(letter.reason), letter.detail))
    note_seq_conflicts(conn, [letter.conflict for letter in dead if letter.conflict is not None])
