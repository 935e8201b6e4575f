"""Fixtures for the boards' tests: every board as Grafana JSON, the hand-made organisation
in PostgreSQL (`hand_db`), and a TimescaleDB lane (helpers imported from tests/db, not moved)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from board_data import HAND_FROM, HAND_TO, fill_rollups, load_raw, local, write_hand_csvs
from hubsense.dashboards.build import BOARDS, board_json

sys.path.insert(0, str(Path(__file__).parents[1] / "db"))
from timescale_lane import (
    LaneMissingError,
    TimescaleLane,
    cached_template,
    start_lane,
)


@pytest.fixture(scope="session")
def boards() -> dict[str, dict[str, Any]]:
    return {name: board_json(name) for name in BOARDS}


@pytest.fixture(scope="module")
def hand_db(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("hand")
    inventory, events, bookings = write_hand_csvs(work)
    load_raw(db_dsn, inventory, events, bookings)
    fill_rollups(db_dsn, inventory, events, bookings, HAND_FROM, HAND_TO, work)
    with psycopg.connect(db_dsn) as conn:
        conn.execute(
            """INSERT INTO node_status (node_id, site_id, online, version, uptime_s, outbox_depth,
                   last_reading_age_s, cpu_temp_c, reported_at, updated_at) VALUES
               ('n-a', 'office-a', false, '0.1.0', 7200, 12,
                '{"gpio:17": 5.0, "gpio:18": 400.5}', 61.5, now(), now() - interval '10 minutes'),
               ('n-b', 'hub-b', true, '0.1.0', 360000, 0, '{"gpio:17": 1.0}', 48.0, now(), now())"""
        )
        conn.execute(
            """INSERT INTO dead_letters (received_at, topic, payload, reason, detail) VALUES
               (%(t)s, %(topic)s, 'x', 'invalid_json', 'one'),
               (%(t)s + interval '1 minute', %(topic)s, 'x', 'invalid_json', 'two'),
               (%(t)s + interval '2 hours', %(topic)s, 'y', 'invalid_json', 'three'),
               (%(t)s, 'hubsense/v1/hub-b/n-x/events', '{}', 'node_mismatch', 'n-x vs n-b'),
               (%(t)s - interval '3 days', 'hubsense/v1/hub-b/n-b/events', '{}', 'too_large',
                'old')""",
            {"t": local(2, 10), "topic": "hubsense/v1/office-a/n-a/events"},
        )
    return db_dsn


@pytest.fixture(scope="module")
def lane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TimescaleLane]:
    """A private PGlite+TimescaleDB server for one module (fails if the lane is not set up)."""
    missing = None
    try:
        template = cached_template()
    except LaneMissingError as error:
        missing = str(error)
    if missing is not None:
        pytest.fail(missing, pytrace=False)
    running = start_lane(tmp_path_factory.mktemp("timescale-boards"), template=template)
    try:
        yield running
    finally:
        running.stop()
