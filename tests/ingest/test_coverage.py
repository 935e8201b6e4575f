"""Node coverage: the pure core by hand, and ingest's incremental upkeep against a rebuild
from the raw rows and a brute-force reference, on shuffled, redelivered streams."""

from __future__ import annotations

import datetime as dt
import random

import psycopg
import pytest
from hubsense.ingest.batch import Batch
from hubsense.ingest.copy_writer import BatchWriter
from hubsense.ingest.coverage import Heartbeats, covers, merged
from hubsense.ingest.decode import Decoded, EventRow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

T0 = 1_767_000_000_000  # 2025-12-29T09:20:00Z
ONE = Heartbeats((-(2**62),), (60,))  # 60 s heartbeat: an alive covers 180 s


def test_an_alive_covers_three_heartbeats_or_until_the_next_event() -> None:
    beats = [(0, 1, True), (60_000, 2, True), (400_000, 3, True)]
    assert covers(beats, ONE) == [(0, 240_000), (400_000, 580_000)]


def test_a_stop_ends_the_cover_and_covers_nothing() -> None:
    beats = [(0, 1, True), (10_000, 2, False), (10_000, 3, True)]
    # The stop ends the first cover at 10 s; the alive at the same instant (later seq) restarts it.
    assert covers(beats, ONE) == [(0, 190_000)]
    # Same instant, the alive first: its cover is empty, the stop then ends the stretch.
    assert covers([(0, 1, True), (5, 2, True), (5, 3, False)], ONE) == [(0, 5)]


def test_the_heartbeat_in_force_at_the_alive_applies() -> None:
    history = Heartbeats((-(2**62), 100_000 * 1000), (60, 10))
    beats = [(0, 1, True), (100_000, 2, True), (1_000_000, 3, True)]
    assert covers(beats, history) == [(0, 130_000), (1_000_000, 1_030_000)]


def test_merged_joins_touching_and_drops_empty() -> None:
    assert merged([(5, 9), (0, 5), (20, 20), (8, 12), (30, 31)]) == [(0, 12), (30, 31)]


# -- against the database -----------------------------------------------------------------

NODES = {"n1": ("hq", 60), "n2": ("hq", 10), "n3": ("hub", 30)}


def reference(events: list[EventRow], hb_change: dict[str, tuple[int, int]]) -> set[tuple]:
    """Brute force from the definition: each alive's next event found by scanning them all."""
    out = set()
    for node, (site, heartbeat_s) in NODES.items():
        stream = sorted({(e[2], e[1], e[4]) for e in events if e[0] == node and e[4] != "desk"})
        pieces = []
        for ts, seq, kind in stream:
            if kind != "alive":
                continue
            later = [t for t, s, _ in stream if (t, s) > (ts, seq)]
            beat = heartbeat_s
            if node in hb_change and ts * 1000 >= hb_change[node][0]:
                beat = hb_change[node][1]
            end = min([ts + 3000 * beat, *later[:1]])
            if end > ts:
                pieces.append([ts, end])
        pieces.sort()
        joined: list[list[int]] = []
        for s, e in pieces:
            if joined and s <= joined[-1][1]:
                joined[-1][1] = max(joined[-1][1], e)
            else:
                joined.append([s, e])
        out |= {(site, node, s, e) for s, e in joined}
    return out


def stored(dsn: str) -> set[tuple]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT site_id, node_id, floor(extract(epoch FROM start_ts) * 1000)::int8, "
            "floor(extract(epoch FROM end_ts) * 1000)::int8 FROM coverage"
        ).fetchall()
    return set(rows)


@pytest.fixture(scope="module")
def nodes_dsn(db_dsn: str) -> str:
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        for site in ("hq", "hub"):
            conn.execute(
                "INSERT INTO sites (id, name, kind, timezone) VALUES (%s, %s, 'office', 'UTC')",
                (site, site),
            )
        for node, (site, heartbeat_s) in NODES.items():
            conn.execute(
                "INSERT INTO nodes (id, site_id, heartbeat_s) VALUES (%s, %s, %s)",
                (node, site, heartbeat_s),
            )
    return db_dsn


event = st.tuples(
    st.sampled_from(sorted(NODES)),
    # Coarse times make ties (same ms, order by seq) common; fine ones make gaps.
    st.one_of(st.integers(0, 40).map(lambda k: k * 15_000), st.integers(0, 600_000)),
    st.sampled_from(["alive"] * 5 + ["stop", "desk"]),
)


