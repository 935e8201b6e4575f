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


def _events_and_letters(dsn: str) -> tuple[list[tuple], list[tuple]]:
    events = query(dsn, "SELECT seq, state::text FROM events ORDER BY seq")
    letters = query(dsn, "SELECT payload, reason, detail FROM dead_letters ORDER BY id")
    return events, letters


def _mark(dsn: str) -> list[tuple]:
    return query(
        dsn,
        "SELECT node_id, site_id, last_seq, dead_letters, cleared_at IS NULL FROM seq_conflicts",
    )


def test_a_seq_stored_with_other_content_dead_letters_its_message_whole(dsn: str) -> None:
    vacant = (*ROW[:7], "vacant")
    writer = BatchWriter(dsn)
    try:
        writer.write(batch_of(Decoded(events=[ROW])))
        # raw0 reuses seq 7 for other content next to a new seq 9; raw1 is fine.
        result = writer.write(
            batch_of(
                Decoded(events=[vacant, (*ROW[:1], 9, *ROW[2:])]),
                Decoded(events=[(*ROW[:1], 10, *ROW[2:])]),
            )
        )
    finally:
        writer.close()
    assert (result.inserted, result.dead) == (1, 1)
    events, letters = _events_and_letters(dsn)
    assert events == [(7, "occupied"), (10, "occupied")]
    assert letters == [
        (
            b"raw0",
            "conflicting_duplicate",
            'seq 7: stored {"ts":1764000000007,"type":"desk","desk":"d-1","source":"ble",'
            '"state":"occupied"} received {"ts":1764000000007,"type":"desk","desk":"d-1",'
            '"source":"ble","state":"vacant"}',
        )
    ]
    # Seq 10 was above the conflict's seq 7 but in the same batch: the mark stays open.
    assert _mark(dsn) == [("pi-a", "hq", 7, 1, True)]


def test_a_redelivery_is_no_conflict_and_a_later_seq_clears_the_mark(dsn: str) -> None:
    writer = BatchWriter(dsn)
    try:
        writer.write(batch_of(Decoded(events=[ROW, (*ROW[:1], 8, *ROW[2:])])))
        writer.write(batch_of(Decoded(events=[(*ROW[:1], 8, 5, *ROW[3:])])))  # ts differs
        assert _mark(dsn) == [("pi-a", "hq", 8, 1, True)]
        again = writer.write(batch_of(Decoded(events=[ROW])))  # same content: a redelivery
        assert (again.inserted, again.dead) == (0, 0)
        assert _mark(dsn) == [("pi-a", "hq", 8, 1, True)]
        writer.write(batch_of(Decoded(events=[(*ROW[:1], 9, *ROW[2:])])))
        assert _mark(dsn) == [("pi-a", "hq", 8, 1, False)]
        # A new conflict reopens it.
        writer.write(batch_of(Decoded(events=[(*ROW[:1], 9, 5, *ROW[3:])])))
    finally:
        writer.close()
    assert _mark(dsn) == [("pi-a", "hq", 9, 2, True)]
    conflicts = "SELECT count(*) FROM dead_letters WHERE reason = 'conflicting_duplicate'"
    assert query(dsn, conflicts) == [(2,)]


def test_the_per_message_fallback_dead_letters_a_stored_conflict_too(dsn: str) -> None:
    writer = BatchWriter(dsn)
    try:
        writer.write(batch_of(Decoded(events=[ROW])))
        result = writer.write_each(
            batch_of(
                Decoded(events=[(*ROW[:1], 11, *ROW[2:])]),
                Decoded(events=[(*ROW[:7], "vacant")]),
            )
        )
    finally:
        writer.close()
    assert (result.inserted, result.dead) == (1, 1)
    events, letters = _events_and_letters(dsn)
    assert events == [(7, "occupied"), (11, "occupied")]
    assert [(payload, reason) for payload, reason, _ in letters] == [
        (b"raw1", "conflicting_duplicate")
    ]
    assert _mark(dsn) == [("pi-a", "hq", 7, 1, True)]


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


def test_event_times_keep_their_millisecond(dsn: str) -> None:
    # The insert divides in float8: exact to the ms for any date a node can send.
    stamps = [0, 1, 999, 1_764_000_000_001, 1_764_000_000_999, 4_102_444_799_999]
    rows = [(*ROW[:1], seq, ts, *ROW[3:]) for seq, ts in enumerate(stamps)]
    writer = BatchWriter(dsn)
    try:
        writer.write(batch_of(Decoded(events=rows)))
    finally:
        writer.close()
    stored = query(dsn, "SELECT (extract(epoch FROM ts) * 1000)::bigint FROM events ORDER BY seq")
    assert [ms for (ms,) in stored] == stamps
