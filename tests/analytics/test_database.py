"""`hubsense analytics run`: the database path gives the numbers of the file path, rerun-safe."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import psycopg
import pytest
import reference
from harness import inventory, ms, run, site
from hubsense.analytics.calendar import Period
from hubsense.analytics.run import run_period
from reference import Booking, Event

from hubsense.db.coverage import rebuild_coverage
from hubsense.db.inventory_sync import apply_inventory

pytestmark = pytest.mark.service

ALWAYS = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
OFFICE = {day: ["08:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
START, END = dt.date(2026, 3, 27), dt.date(2026, 3, 31)  # across Stockholm's spring change


def scenario() -> tuple[object, list[Event], list[Booking]]:
    inv = inventory(
        site(
            "hq",
            {"n1": ["d1", "d2"], "n2": ["d3"]},
            OFFICE,
            heartbeat_s=600,
            closed=[dt.date(2026, 3, 30)],
        ),
        site("hub", {"n3": ["h1", "h2"]}, ALWAYS, timezone="America/New_York", heartbeat_s=60),
    )
    rng = np.random.default_rng(5)
    events: list[Event] = []
    seq = {"n1": 0, "n2": 0, "n3": 0}

    def add(node: str, ts: int, kind: str, desk: str = "", state: str = "") -> None:
        seq[node] += 1
        events.append(Event(node, seq[node], ts, kind, desk, state))

    t0 = ms("2026-03-26T00:00:00+00:00")
    for node, beat in (("n1", 600_000), ("n2", 600_000), ("n3", 60_000)):
        for t in range(t0, t0 + 6 * 86_400_000, beat):
            if not (
                node == "n2" and t0 + 86_400_000 <= t < t0 + 2 * 86_400_000
            ):  # n2 offline a day
                add(node, t + int(rng.integers(0, 1000)), "alive")
    for desk, node in (("d1", "n1"), ("d2", "n1"), ("d3", "n2"), ("h1", "n3"), ("h2", "n3")):
        times = np.sort(rng.integers(t0, t0 + 6 * 86_400_000, 60))
        for i, t in enumerate(times.tolist()):
            add(node, t, "desk", desk, "occupied" if i % 2 == 0 else "vacant")
    events.sort(key=lambda e: (e.ts, e.seq))
    bookings = [
        Booking(f"b{i}", "hq" if desk.startswith("d") else "hub", desk, start, start + length)
        for i, (desk, start, length) in enumerate(
            (
                str(rng.choice(["d1", "d2", "d3", "h1", "h2"])),
                int(t0 + rng.integers(86_400_000, 5 * 86_400_000)),
                int(rng.integers(1_800_000, 30_000_000)),
            )
            for _ in range(25)
        )
    ]
    return inv, events, bookings


def load(dsn: str, inv: object, events: list[Event], bookings: list[Booking]) -> None:
    apply_inventory(dsn, inv)  # type: ignore[arg-type]
    site_of = {"n1": "hq", "n2": "hq", "n3": "hub"}
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE events, coverage, coverage_heads, bookings")
        with cur.copy(
            "COPY events (node_id, seq, ts, site_id, type, desk_id, source, state) FROM STDIN"
        ) as copy:
            for e in events:
                copy.write_row(
                    (
                        e.node,
                        e.seq,
                        epoch + dt.timedelta(milliseconds=e.ts),
                        site_of[e.node],
                        e.type,
                        e.desk or None,
                        "fused" if e.desk else None,
                        e.state or None,
                    )
                )
        for b in bookings:
            cur.execute(
                "INSERT INTO bookings (booking_id, site_id, desk_id, start_at, end_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (
                    b.booking_id,
                    b.site,
                    b.desk,
                    epoch + dt.timedelta(milliseconds=b.start),
                    epoch + dt.timedelta(milliseconds=b.end),
                ),
            )
        rebuild_coverage(conn)  # written beside ingest: coverage from the raw rows


def test_database_path_matches_the_file_path(db_dsn: str) -> None:
    inv, events, bookings = scenario()
    load(db_dsn, inv, events, bookings)
    runs = run_period(db_dsn, Period(START, END))
    assert [r.site for r in runs] == ["hq", "hub"]
    # The file path over the same rows, hour buckets: every desk-hour, day, booking must agree.
    _, files = run(inv, events, bookings, START, END, "hour")  # type: ignore[arg-type]
    expected = reference.compute(inv, events, bookings, START, END, "day")  # type: ignore[arg-type]
    with psycopg.connect(db_dsn) as conn:
        conn.execute("SET timezone = 'UTC'")
        hours = conn.execute(
            "SELECT site_id, desk_id, bucket_start, observed_s, occupied_s, booked_s, "
            "booked_observed_s, booked_occupied_s, unbooked_occupied_s FROM analytics_desk_hour "
            "ORDER BY site_id, desk_id, bucket_start"
        ).fetchall()
        days = conn.execute(
            "SELECT site_id, desk_id, observed_s, occupied_s, booked_s, booked_observed_s, "
            "booked_occupied_s, "
            "unbooked_occupied_s FROM analytics_desk_day ORDER BY site_id, desk_id, day"
        ).fetchall()
        daily = conn.execute(
            "SELECT site_id, day, open, peak, peak_at, copresence_s, alone_s, desks_used "
            "FROM analytics_site_day "
            "ORDER BY site_id, day"
        ).fetchall()
        summary = conn.execute(
            "SELECT site_id, days_open, capacity, desks_needed, surplus "
            "FROM analytics_site_summary ORDER BY site_id"
        ).fetchall()
        outcomes = dict(
            (row[0], list(row[1:]))
            for row in conn.execute(
                "SELECT booking_id, site_id, desk_id, observed_s, occupied_s, outcome "
                "FROM analytics_booking_outcome"
            )
        )
    # The file path lists desks in inventory order and every desk-hour; the database keeps
    # only desk-days with something observed, occupied or booked (absent = zeros).
    file_hours = sorted(
        files["desk_metrics"], key=lambda r: (r[0], r[1], dt.datetime.fromisoformat(str(r[2])))
    )
    assert len(file_hours) == 3 * (24 + 24 + 23 + 24) + 2 * 4 * 24  # hq has a 23-hour Sunday
    stored = {(r[0], r[1], r[2]): list(r[3:]) for r in hours}
    assert len(stored) == len(hours)
    kept_days = {
        (r[0], r[1], str(r[2])[:10]) for r in file_hours if r[3] > 0 or r[4] > 0 or r[5] > 0
    }
    # A stored day's arrays run from its first to its last hour with anything in it.
    for want in file_hours:
        key = (want[0], want[1], dt.datetime.fromisoformat(str(want[2])))
        if key in stored:
            assert (want[0], want[1], str(want[2])[:10]) in kept_days
            assert stored.pop(key) == list(want[3:]), key
        else:
            assert list(want[3:]) == [0] * 6, key
    assert stored == {}  # no hour that the file path does not have
    assert len(hours) < 24 * len(kept_days)  # closed hours at the ends are not stored
    assert 0 < len(kept_days) < 3 * 4 + 2 * 4  # some desk-days carried nothing: not stored
    assert sum(r[4] for r in hours) > 0  # the data really has occupancy
    # Day rollups are the day sums of the hours, floored once: equal to the reference's day buckets.
    assert [list(r) for r in days] == [
        r[:2] + r[3:]
        for r in sorted(expected["desk_metrics"], key=lambda r: (r[0], r[1], r[2]))
        if (r[0], r[1], str(r[2])[:10]) in kept_days
    ]
    assert [
        [
            r[0],
            r[1].isoformat(),
            "true" if r[2] else "false",
            r[3],
            "" if r[4] is None else r[4],
            *r[5:],
        ]
        for r in daily
    ] == [
        [r[0], r[1], r[2], r[3], "" if not r[4] else dt.datetime.fromisoformat(str(r[4])), *r[5:]]
        for r in expected["site_daily"]
    ]
    assert [list(r) for r in summary] == expected["site_summary"]
    in_period = {b.booking_id for b in bookings}
    assert {k: v for k, v in outcomes.items()} == {
        row[0]: row[1:] for row in expected["booking_outcomes"] if row[0] in in_period
    }


def test_rerun_replaces_exactly_the_period(db_dsn: str) -> None:
    inv, events, bookings = scenario()
    load(db_dsn, inv, events, bookings)
    run_period(db_dsn, Period(START, END))
    friday = dt.date(2026, 3, 27)
    count = "SELECT count(*) FROM analytics_desk_day"
    with psycopg.connect(db_dsn) as conn:
        (total,) = conn.execute(count).fetchone()
        (of_day,) = conn.execute(f"{count} WHERE site_id = 'hq' AND day = %s", (friday,)).fetchone()
        (hours,) = conn.execute(
            "SELECT count(*) FROM analytics_desk_hour WHERE site_id = 'hq' AND day = %s",
            (friday,),
        ).fetchone()
        # A rerun of one day of one site replaces that day's rows and leaves the others alone.
        conn.execute("UPDATE analytics_desk_day SET occupied_s = -1, hour_occupied_s = '{-1}'")
        conn.commit()
    # hq is open on Friday only (weekend, a closed Monday); d3's node was offline that day.
    assert of_day >= 2 and 0 < hours <= 24 * of_day
    run_period(db_dsn, Period(friday, friday + dt.timedelta(days=1)), ["hq"])
    with psycopg.connect(db_dsn) as conn:
        (redone,) = conn.execute(
            "SELECT count(*) FROM analytics_desk_hour WHERE occupied_s >= 0"
        ).fetchone()
        (untouched,) = conn.execute(f"{count} WHERE occupied_s = -1").fetchone()
        (after,) = conn.execute(count).fetchone()
    assert redone == hours
    assert untouched == total - of_day
    assert after == total


def test_run_cli_unknown_site(db_dsn: str) -> None:
    hubsense = str(Path(sys.executable).parent / "hubsense")
    done = subprocess.run(
        [
            hubsense,
            "analytics",
            "run",
            "--from",
            "2026-03-27",
            "--to",
            "2026-03-28",
            "--site",
            "nowhere",
            "--dsn",
            db_dsn,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "hubsense: error: --site: unknown or retired site(s) nowhere"


def test_state_carries_in_from_long_before_the_period(db_dsn: str) -> None:
    inv = inventory(site("hq", {"n1": ["d1", "d2"]}, ALWAYS, heartbeat_s=600))
    events = [
        # d1 sat down 10 days before the period and never left: beyond the 7-day recent window.
        Event("n1", 1, ms("2026-03-17T09:00:00+01:00"), "desk", "d1", "occupied"),
        # d2's last event is within the window; it left.
        Event("n1", 2, ms("2026-03-25T09:00:00+01:00"), "desk", "d2", "occupied"),
        Event("n1", 3, ms("2026-03-25T10:00:00+01:00"), "desk", "d2", "vacant"),
        # An alive 20 minutes before midnight covers 3 x 600 s: 10 minutes into the period.
        Event("n1", 4, ms("2026-03-26T23:40:00+01:00"), "alive"),
        # One long before the period, whose cover ended long ago.
        Event("n1", 5, ms("2026-03-20T23:40:00+01:00"), "alive"),
    ]
    load(db_dsn, inv, events, [])
    runs = run_period(db_dsn, Period(START, START + dt.timedelta(days=1)))
    with psycopg.connect(db_dsn) as conn:
        days = conn.execute(
            "SELECT desk_id, observed_s, occupied_s FROM analytics_desk_day "
            "WHERE day = %s AND site_id = 'hq' ORDER BY desk_id",
            (START,),
        ).fetchall()
    # Nothing in the period itself: d1's and d2's last events, and the one coverage interval
    # reaching into it (the last alive's), which enters the kernels as its start and end.
    assert runs[0].events == 4
    assert days == [("d1", 600, 600), ("d2", 600, 0)]


def test_summary_from_the_rollups(db_dsn: str) -> None:
    inv, events, bookings = scenario()
    load(db_dsn, inv, events, bookings)
    run_period(db_dsn, Period(START, END))
    expected = reference.compute(inv, events, bookings, START, END, "day")  # type: ignore[arg-type]
    hubsense = str(Path(sys.executable).parent / "hubsense")
    done = subprocess.run(
        [
            hubsense,
            "analytics",
            "summary",
            "--from",
            START.isoformat(),
            "--to",
            END.isoformat(),
            "--json",
            "--dsn",
            db_dsn,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    import json

    rows = {row["site"]: row for row in json.loads(done.stdout)}
    for site_id, days_open, capacity, needed, surplus in expected["site_summary"]:
        assert [rows[site_id][k] for k in ("days_open", "capacity", "desks_needed", "surplus")] == [
            days_open,
            capacity,
            needed,
            surplus,
        ]
    desk_rows = [r for r in expected["desk_metrics"] if r[0] == "hq"]
    occupied, observed = sum(r[4] for r in desk_rows), sum(r[3] for r in desk_rows)
    assert rows["hq"]["occupancy_rate"] == pytest.approx(occupied / observed)
    booked_occ, booked_obs = sum(r[7] for r in desk_rows), sum(r[6] for r in desk_rows)
    assert rows["hq"]["true_utilisation"] == (
        pytest.approx(booked_occ / booked_obs) if booked_obs else None
    )
    outcomes = [r[5] for r in expected["booking_outcomes"] if r[1] == "hub"]
    known = outcomes.count("no_show") + outcomes.count("attended")
    # Bookings are counted by their local start date; all of these start inside the period.
    assert rows["hub"]["no_show_rate"] == (
        pytest.approx(outcomes.count("no_show") / known) if known else None
    )
    hub_days = [r for r in expected["site_daily"] if r[0] == "hub" and r[2] == "true"]
    assert rows["hub"]["copresence_day_share"] == pytest.approx(
        sum(1 for r in hub_days if r[5] > 0) / len(hub_days)
    )
    org = rows["organisation"]
    assert org["capacity"] == 5 and org["desks_needed"] == sum(
        r[3] for r in expected["site_summary"]
    )