def rows_of(drawn: list[tuple[str, int, str]]) -> list[EventRow]:
    seqs = list(range(1, len(drawn) + 1))
    random.Random(len(drawn)).shuffle(seqs)  # seq order need not be time order
    return [
        (
            node,
            seq,
            T0 + ts,
            NODES[node][0],
            kind,
            "d1" if kind == "desk" else None,
            "pir" if kind == "desk" else None,
            "occupied" if kind == "desk" else None,
        )
        for (node, ts, kind), seq in zip(drawn, seqs, strict=True)
    ]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    drawn=st.lists(event, min_size=1, max_size=60),
    order=st.randoms(use_true_random=False),
    cuts=st.integers(1, 6),
    redeliver=st.integers(0, 10),
    change=st.one_of(st.none(), st.tuples(st.sampled_from(sorted(NODES)), st.integers(0, 600))),
    window=st.tuples(st.integers(-60, 700), st.integers(0, 700)),
)
def test_incremental_equals_rebuild_equals_reference(
    nodes_dsn: str,
    drawn: list[tuple[str, int, str]],
    order: random.Random,
    cuts: int,
    redeliver: int,
    change: tuple[str, int] | None,
    window: tuple[int, int],
) -> None:
    events = rows_of(drawn)
    hb_change: dict[str, tuple[int, int]] = {}
    with psycopg.connect(nodes_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE events, coverage, coverage_heads")
        conn.execute("DELETE FROM node_heartbeats WHERE valid_from <> '-infinity'")
        if change is not None:
            node, at_s = change
            hb_change[node] = ((T0 + at_s * 1000) * 1000, 5)
            conn.execute(
                "INSERT INTO node_heartbeats VALUES (%s, %s, 5)",
                (node, dt.datetime.fromtimestamp((T0 + at_s * 1000) / 1000, dt.UTC)),
            )
    # Shuffled, cut into batches, with some rows delivered again in a later batch.
    stream = events + [order.choice(events) for _ in range(redeliver)]
    order.shuffle(stream)
    bounds = sorted(order.sample(range(len(stream) + 1), min(cuts, len(stream) + 1)))
    writer = BatchWriter(nodes_dsn)
    try:
        for lo, hi in zip([0, *bounds], [*bounds, len(stream)], strict=True):
            if hi > lo:
                batch = Batch()
                batch.add("t", b"", Decoded(events=stream[lo:hi]), None, 0.0)
                writer.write(batch)
    finally:
        writer.close()
    expected = reference(events, hb_change)
    assert stored(nodes_dsn) == expected
    # A rebuild of a window, then of everything, from the raw rows gives the same rows.
    start, length = window
    with psycopg.connect(nodes_dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT hubsense_rebuild_coverage(NULL, to_timestamp(%s / 1000.0), "
            "to_timestamp(%s / 1000.0))",
            (T0 + start * 1000, T0 + (start + length) * 1000),
        )
        assert stored(nodes_dsn) == expected
        conn.execute("SELECT hubsense_rebuild_coverage()")
    assert stored(nodes_dsn) == expected


def test_rebuild_coverage_cli_restores_what_ingest_wrote(nodes_dsn: str) -> None:
    import subprocess
    import sys
    from pathlib import Path

    with psycopg.connect(nodes_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE events, coverage, coverage_heads")
        conn.execute("DELETE FROM node_heartbeats WHERE valid_from <> '-infinity'")
    rows = rows_of([("n1", 0, "alive"), ("n1", 60_000, "alive"), ("n1", 100_000, "stop")])
    writer = BatchWriter(nodes_dsn)
    try:
        batch = Batch()
        batch.add("t", b"", Decoded(events=rows), None, 0.0)
        writer.write(batch)
    finally:
        writer.close()
    written = stored(nodes_dsn)
    assert written == {("hq", "n1", T0, T0 + 100_000)}
    with psycopg.connect(nodes_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE coverage")
    hubsense = str(Path(sys.executable).with_name("hubsense"))
    done = subprocess.run(
        [hubsense, "db", "rebuild-coverage", "--node", "n1", "--dsn", nodes_dsn],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "coverage rebuilt: 1"
    assert stored(nodes_dsn) == written
    bad = subprocess.run(
        [hubsense, "db", "rebuild-coverage", "--from", "2026-03-01T00:00", "--dsn", nodes_dsn],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "needs a UTC offset" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
