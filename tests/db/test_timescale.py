"""The TimescaleDB path: migrations, hypertable, compression, policies, dedupe, time_bucket.

Runs on the lane (PGlite + TimescaleDB 2.23, see conftest.py) and compares query
results with real PostgreSQL 15, where 0002 leaves `events` a plain table.
The lane shares one session among connections and cannot COPY, so data goes in
with `INSERT … SELECT FROM unnest(…)`, the way the boards' tests load it too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from timescale_lane import LaneMissingError, TimescaleLane, check_lane_installed, start_lane

from hubsense.db.migrate import load_migrations, migrate

pytestmark = pytest.mark.timescale

# Non-default values, so a migration that ignored its parameters would be caught.
PARAMS = {"chunk_days": "1", "compress_after_days": "3", "retain_days": "30"}
T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
INSERT_EVENTS = """
INSERT INTO events (node_id, seq, ts, site_id, type, desk_id, source, state)
SELECT * FROM unnest(%s::text[], %s::bigint[], %s::timestamptz[], %s::text[],
                     %s::event_type[], %s::text[], %s::event_source[], %s::desk_state[])
ON CONFLICT DO NOTHING
"""
# Portable between the shapes: date_bin exists in PostgreSQL 14+, time_bucket only with
# TimescaleDB. The lane runs both and must agree with itself and with PostgreSQL 15.
COUNTS_DATE_BIN = """
SELECT site_id, date_bin('1 hour', ts, TIMESTAMPTZ '2000-01-01 00:00+00') AS hour, count(*)
FROM events GROUP BY 1, 2 ORDER BY 1, 2
"""
COUNTS_TIME_BUCKET = """
SELECT site_id, time_bucket('1 hour', ts) AS hour, count(*)
FROM events GROUP BY 1, 2 ORDER BY 1, 2
"""

Row = tuple[str, int, datetime, str, str, str | None, str | None, str | None]


def synthetic_events(nodes: int = 6, per_node: int = 600) -> list[Row]:
    """Deterministic events: 3 sites x 2 nodes, an alive then two desk changes, repeating.

    Node n's event k happens at T0 + k x 67 s + n x 13 s, so hour buckets hold uneven,
    hand-checkable counts and each node's stream crosses several hours.
    """
    rows: list[Row] = []
    for n in range(nodes):
        node, site = f"pi-{n}", f"site-{n // 2}"
        for seq in range(per_node):
            ts = T0 + timedelta(seconds=67 * seq + 13 * n, milliseconds=seq % 1000)
            if seq % 3 == 0:
                rows.append((node, seq, ts, site, "alive", None, None, None))
            else:
                state = "occupied" if seq % 3 == 1 else "vacant"
                rows.append((node, seq, ts, site, "desk", f"{node}-d{seq % 4}", "pir", state))
    return rows


def expected_counts(rows: list[Row]) -> list[tuple[str, datetime, int]]:
    """Events per site per UTC hour, computed in Python, each (node, seq, ts) once."""
    unique = {(r[0], r[1], r[2]): r for r in rows}.values()
    counts = Counter((r[3], r[2].replace(minute=0, second=0, microsecond=0)) for r in unique)
    return sorted((site, hour, count) for (site, hour), count in counts.items())


def insert(conn: psycopg.Connection[Any], rows: list[Row]) -> int:
    """Insert rows in one statement; the number actually stored."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    return conn.execute(INSERT_EVENTS, columns).rowcount


def lane_connect(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, prepare_threshold=None, autocommit=True)


