"""The boards' decision panels on the hand-made organisation with the decision fields set
(board_data.decision_inventory): values worked out by hand in the comments.

Office A: a1 08-12 and a2 09-10 Mon, a3 13-15 Tue (4 desks, 1000 a desk-month). Hub B: b1
10-12 and b2 11-13 Mon (together 1 h; 4500 a desk-month, 15 km). Cowork C: 3 day passes in
the range, 50 km. Range Mon 2 - Wed 4 March 2026 local (2 days).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from board_data import (
    DECISION_PASSES,
    HAND_FROM,
    HAND_TO,
    decision_inventory,
    fill_rollups,
    load_raw,
    local,
    write_hand_csvs,
)
from board_sql import context, panel_sql, run_sql

pytestmark = pytest.mark.service

START, END = local(2, 0), local(4, 0)
ALL = {"site": ["office-a", "hub-b"], "zone": ["z1", "z2", "open"], "percentile": ["95"]}


@pytest.fixture(scope="module")
def dsn(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("decision")
    inventory, events, bookings = write_hand_csvs(work)
    inventory.write_text(decision_inventory(), encoding="utf-8")
    load_raw(db_dsn, inventory, events, bookings)
    fill_rollups(db_dsn, inventory, events, bookings, HAND_FROM, HAND_TO, work)
    with psycopg.connect(db_dsn) as conn:
        conn.execute(DECISION_PASSES)
    return db_dsn


def _rows(dsn: str, board: dict[str, Any], title: str, **variables: list[str]) -> list[dict]:
    names, rows = run_sql(dsn, panel_sql(board, title), context(START, END, **variables))
    return [dict(zip(names, row, strict=True)) for row in rows]


def test_decision_table(dsn: str, boards: dict[str, Any]) -> None:
    rows = _rows(dsn, boards["facilities"], "Decision: desk-days, cost, day passes, commute", **ALL)
    got = {r["site"]: r for r in rows}
    assert [r["site"] for r in rows] == ["office-a", "cowork-c", "hub-b"]
    # Office A: used a1, a2 Mon, a3 Tue = 3; cost 1000 x 4 x 2 / 30 = 266.67; 266.67 / 3.
    office = got["office-a"]
    assert (office["desk-days used"], office["cost"], office["cost per used desk-day"]) == (
        3, Decimal("267"), Decimal("89"),
    )  # fmt: skip
    assert office["as day passes"] is None and office["commute avoided (km)"] is None
    # Hub B: 2 desk-days; 4500 x 2 x 2 / 30 = 600; as passes 2 x 200 = 400 < 600; 2 x 2 x 15 km.
    hub = got["hub-b"]
    assert [hub[k] for k in ("desk-days used", "cost", "cost per used desk-day",
                             "as day passes", "cheaper as day passes",
                             "commute avoided (km)", "CO2 avoided (kg)", "currency")] == [
        2, Decimal("600"), Decimal("300"), Decimal("400"), "yes", Decimal("60"),
        Decimal("7.2"), "SEK",
    ]  # fmt: skip
    # Cowork C: its use is the 3 passes in the range (not the one a year earlier); no cost.
    cowork = got["cowork-c"]
    assert (cowork["desk-days used"], cowork["cost"], cowork["cheaper as day passes"]) == (
        3, None, None,
    )  # fmt: skip
    assert (cowork["commute avoided (km)"], cowork["CO2 avoided (kg)"]) == (
        Decimal("300"), Decimal("36.0"),
    )  # fmt: skip
    assert [r["sensor data"] for r in rows] == ["measured", "day passes counted", "measured"]


def test_decision_table_says_not_measured_without_sensor_data(
    dsn: str, boards: dict[str, Any]
) -> None:
    # Mon 9 - Wed 11 March: both sites open (rollup days written), no desk-day row, since
    # nothing was observed, occupied or booked (migration 0013). Was 0 desk-days and "yes".
    with psycopg.connect(dsn) as conn:
        conn.execute(
            """INSERT INTO analytics_site_day (site_id, day, open, peak, copresence_s, alone_s,
                   desks_used)
               SELECT site, day::date, true, 0, 0, 0, 0
                 FROM unnest(ARRAY['office-a', 'hub-b']) AS site,
                      generate_series(date '2026-03-09', date '2026-03-10', interval '1 day')
                          AS day"""
        )
        # Office A saw one desk for an hour on Tuesday: measured, nobody came.
        conn.execute(
            """INSERT INTO analytics_desk_day (site_id, desk_id, day, bucket_start,
                   observed_s, occupied_s, booked_s, booked_observed_s, booked_occupied_s,
                   unbooked_occupied_s)
               VALUES ('office-a', 'a1', '2026-03-10',
                       ('2026-03-10'::timestamp) AT TIME ZONE 'Europe/Stockholm',
                       3600, 0, 0, 0, 0, 0)"""
        )
    try:
        names, rows = run_sql(
            dsn,
            panel_sql(boards["facilities"], "Decision: desk-days, cost, day passes, commute"),
            context(local(9, 0), local(11, 0), **ALL),
        )
        got = {r["site"]: r for r in (dict(zip(names, row, strict=True)) for row in rows)}
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute("DELETE FROM analytics_site_day WHERE day >= '2026-03-09'")
            conn.execute("DELETE FROM analytics_desk_day WHERE day >= '2026-03-09'")
    hub = got["hub-b"]
    assert [hub[k] for k in ("desk-days used", "cost", "cost per used desk-day",
                             "as day passes", "cheaper as day passes",
                             "commute avoided (km)", "CO2 avoided (kg)", "sensor data")] == [
        None, Decimal("600"), None, None, "not measured", None, None, "not measured",
    ]  # fmt: skip
    office = got["office-a"]
    assert (office["desk-days used"], office["sensor data"]) == (0, "measured")
    assert got["cowork-c"]["desk-days used"] == 0  # no passes in that range: counted, 0


def test_day_profile(dsn: str, boards: dict[str, Any]) -> None:
    rows = _rows(
        dsn, boards["facilities"], "Day profile: mean desks in use (weekday \u00d7 hour)", **ALL
    )
    grid = {
        (r["site"], r["weekday"]): {h: float(r[f"{h:02d}"]) for h in range(6, 22) if r[f"{h:02d}"]}
        for r in rows
    }
    assert grid == {
        ("hub-b", "Mon"): {10: 1.0, 11: 2.0, 12: 1.0},
        ("hub-b", "Tue"): {},  # open, nobody came: zeros, not missing
        ("office-a", "Mon"): {8: 1.0, 9: 2.0, 10: 1.0, 11: 1.0},
        ("office-a", "Tue"): {13: 1.0, 14: 1.0},
    }


def test_day_profile_is_a_mean_over_open_days(dsn: str, boards: dict[str, Any]) -> None:
    # Over Mon 2 - Tue 10 March, Monday has two open days (9 March without data): half.
    title = "Day profile: mean desks in use (weekday \u00d7 hour)"
    with psycopg.connect(dsn) as conn:
        conn.execute(
            """INSERT INTO analytics_site_day (site_id, day, open, peak, copresence_s,
                   alone_s, desks_used) VALUES ('hub-b', '2026-03-09', true, 0, 0, 0, 0)"""
        )
    try:
        names, rows = run_sql(
            dsn, panel_sql(boards["facilities"], title),
            context(START, local(10, 0), site=["hub-b"]),
        )  # fmt: skip
        monday = dict(zip(names, rows[0], strict=True))
        assert (monday["weekday"], monday["11"], monday["10"]) == ("Mon", Decimal("1.00"),
                                                                   Decimal("0.50"))  # fmt: skip
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute("DELETE FROM analytics_site_day WHERE day = '2026-03-09'")


def test_lone_weeks_follow_together_min_s(dsn: str, boards: dict[str, Any]) -> None:
    # Monday: 2 desks used, together 3600 s < 7200 (together_min_s): 1 of 1 days alone.
    rows = _rows(dsn, boards["hub"], "Lone weeks", hub=["hub-b"])
    assert rows == [{"week": "2026-W10", "days with people": 1, "days mostly alone": 1,
                     "lone week": "LONE"}]  # fmt: skip
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE organisation SET together_min_s = 3600")  # 3600 is not below
    try:
        rows = _rows(dsn, boards["hub"], "Lone weeks", hub=["hub-b"])
        assert rows[0]["lone week"] == "people met" and rows[0]["days mostly alone"] == 0
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute("UPDATE organisation SET together_min_s = 7200")


def test_lone_weeks_say_not_measured_without_sensor_data(dsn: str, boards: dict[str, Any]) -> None:
    # Week 11: Hub B open Mon 9 and Tue 10 March, no desk-day row (nothing observed); week 12:
    # open Mon 16, one desk observed an hour, nobody came.
    with psycopg.connect(dsn) as conn:
        conn.execute(
            """INSERT INTO analytics_site_day (site_id, day, open, peak, copresence_s, alone_s,
                   desks_used)
               VALUES ('hub-b', '2026-03-09', true, 0, 0, 0, 0),
                      ('hub-b', '2026-03-10', true, 0, 0, 0, 0),
                      ('hub-b', '2026-03-16', true, 0, 0, 0, 0)"""
        )
        conn.execute(
            """INSERT INTO analytics_desk_day (site_id, desk_id, day, bucket_start,
                   observed_s, occupied_s, booked_s, booked_observed_s, booked_occupied_s,
                   unbooked_occupied_s)
               VALUES ('hub-b', 'b1', '2026-03-16',
                       ('2026-03-16'::timestamp) AT TIME ZONE 'Europe/Stockholm',
                       3600, 0, 0, 0, 0, 0)"""
        )
    try:
        names, rows = run_sql(
            dsn, panel_sql(boards["hub"], "Lone weeks"),
            context(START, local(17, 0), hub=["hub-b"]),
        )  # fmt: skip
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute("DELETE FROM analytics_site_day WHERE day >= '2026-03-09'")
            conn.execute("DELETE FROM analytics_desk_day WHERE day >= '2026-03-09'")
    got = {row[0]: dict(zip(names, row, strict=True))["lone week"] for row in rows}
    assert got == {"2026-W12": "nobody came", "2026-W11": "not measured", "2026-W10": "LONE"}


def test_community_day(dsn: str, boards: dict[str, Any]) -> None:
    # Hub B: Monday 2 desks used, Tuesday 0.
    assert _rows(dsn, boards["hub"], "Community day", hub=["hub-b"]) == [
        {"community day": "Monday", "mean desks used": Decimal("2.00"), "open days (8 weeks)": 1}
    ]
    # Office A: Monday 2, Tuesday 1 -> Monday; a tie goes to the earlier weekday.
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE analytics_site_day SET desks_used = 2"
            " WHERE site_id = 'office-a' AND day = '2026-03-03'"
        )
    rows = _rows(dsn, boards["hub"], "Community day", hub=["office-a"])
    assert rows[0]["community day"] == "Monday"
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE analytics_site_day SET desks_used = 3"
            " WHERE site_id = 'office-a' AND day = '2026-03-03'"
        )
    rows = _rows(dsn, boards["hub"], "Community day", hub=["office-a"])
    assert rows[0]["community day"] == "Tuesday"
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE analytics_site_day SET desks_used = 1"
            " WHERE site_id = 'office-a' AND day = '2026-03-03'"
        )


def test_upcoming_bookings_next_7_days(dsn: str, boards: dict[str, Any]) -> None:
    with psycopg.connect(dsn) as conn:
        today = conn.execute("SELECT (now() AT TIME ZONE 'Europe/Stockholm')::date").fetchone()[0]
        noon = "((%s::date + %s)::timestamp + interval '12 hours') AT TIME ZONE 'Europe/Stockholm'"
        for booking, offset, cancelled in (
            ("u1", 0, False), ("u2", 2, False), ("u3", 2, False), ("u4", 2, True),
            ("u5", 7, False), ("u6", -1, False),
        ):  # fmt: skip
            conn.execute(
                f"""INSERT INTO bookings (booking_id, site_id, desk_id, start_at, end_at,
                        origin, cancelled_at)
                    VALUES (%s, 'hub-b', 'b1', {noon}, {noon} + interval '1 hour', 'api',
                            CASE WHEN %s THEN now() END)""",
                (booking, today, offset, today, offset, cancelled),
            )
    rows = _rows(dsn, boards["hub"], "Upcoming bookings (next 7 days)", hub=["hub-b"])
    # Today 1; in two days 2 (the cancelled one left out); day 7 and yesterday outside.
    assert [(r["day"], r["bookings"]) for r in rows] == [
        (today + dt.timedelta(days=k), {0: 1, 2: 2}.get(k, 0)) for k in range(7)
    ]
