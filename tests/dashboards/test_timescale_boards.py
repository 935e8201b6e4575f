"""Every panel's SQL gives the same rows on TimescaleDB (the PGlite lane, PostgreSQL 17 with
TimescaleDB 2.23, `events` a hypertable) as on PostgreSQL 15, on the hand-made organisation.

The lane cannot COPY, so each table is copied over with one
`INSERT … SELECT FROM json_populate_recordset(…)`.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from board_data import local
from board_sql import context, run_sql, targets
from timescale_lane import TimescaleLane

from hubsense.db.migrate import migrate

pytestmark = [pytest.mark.service, pytest.mark.timescale]

TABLES = (
    "sites", "desks", "nodes", "sensors", "events", "bookings", "node_status", "dead_letters",
    "analytics_desk_day", "analytics_booking_outcome", "analytics_site_day",
)  # fmt: skip
# Seconds since a node was last seen depend on when each query ran.
CLOCK_COLUMNS = {"last seen (s ago)"}
VARIABLES = {
    "site": ["office-a", "hub-b"], "zone": ["z1", "z2", "open"], "percentile": ["95"],
    "hub": ["hub-b"], "low_use_pct": ["20"],
}  # fmt: skip


def _lane_connect(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn, prepare_threshold=None, autocommit=True)


@pytest.fixture(scope="module")
def lane_db(hand_db: str, lane: TimescaleLane) -> str:
    migrate(lane.dsn, prepare_threshold=None)
    with psycopg.connect(hand_db) as source, _lane_connect(lane.dsn) as target:
        assert target.execute("SELECT hubsense_has_timescale()").fetchone() == (True,)
        for table in TABLES:
            query = f"SELECT coalesce(json_agg(t), '[]') FROM {table} t"
            (rows,) = source.execute(query).fetchone()
            target.execute(
                f"INSERT INTO {table} SELECT * FROM json_populate_recordset(NULL::{table}, %s)",
                (json.dumps(rows),),
            )
            count = target.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert count == (len(rows),), table
    return lane.dsn


def _rows(dsn: str, sql: str, lane: bool) -> tuple[list[str], list[tuple[Any, ...]]]:
    ctx = context(local(2, 0), local(4, 0), **VARIABLES)
    if not lane:
        return run_sql(dsn, sql, ctx)
    from hubsense.dashboards.macros import expand

    with _lane_connect(dsn) as conn:
        cur = conn.execute(expand(sql, ctx).encode())
        return [c.name for c in cur.description or []], cur.fetchall()


def test_every_panel_agrees_with_postgresql(
    hand_db: str, lane_db: str, boards: dict[str, Any]
) -> None:
    compared = 0
    for name, board in boards.items():
        for title, sql in targets(board):
            names, expected = _rows(hand_db, sql, lane=False)
            lane_names, got = _rows(lane_db, sql, lane=True)
            assert lane_names == names, (name, title)
            keep = [i for i, column in enumerate(names) if column not in CLOCK_COLUMNS]
            assert [tuple(r[i] for i in keep) for r in got] == [
                tuple(r[i] for i in keep) for r in expected
            ], (name, title)
            compared += 1
    assert compared == sum(len(b["panels"]) for b in boards.values())


def test_events_are_a_hypertable_there(lane_db: str) -> None:
    with _lane_connect(lane_db) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables"
            " WHERE hypertable_name = 'events'"
        ).fetchone()
    assert count == 1
