"""Raw alives age out; desk events, stops, coverage and the metrics stay as they were."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from harness import inventory, site
from hubsense.analytics.calendar import Period
from hubsense.analytics.retention import age_out_alives
from hubsense.analytics.run import run_period

from hubsense.db.coverage import rebuild_coverage
from hubsense.db.inventory_sync import apply_inventory

pytestmark = pytest.mark.service

ALWAYS = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
OLD = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)  # 60 days before NOW


def test_old_alives_go_the_rest_and_the_metrics_stay(db_dsn: str) -> None:
    apply_inventory(db_dsn, inventory(site("hq", {"n1": ["d1"]}, ALWAYS, timezone="UTC")))  # type: ignore[arg-type]
    rows = [("alive", None, None, OLD + dt.timedelta(minutes=m)) for m in range(0, 100)]
    rows += [("desk", "d1", "occupied", OLD + dt.timedelta(minutes=30))]
    rows += [("desk", "d1", "vacant", OLD + dt.timedelta(minutes=90))]
    rows += [("stop", None, None, OLD + dt.timedelta(minutes=100))]
    rows += [("alive", None, None, NOW - dt.timedelta(days=1))]
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        for seq, (kind, desk, state, ts) in enumerate(rows, start=1):
            conn.execute(
                "INSERT INTO events (node_id, seq, ts, site_id, type, desk_id, source, state) "
                "VALUES ('n1', %s, %s, 'hq', %s, %s, %s, %s)",
                (seq, ts, kind, desk, "pir" if desk else None, state),
            )
        rebuild_coverage(conn)
        period = Period(OLD.date(), OLD.date() + dt.timedelta(days=1))
        before = run_period(db_dsn, period)[0].results
        coverage = conn.execute("SELECT * FROM coverage ORDER BY start_ts").fetchall()
        assert age_out_alives(conn, NOW, 35) == 100
        kinds = conn.execute("SELECT type::text, count(*) FROM events GROUP BY 1 ORDER BY 1")
        assert kinds.fetchall() == [("alive", 1), ("desk", 2), ("stop", 1)]
        assert conn.execute("SELECT * FROM coverage ORDER BY start_ts").fetchall() == coverage
    after = run_period(db_dsn, period)[0].results
    # Covered 08:00-09:40 (the stop), occupied 08:30-09:30: the same before and after.
    assert int(after.observed_ms.sum()) == int(before.observed_ms.sum()) == 100 * 60_000
    assert int(after.occupied_ms.sum()) == int(before.occupied_ms.sum()) == 60 * 60_000
