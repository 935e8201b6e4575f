"""Sites read and written in chunks give what one site at a time gives, row for row."""

from __future__ import annotations

import dataclasses

import numpy as np
import psycopg
import pytest
from hubsense.analytics import run as analytics_run
from hubsense.analytics.calendar import Period
from hubsense.analytics.io.db_read import load_sites
from hubsense.analytics.run import chunks, run_period
from hubsense.analytics.site import SiteLayout, read_inputs, read_inputs_of
from test_database import END, START, load, scenario

from hubsense.inventory.model import Site

pytestmark = pytest.mark.service

ROLLUPS = {
    "analytics_desk_day": "site_id, desk_id, day",
    "analytics_site_day": "site_id, day",
    "analytics_site_summary": "site_id, period_from",
    "analytics_booking_outcome": "booking_id",
}


def _site(site_id: str, desks: int) -> Site:
    return Site.model_validate(
        {
            "id": site_id,
            "name": site_id,
            "kind": "office",
            "timezone": "Europe/Stockholm",
            "desks": [{"id": f"{site_id}-d{i}"} for i in range(desks)],
            "nodes": [],
        }
    )


def test_chunks_hold_small_sites_together_and_big_ones_alone() -> None:
    small = [_site(f"s{i}", 50) for i in range(200)]
    one_day = chunks(small, 1, workers=2)
    assert [len(c) for c in one_day] == [50, 50, 50, 50]  # two chunks a worker
    assert [i for c in one_day for i in c] == list(range(200))  # every site once, in order
    a_year = chunks(small[:4], 365, workers=2)
    assert a_year == [[0], [1], [2], [3]]  # 18,250 desk-days each: alone
    sixty = chunks(small[:6], 60, workers=1)  # 3,000 desk-days each: two to a chunk
    assert sixty == [[0, 1], [2, 3], [4, 5]]


def _rows(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    """Every rollup row, without computed_at (the time of the write)."""
    with psycopg.connect(dsn) as conn:
        out = {}
        for table, order in ROLLUPS.items():
            columns = [
                name
                for (name,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "AND column_name <> 'computed_at' ORDER BY ordinal_position",
                    (table,),
                )
            ]
            out[table] = conn.execute(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"
            ).fetchall()
        return out


def test_a_chunk_of_sites_reads_what_each_site_reads(db_dsn: str) -> None:
    inv, events, bookings = scenario()
    load(db_dsn, inv, events, bookings)
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        # A desk event of hq's desk from hub's node: a node counts for its own site only,
        # in a chunk as alone, though the chunk's node list holds it.
        conn.execute(
            "INSERT INTO events (node_id, seq, ts, site_id, type, desk_id, source, state) "
            "VALUES ('n3', 900000, '2026-03-28T10:00:00Z', 'hq', 'desk', 'd1', 'pir', "
            "'occupied')"
        )
        sites, node_of_desk = load_sites(conn)
        wheres = [SiteLayout.of(site, node_of_desk) for site in sites]
        period = Period(START, END)
        together = read_inputs_of(conn, wheres, period)
        alone = [read_inputs(conn, where, period) for where in wheres]
    assert [w.site_id for w in wheres] == ["hq", "hub"]  # Stockholm and New York windows
    for (events_a, bookings_a), (events_b, bookings_b) in zip(together, alone, strict=True):
        assert len(events_a.ts) > 50 and len(bookings_a.booking_id) > 0
        for field in dataclasses.fields(events_a):
            assert np.array_equal(getattr(events_a, field.name), getattr(events_b, field.name))
        assert bookings_a.booking_id == bookings_b.booking_id
        assert np.array_equal(bookings_a.desk, bookings_b.desk)
        assert np.array_equal(bookings_a.start_ms, bookings_b.start_ms)
        assert np.array_equal(bookings_a.end_ms, bookings_b.end_ms)
    hq_nodes = wheres[0].layout.node_ids
    assert "n3" not in hq_nodes and 900000 not in together[0][0].seq.tolist()


def test_one_chunk_writes_the_rows_of_one_site_at_a_time(
    db_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv, events, bookings = scenario()
    load(db_dsn, inv, events, bookings)
    period = Period(START, END)
    monkeypatch.setattr(analytics_run, "chunks", lambda sites, days, workers: [[0], [1]])
    run_period(db_dsn, period)
    alone = _rows(db_dsn)
    monkeypatch.setattr(analytics_run, "chunks", lambda sites, days, workers: [[0, 1]])
    runs = run_period(db_dsn, period)
    together = _rows(db_dsn)
    assert [r.site for r in runs] == ["hq", "hub"]
    assert all(alone[table] for table in ROLLUPS)  # there is something to compare
    assert together == alone