def utc_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Normalise timestamps to UTC so results from servers in other TimeZones compare."""
    return [tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in r) for r in rows]


@pytest.fixture(scope="module")
def lane_applied(timescale_lane: TimescaleLane) -> list[str]:
    """Apply every migration to the lane once, with PARAMS; the names applied."""
    return migrate(timescale_lane.dsn, PARAMS, prepare_threshold=None)


@pytest.fixture
def lane(
    timescale_lane: TimescaleLane, lane_applied: list[str]
) -> Iterator[psycopg.Connection[Any]]:
    with lane_connect(timescale_lane.dsn) as conn:
        conn.execute("TRUNCATE events")
        yield conn


def test_every_migration_applies_on_the_lane_once(
    timescale_lane: TimescaleLane, lane_applied: list[str]
) -> None:
    names = [m.name for m in load_migrations()]
    assert names[:2] == ["0001_core.sql", "0002_timescale.sql"]
    assert lane_applied == names
    assert migrate(timescale_lane.dsn, PARAMS, prepare_threshold=None) == []
    with lane_connect(timescale_lane.dsn) as conn:
        assert conn.execute("SELECT hubsense_has_timescale()").fetchone() == (True,)
        version = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
    assert version is not None and version[0].startswith("2.23")


def test_events_is_a_hypertable_chunked_by_the_configured_days(
    lane: psycopg.Connection[Any],
) -> None:
    assert lane.execute(
        "SELECT hypertable_schema, hypertable_name, num_dimensions, compression_enabled"
        " FROM timescaledb_information.hypertables WHERE hypertable_name = 'events'"
    ).fetchall() == [("public", "events", 1, True)]
    assert lane.execute(
        "SELECT column_name, time_interval FROM timescaledb_information.dimensions"
        " WHERE hypertable_name = 'events'"
    ).fetchall() == [("ts", timedelta(days=1))]


def test_the_unique_key_gains_ts_on_the_hypertable(lane: psycopg.Connection[Any]) -> None:
    constraints = lane.execute(
        "SELECT contype, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'events'::regclass AND contype IN ('p', 'u')"
    ).fetchall()
    assert constraints == [("u", "UNIQUE (node_id, seq, ts)")]


def test_compression_segments_by_node_and_orders_by_ts_then_seq(
    lane: psycopg.Connection[Any],
) -> None:
    settings = lane.execute(
        "SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc"
        " FROM timescaledb_information.compression_settings WHERE hypertable_name = 'events'"
        " ORDER BY segmentby_column_index NULLS LAST, orderby_column_index"
    ).fetchall()
    assert settings == [("node_id", 1, None, None), ("ts", None, 1, True), ("seq", None, 2, True)]


def test_compression_and_retention_policies_use_the_configured_intervals(
    lane: psycopg.Connection[Any],
) -> None:
    jobs = lane.execute(
        "SELECT proc_name, config->>'compress_after', config->>'drop_after'"
        " FROM timescaledb_information.jobs WHERE hypertable_name = 'events' ORDER BY proc_name"
    ).fetchall()
    assert jobs == [
        ("policy_compression", "3 days", None),
        ("policy_retention", None, "30 days"),
    ]


def test_running_the_policies_compresses_after_3_days_and_drops_after_30(
    lane: psycopg.Connection[Any],
) -> None:
    # The lane has no background workers, so the jobs are run by hand. One event per
    # one-day chunk, 40, 10 and 1 day(s) old: the policies must tell them apart.
    lane.execute(
        "INSERT INTO events (node_id, seq, ts, site_id, type)"
        " SELECT 'pi-1', age, now() - make_interval(days => age), 'site-0', 'alive'"
        " FROM unnest(ARRAY[40, 10, 1]) AS age"
    )
    chunks = (
        "SELECT is_compressed FROM timescaledb_information.chunks"
        " WHERE hypertable_name = 'events' ORDER BY range_start"
    )
    ages = "SELECT seq FROM events ORDER BY seq DESC"
    assert lane.execute(chunks).fetchall() == [(False,), (False,), (False,)]
    jobs = dict(
        lane.execute(
            "SELECT proc_name, job_id FROM timescaledb_information.jobs"
            " WHERE hypertable_name = 'events'"
        ).fetchall()
    )

    lane.execute("CALL run_job(%s)", [jobs["policy_compression"]])
    assert lane.execute(chunks).fetchall() == [(True,), (True,), (False,)]
    assert lane.execute(ages).fetchall() == [(40,), (10,), (1,)]

    lane.execute("CALL run_job(%s)", [jobs["policy_retention"]])
    assert lane.execute(chunks).fetchall() == [(True,), (False,)]
    assert lane.execute(ages).fetchall() == [(10,), (1,)]


def events_policies(dsn: str) -> tuple[Any, list[tuple[Any, ...]]]:
    """(chunk interval, [(proc_name, compress_after, drop_after)]) of `events`."""
    with lane_connect(dsn) as conn:
        interval = conn.execute(
            "SELECT time_interval FROM timescaledb_information.dimensions"
            " WHERE hypertable_name = 'events'"
        ).fetchone()
        jobs = conn.execute(
            "SELECT proc_name, config->>'compress_after', config->>'drop_after'"
            " FROM timescaledb_information.jobs WHERE hypertable_name = 'events'"
            " ORDER BY proc_name"
        ).fetchall()
    return interval, jobs


def test_hubsense_db_migrate_defaults_to_7_day_chunks_14_days_and_env_retention(
    tmp_path: Path, timescale_template: Path
) -> None:
    other = start_lane(tmp_path, template=timescale_template)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "HUBSENSE_DB__DSN": other.dsn,
        "HUBSENSE_TIMESCALE__RETAIN_DAYS": "90",
    }
    try:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("hubsense")), "db", "migrate"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        interval, jobs = events_policies(other.dsn)
    finally:
        other.stop()
    assert interval == (timedelta(days=7),)
    assert jobs == [("policy_compression", "14 days", None), ("policy_retention", None, "90 days")]


def test_redelivered_events_are_stored_once_before_and_after_compression(
    lane: psycopg.Connection[Any],
) -> None:
    rows = synthetic_events()
    assert insert(lane, rows[:2000]) == 2000
    # A redelivered batch: 1000 already stored, 1000 new, and 200 repeated inside the batch.
    batch = rows[1000:3000] + rows[2500:2700]
    assert insert(lane, batch) == 1000
    assert lane.execute("SELECT count(*) FROM events").fetchone() == (3000,)

    chunks = lane.execute("SELECT count(compress_chunk(c)) FROM show_chunks('events') c").fetchone()
    assert chunks is not None and chunks[0] >= 1
    # Redelivery into compressed chunks still dedupes on (node_id, seq, ts).
    assert insert(lane, rows[:3600]) == 600
    stored = lane.execute(
        "SELECT count(*), count(DISTINCT (node_id, seq)), min(ts), max(ts) FROM events"
    ).fetchone()
    assert stored == (3600, 3600, rows[0][2], max(r[2] for r in rows))


def test_time_bucket_counts_per_site_per_hour_match_python(lane: psycopg.Connection[Any]) -> None:
    rows = synthetic_events()
    insert(lane, rows)
    expected = expected_counts(rows)
    assert sum(count for *_, count in expected) == 3600
    assert expected[:2] == [("site-0", T0, 108), ("site-0", T0 + timedelta(hours=1), 108)]
    assert utc_rows(lane.execute(COUNTS_TIME_BUCKET).fetchall()) == expected
    assert utc_rows(lane.execute(COUNTS_DATE_BIN).fetchall()) == expected


# Queries both shapes must answer identically; what analytics and boards read.
PORTABLE_QUERIES = [
    COUNTS_DATE_BIN,
    "SELECT node_id, count(*), min(seq), max(seq), min(ts), max(ts) FROM events"
    " GROUP BY node_id ORDER BY node_id",
    "SELECT desk_id, state, count(*) FROM events WHERE type = 'desk' GROUP BY 1, 2 ORDER BY 1, 2",
    # Each desk's state at the end of the data: the last event in (ts, seq) order.
    "SELECT DISTINCT ON (desk_id) desk_id, ts, seq, state FROM events WHERE type = 'desk'"
    " ORDER BY desk_id, ts DESC, seq DESC",
]


@pytest.mark.service
def test_plain_postgresql_answers_like_the_lane_before_and_after_compression(
    lane: psycopg.Connection[Any], db_dsn: str
) -> None:
    rows = synthetic_events()
    insert(lane, rows)
    insert(lane, rows[100:900])  # a redelivery, ignored by both shapes
    lane_time_bucket = utc_rows(lane.execute(COUNTS_TIME_BUCKET).fetchall())
    lane_answers = [utc_rows(lane.execute(q).fetchall()) for q in PORTABLE_QUERIES]
    lane.execute("SELECT count(compress_chunk(c)) FROM show_chunks('events') c")
    compressed_answers = [utc_rows(lane.execute(q).fetchall()) for q in PORTABLE_QUERIES]
    with psycopg.connect(db_dsn, autocommit=True) as pg:
        pg.execute("TRUNCATE events")
        assert insert(pg, rows) == 3600
        assert insert(pg, rows[100:900]) == 0
        assert pg.execute("SELECT hubsense_has_timescale()").fetchone() == (False,)
        key = pg.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'events'::regclass AND contype = 'p'"
        ).fetchone()
        pg_answers = [utc_rows(pg.execute(q).fetchall()) for q in PORTABLE_QUERIES]
    assert key == ("PRIMARY KEY (node_id, seq)",)
    assert pg_answers[0] == lane_time_bucket == expected_counts(rows)
    assert [len(answer) for answer in pg_answers] == [len(expected_counts(rows)), 6, 48, 24]
    assert pg_answers[1][0] == ("pi-0", 600, 0, 599, rows[0][2], rows[599][2])
    assert lane_answers == pg_answers
    assert compressed_answers == pg_answers


def test_a_missing_lane_names_the_setup_script(tmp_path: Path) -> None:
    with pytest.raises(LaneMissingError, match=r"\.ci/timescale-setup"):
        check_lane_installed(tmp_path)
