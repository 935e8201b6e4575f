"""The scheduler recomputes exactly the days that newly arrived (and late) events touch."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from harness import inventory, ms, site
from hubsense.analytics.calendar import Period
from hubsense.analytics.scheduler import tick

from hubsense.db.inventory_sync import apply_inventory

pytestmark = pytest.mark.service

ALWAYS = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def insert(
    conn: psycopg.Connection,
    rows: list[tuple[str, int, int, str, str, str]],
    received: dt.datetime | None = None,
) -> None:
    """Events as ingest writes them; received right after they happened unless `received` says."""
    for node, seq, ts, kind, desk, state in rows:
        happened = EPOCH + dt.timedelta(milliseconds=ts)
        conn.execute(
            "INSERT INTO events (node_id, seq, ts, site_id, type, desk_id, source, state, "
            "received_at) "
            "VALUES (%s, %s, %s, 'hq', %s, %s, %s, %s, %s)",
            (
                node,
                seq,
                happened,
                kind,
                desk or None,
                "pir" if desk else None,
                state or None,
                received or happened + dt.timedelta(seconds=1),
            ),
        )


def occupied_by_day(conn: psycopg.Connection) -> dict[str, int]:
    return {
        day.isoformat(): occupied
        for day, occupied in conn.execute(
            "SELECT day, occupied_s FROM analytics_desk_day WHERE desk_id = 'd1' ORDER BY day"
        )
    }


def test_scheduler_recomputes_the_days_new_and_late_events_touch(db_dsn: str) -> None:
    apply_inventory(db_dsn, inventory(site("hq", {"n1": ["d1"]}, ALWAYS, heartbeat_s=86_400)))
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        insert(
            conn,
            [
                ("n1", 1, ms("2026-03-02T00:00:00+01:00"), "alive", "", ""),  # covers 3 days
                ("n1", 2, ms("2026-03-02T10:00:00+01:00"), "desk", "d1", "occupied"),
                ("n1", 3, ms("2026-03-02T11:00:00+01:00"), "desk", "d1", "vacant"),
                ("n1", 4, ms("2026-03-04T10:00:00+01:00"), "desk", "d1", "occupied"),
                ("n1", 5, ms("2026-03-04T12:00:00+01:00"), "desk", "d1", "vacant"),
            ],
        )
    first_tick = at("2026-03-05T00:00:10+01:00")
    plans = tick(db_dsn, now=first_tick)
    # Everything is new: from the first event's day up to now (d1's last event, vacant, holds
    # until d1's next one, which has not happened: until the scan's instant, 03-05 00:00:05).
    assert [(p.site, p.period) for p in plans] == [
        ("hq", Period(dt.date(2026, 3, 2), dt.date(2026, 3, 6)))
    ]
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        assert occupied_by_day(conn) == {
            "2026-03-02": 3600,
            "2026-03-03": 0,
            "2026-03-04": 7200,
            "2026-03-05": 0,
        }
        assert tick(db_dsn, now=first_tick) == []  # nothing new: nothing recomputed
        conn.execute("UPDATE analytics_desk_day SET occupied_s = -1 WHERE day = '2026-03-05'")
        # A late event from a node that was offline, received at noon on 03-05: d1 occupied on
        # 03-02 at 20:00. It reaches until d1's next event (03-04 10:00): 03-02 .. 03-04 only.
        late = [("n1", 6, ms("2026-03-02T20:00:00+01:00"), "desk", "d1", "occupied")]
        insert(conn, late, received=at("2026-03-05T12:00:00+01:00"))
    plans = tick(db_dsn, now=at("2026-03-05T12:00:10+01:00"))
    assert [p.period for p in plans] == [Period(dt.date(2026, 3, 2), dt.date(2026, 3, 5))]
    with psycopg.connect(db_dsn) as conn:
        # 03-02: 3600 + 4 h (20-24) = 18000; 03-03: all day 86400; 03-04: 10:00 is "occupied" again
        # (no change) until 12:00 = 43200. 03-05 was not touched: still the -1 we wrote.
        assert occupied_by_day(conn) == {
            "2026-03-02": 18000,
            "2026-03-03": 86400,
            "2026-03-04": 43200,
            "2026-03-05": -1,
        }
