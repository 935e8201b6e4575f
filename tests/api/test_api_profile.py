"""GET /v1/sites/{site}/profile and /upcoming on a real API process and database, with
rollup rows and bookings made by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import psycopg
import pytest
from api_helpers import HUB, SITE, ApiServer, Keys, api_settings

# One desk-day row with its 24 hours as arrays (migration 0013), one hour of it measured.
_DAY = """INSERT INTO analytics_desk_day (site_id, desk_id, day, bucket_start, observed_s,
    occupied_s, booked_s, booked_observed_s, booked_occupied_s, unbooked_occupied_s,
    hour_observed_s, hour_occupied_s, hour_booked_s, hour_booked_observed_s,
    hour_booked_occupied_s)
    VALUES (%(site)s, %(desk)s, %(day)s::date,
            (%(day)s::date)::timestamp AT TIME ZONE 'Europe/Stockholm', 3600, %(s)s, 0, 0, 0,
            %(s)s, %(observed)s, %(occupied)s, %(zeros)s, %(zeros)s, %(zeros)s)"""


def _one_hour(site: str, desk: str, day: str, hour: int, seconds: int) -> dict[str, object]:
    def at_hour(value: int) -> list[int]:
        return [value if h == hour else 0 for h in range(24)]

    return {"site": site, "desk": desk, "day": day, "s": seconds, "observed": at_hour(3600),
            "occupied": at_hour(seconds), "zeros": [0] * 24}  # fmt: skip


def test_profile_is_a_mean_over_open_days(api: ApiServer, api_dsn: str, keys: Keys) -> None:
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        # Open: Mon 2, Tue 3, Mon 9 March; Sun 8 closed (its hour must not count).
        for day, is_open in (("2026-03-02", True), ("2026-03-03", True),
                             ("2026-03-08", False), ("2026-03-09", True)):  # fmt: skip
            conn.execute(
                "INSERT INTO analytics_site_day (site_id, day, open, peak, copresence_s)"
                " VALUES (%s, %s, %s, 0, 0)",
                (HUB, day, is_open),
            )
        # Mon 2 at 09 local: h-1 the whole hour, h-2 half of it; Sun 8 at 09: h-1.
        for desk, day, seconds in (("h-1", "2026-03-02", 3600), ("h-2", "2026-03-02", 1800),
                                   ("h-1", "2026-03-08", 3600)):  # fmt: skip
            conn.execute(_DAY, _one_hour(HUB, desk, day, 9, seconds))
    params = {"from": "2026-03-02", "to": "2026-03-10"}
    with api.client(keys.hub_manager) as client:
        got = client.get(f"/v1/sites/{HUB}/profile", params=params)
        assert got.status_code == 200, got.text
        out = got.json()
        assert client.get(f"/v1/sites/{SITE}/profile", params=params).status_code == 403
    assert (out["site"], out["from"], out["to"], out["open_days"]) == (
        HUB, "2026-03-02", "2026-03-10", 3,
    )  # fmt: skip
    cells = {(c["weekday"], c["hour"]): c["desks"] for c in out["profile"]}
    assert len(cells) == 48 and {w for w, _ in cells} == {"mon", "tue"}  # no closed Sunday
    # (3600 + 1800) s / 3600 s over two open Mondays.
    assert cells["mon", 9] == 0.75
    assert sum(cells.values()) == 0.75
    with api.client(keys.facilities) as client:
        missing = client.get("/v1/sites/nowhere/profile", params=params)
        assert (missing.status_code, missing.json()) == (404, {"detail": "no site nowhere"})
        backwards = client.get(
            f"/v1/sites/{HUB}/profile", params={"from": "2026-03-10", "to": "2026-03-02"}
        )
        assert (backwards.status_code, backwards.json()) == (
            422, {"detail": "to: must be after from"},
        )  # fmt: skip


def test_upcoming_counts_the_next_7_days(api: ApiServer, api_dsn: str, keys: Keys) -> None:
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        today = conn.execute("SELECT (now() AT TIME ZONE 'Europe/Stockholm')::date").fetchone()[0]
        noon = "((%s::date + %s)::timestamp + interval '12 hours') AT TIME ZONE 'Europe/Stockholm'"
        for booking, offset, cancelled in (
            ("up1", 0, False), ("up2", 3, False), ("up3", 3, False), ("up4", 3, True),
            ("up5", 7, False), ("up6", -1, False),
        ):  # fmt: skip
            conn.execute(
                f"""INSERT INTO bookings (booking_id, site_id, desk_id, start_at, end_at,
                        origin, cancelled_at)
                    VALUES (%s, %s, 'h-1', {noon}, {noon} + interval '1 hour', 'api',
                            CASE WHEN %s THEN now() END)""",
                (booking, HUB, today, offset, today, offset, cancelled),
            )
    with api.client(keys.hub_manager) as client:
        got = client.get(f"/v1/sites/{HUB}/upcoming")
        assert got.status_code == 200, got.text
        assert client.get(f"/v1/sites/{SITE}/upcoming").status_code == 403
    weekdays = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    # Today 1; in three days 2 (the cancelled one left out); yesterday and day 7 outside.
    assert got.json() == {
        "site": HUB,
        "days": [
            {
                "date": (today + dt.timedelta(days=k)).isoformat(),
                "weekday": weekdays[(today + dt.timedelta(days=k)).weekday()],
                "bookings": {0: 1, 3: 2}.get(k, 0),
            }
            for k in range(7)
        ],
    }


def test_upcoming_follows_the_app_clock(
    api_dsn: str, keys: Keys, start_api: Callable[..., ApiServer]
) -> None:
    """On the demo's simulated clock the 7 days start at its date, not the wall's; a
    booking is counted on its site-local date (23:30 local on the 6th is still the 6th)."""
    from hubsense.api.profile import upcoming_counts

    # Late on Sunday 1 March 2026 in Stockholm (22:30 UTC): the seven days are 1..7 March.
    sim_now = dt.datetime(2026, 3, 1, 23, 30, tzinfo=ZoneInfo("Europe/Stockholm"))
    at = "(%s::timestamp) AT TIME ZONE 'Europe/Stockholm'"
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        for booking, local in (
            ("clk1", "2026-03-01 08:00"),  # earlier on the clock's day: still that day's
            ("clk2", "2026-03-06 23:30"),  # the 6th local (the 6th at 22:30 UTC)
            ("clk3", "2026-03-07 00:30"),  # the 7th local, the 6th in UTC
            ("clk4", "2026-03-08 09:00"),  # day 8: outside
            ("clk5", "2026-02-28 09:00"),  # the day before: outside
        ):
            conn.execute(
                f"""INSERT INTO bookings (booking_id, site_id, desk_id, start_at, end_at, origin)
                    VALUES (%s, %s, 'h-1', {at}, {at} + interval '1 hour', 'api')""",
                (booking, HUB, local, local),
            )
        expected = [(dt.date(2026, 3, 1) + dt.timedelta(days=k), 0) for k in range(7)]
        expected[0] = (dt.date(2026, 3, 1), 1)
        expected[5] = (dt.date(2026, 3, 6), 1)
        expected[6] = (dt.date(2026, 3, 7), 1)
        assert upcoming_counts(conn, HUB, sim_now) == expected
        assert upcoming_counts(conn, HUB, sim_now, days=1) == expected[:1]
        assert upcoming_counts(conn, "nowhere", sim_now) == []
        with pytest.raises(ValueError, match="timezone-aware"):
            upcoming_counts(conn, HUB, sim_now.replace(tzinfo=None))
    server = start_api(api_settings(), api_dsn, clock=lambda: sim_now.astimezone(dt.UTC))
    with server.client(keys.hub_manager) as client:
        got = client.get(f"/v1/sites/{HUB}/upcoming")
    assert got.status_code == 200, got.text
    assert [(d["date"], d["weekday"], d["bookings"]) for d in got.json()["days"]] == [
        (day.isoformat(), ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()], n)
        for day, n in expected
    ]
