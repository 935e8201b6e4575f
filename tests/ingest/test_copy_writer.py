"""BatchWriter against a real PostgreSQL: one transaction, dedupe, errors mapped to ours."""

from __future__ import annotations

import psycopg
import pytest
from hubsense.ingest.batch import Batch
from hubsense.ingest.copy_writer import BatchWriter, DatabaseDownError, DatabaseRejectedError
from hubsense.ingest.decode import DeadLetter, Decoded, Reason
from support.database import query

pytestmark = pytest.mark.service

ROW = ("pi-a", 7, 1_764_000_000_007, "hq", "desk", "d-1", "ble", "occupied")


def batch_of(*decoded: Decoded) -> Batch:
    batch = Batch()
    for index, item in enumerate(decoded):
        batch.add("hubsense/v1/hq/pi-a/events", b"raw%d" % index, item, index, 0.0)
    return batch


def test_write_is_idempotent_and_counts_new_rows(dsn: str) -> None:
    writer = BatchWriter(dsn)
    try:
        first = writer.write(batch_of(Decoded(events=[ROW])))
        again = writer.write(batch_of(Decoded(events=[ROW, (*ROW[:1], 8, *ROW[2:])])))
    finally:
        writer.close()
    assert (first.inserted, again.inserted) == (1, 1)
    assert query(
        dsn, "SELECT seq, (extract(epoch FROM ts) * 1000)::bigint FROM events ORDER BY seq"
    ) == [
        (7, 1_764_000_000_007),
        (8, 1_764_000_000_007),
    ]


def test_dead_letters_commit_with_the_events(dsn: str) -> None:
    dead = DeadLetter("hubsense/v1/hq/pi-a/events", b"\x00\xffraw", Reason.INVALID_UTF8, "byte 1")
    writer = BatchWriter(dsn)
    try:
        result = writer.write(batch_of(Decoded(events=[ROW]), Decoded(dead=dead)))
    finally:
        writer.close()
    assert (result.inserted, result.dead) == (1, 1)
    assert query(dsn, "SELECT topic, payload, reason, detail FROM dead_letters") == [
        ("hubsense/v1/hq/pi-a/events", b"\x00\xffraw", "invalid_utf8", "byte 1")
    ]


def test_unreachable_database_is_down_not_rejected() -> None:
    writer = BatchWriter("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(DatabaseDownError):
        writer.write(batch_of(Decoded(events=[ROW])))


def test_missing_table_is_retried_never_dead_lettered(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE events RENAME TO events_away")
    writer = BatchWriter(dsn)
    try:
        with pytest.raises(DatabaseRejectedError, match="events"):
            writer.write(batch_of(Decoded(events=[ROW])))
        # The per-message fallback must not turn a schema problem into dead letters.
        with pytest.raises(DatabaseRejectedError):
            writer.write_each(batch_of(Decoded(events=[ROW])))
    finally:
        writer.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE events_away RENAME TO events")
    assert query(dsn, "SELECT count(*) FROM dead_letters") == [(0,)]


def test_a_read_only_server_is_down_so_the_writer_reconnects(dsn: str) -> None:
    # What a demoted primary looks like to a connection that survived the failover.
    writer = BatchWriter(dsn)
    try:
        writer.connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        with pytest.raises(DatabaseDownError, match="read-only"):
            writer.write(batch_of(Decoded(events=[ROW])))
        assert writer._conn is None  # closed: the next write opens a fresh session
        assert writer.write(batch_of(Decoded(events=[ROW]))).inserted == 1
    finally:
        writer.close()
