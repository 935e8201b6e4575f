"""The scheduler recomputes exactly the days new (and late) events touch; one runs at a time."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from fractions import Fraction

import psycopg
import pytest
from harness import inventory, ms, site
from hubsense.analytics import scheduler
from hubsense.analytics.calendar import Period
from hubsense.analytics.scheduler import LOCK_KEY, SchedulerBusyError, tick

from hubsense.db.coverage import rebuild_coverage
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
    rebuild_coverage(conn)  # written beside ingest: coverage from the raw rows


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
        }  # the alive covered 3 days: nothing observed on 03-05, so no desk-day row is stored
        assert tick(db_dsn, now=first_tick) == []  # nothing new: nothing recomputed
        conn.execute("UPDATE analytics_site_day SET peak = -1 WHERE day = '2026-03-05'")
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
        }
        peak = "SELECT peak FROM analytics_site_day WHERE day = '2026-03-05'"
        assert conn.execute(peak).fetchone() == (-1,)


def lock_waiters(conn: psycopg.Connection) -> list[tuple[int, bool]]:
    """(backend pid, granted) of the sessions holding or polling for the scheduler lock."""
    key = LOCK_KEY & 0xFFFF_FFFF_FFFF_FFFF
    return [
        (pid, granted)
        for pid, granted in conn.execute(
            "SELECT a.pid, l.granted FROM pg_stat_activity a LEFT JOIN pg_locks l "
            "ON l.pid = a.pid AND l.locktype = 'advisory' AND l.classid = %s::oid "
            "AND l.objid = %s::oid AND l.objsubid = 1 "
            "WHERE a.application_name = 'hubsense-analytics-scheduler' ORDER BY a.backend_start",
            (key >> 32, key & 0xFFFF_FFFF),
        )
    ]


def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_scheduler_waits_as_a_standby_and_once_refuses(
    db_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_inventory(db_dsn, inventory(site("hq", {"n1": ["d1"]}, ALWAYS, heartbeat_s=86_400)))
    monkeypatch.setattr(scheduler, "STANDBY_POLL_S", 0.1)
    first_stop, second_stop = threading.Event(), threading.Event()
    first = threading.Thread(
        target=scheduler.run_forever, args=(db_dsn, 0.2, 900, Fraction(95), first_stop)
    )
    second = threading.Thread(
        target=scheduler.run_forever, args=(db_dsn, 0.2, 900, Fraction(95), second_stop)
    )
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE analytics_watermark")

        def ticks() -> int:
            row = conn.execute("SELECT count(*) FROM analytics_watermark").fetchone()
            return int(row[0]) if row else 0

        try:
            first.start()
            wait_for(lambda: ticks() == 1)
            holder = lock_waiters(conn)
            assert [granted for _, granted in holder] == [True]
            second.start()
            # The second scheduler's session exists but holds nothing: it polls as a standby.
            wait_for(lambda: len(lock_waiters(conn)) == 2)
            time.sleep(0.5)
            waiters = lock_waiters(conn)
            assert waiters[0] == holder[0] and waiters[1][1] is None and ticks() == 1
            # A one-off tick (`scheduler --once`) refuses with one line naming the holder.
            with pytest.raises(SchedulerBusyError, match=f"backend pid {holder[0][0]} from"):
                tick(db_dsn)
            first_stop.set()
            first.join(10)
            assert not first.is_alive()
            # Only now: a tick of the first one that was under way when it was told to stop
            # would write the row again.
            conn.execute("DELETE FROM analytics_watermark")
            # The standby takes over and ticks (it writes the watermark row again).
            wait_for(lambda: ticks() == 1)
            # Its tick's run workers are sessions of their own for a moment: wait them out.
            wait_for(lambda: len(lock_waiters(conn)) == 1)
            taken = lock_waiters(conn)
            assert len(taken) == 1 and taken[0][0] != holder[0][0] and taken[0][1] is True
        finally:
            first_stop.set()
            second_stop.set()
            first.join(10)
            second.join(10)
    assert not second.is_alive()
