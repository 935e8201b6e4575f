"""Read views over real HTTP with rows inserted by hand: occupancy now (free, occupied, walk-in,
booked, unknown), fleet, the hub state and its live feed, and SPEC §6 metrics of a known day."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from api_helpers import HUB, SITE, ApiServer, Keys, api_settings, now_ms, utc

from hubsense.db.coverage import rebuild_coverage
from hubsense.settings import ApiSettings

pytestmark = pytest.mark.service


def insert_events(dsn: str, site: str, node: str, rows: list[tuple[Any, ...]]) -> None:
    """rows: (seq, ts_ms, type, desk, state)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for seq, ts_ms, kind, desk, state in rows:
            conn.execute(
                """INSERT INTO events (node_id, seq, ts, site_id, type, desk_id, source, state)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                (node, seq, utc(ts_ms), site, kind, desk, "pir" if desk else None, state),
            )
        rebuild_coverage(conn)  # written beside ingest: coverage from the raw rows


def set_status(dsn: str, node: str, site: str, online: bool) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO node_status (node_id, site_id, online, version, outbox_depth, cpu_temp_c,
                   last_reading_age_s, reported_at)
               VALUES (%s, %s, %s, '0.1.0', 3, 48.5, '{"gpio:17": 1.5}', now())
               ON CONFLICT (node_id) DO UPDATE SET online = EXCLUDED.online""",
            (node, site, online),
        )


def book(
    dsn: str, booking_id: str, site: str, desk: str, start: dt.datetime, end: dt.datetime
) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO bookings (booking_id, site_id, desk_id, start_at, end_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (booking_id, site, desk, start, end),
        )


@pytest.fixture(scope="module")
def live(api_dsn: str) -> int:
    """Rows around now; returns the reference instant in ms."""
    t = now_ms()
    insert_events(
        api_dsn,
        SITE,
        "pi-a",
        [
            (100_001, t - 20_000, "alive", None, None),
            (100_002, t - 15_000, "desk", "d-1", "occupied"),
            (100_003, t - 15_000, "desk", "d-2", "vacant"),
        ],
    )
    insert_events(
        api_dsn,
        SITE,
        "pi-b",
        [
            (100_001, t - 600_000, "alive", None, None),  # 10 min ago: cover ended 7 min ago
            (100_002, t - 600_000, "desk", "d-3", "occupied"),
        ],
    )
    insert_events(
        api_dsn,
        HUB,
        "pi-h",
        [
            (100_001, t - 70_000, "alive", None, None),
            (100_002, t - 65_000, "desk", "h-1", "occupied"),
            (100_003, t - 65_000, "desk", "h-2", "occupied"),
            (100_004, t - 65_000, "desk", "h-3", "vacant"),
            (100_005, t - 10_000, "alive", None, None),
        ],
    )
    set_status(api_dsn, "pi-h", HUB, True)
    book(api_dsn, "now-d2", SITE, "d-2", utc(t - 3_600_000), utc(t + 3_600_000))
    book(api_dsn, "now-h3", HUB, "h-3", utc(t - 3_600_000), utc(t + 3_600_000))
    # A released booking no longer makes its desk "booked".
    book(api_dsn, "now-d3-released", SITE, "d-3", utc(t - 3_600_000), utc(t + 3_600_000))
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        conn.execute("UPDATE bookings SET released_at = now() WHERE booking_id = 'now-d3-released'")
    return t


def test_occupancy_now(api: ApiServer, keys: Keys, live: int) -> None:
    with api.client(keys.facilities) as client:
        body = client.get(f"/v1/sites/{SITE}/occupancy").json()
    assert body["counts"] == {
        "free": 0,
        "occupied": 1,
        "booked": 1,
        "unknown": 1,
        "walk_in": 1,
        "total": 3,
    }
    desks = {d["desk"]: d for d in body["desks"]}
    assert (desks["d-1"]["status"], desks["d-1"]["walk_in"], desks["d-1"]["booking_id"]) == (
        "occupied",
        True,
        None,
    )
    assert (desks["d-2"]["status"], desks["d-2"]["walk_in"], desks["d-2"]["booking_id"]) == (
        "booked",
        False,
        "now-d2",
    )
    assert (desks["d-3"]["status"], desks["d-3"]["booking_id"]) == ("unknown", None)
    assert dt.datetime.fromisoformat(desks["d-1"]["since"]) == utc(live - 15_000)


def test_fleet(api: ApiServer, keys: Keys, live: int) -> None:
    with api.client(keys.hub_manager) as client:
        (node,) = client.get(f"/v1/sites/{HUB}/fleet").json()
    assert (
        node["node"],
        node["online"],
        node["version"],
        node["outbox_depth"],
        node["cpu_temp_c"],
        node["last_reading_age_s"],
        node["desks"],
    ) == ("pi-h", True, "0.1.0", 3, 48.5, {"gpio:17": 1.5}, 3)


def test_hub_state_views(api: ApiServer, keys: Keys, live: int) -> None:
    with api.client() as client:
        public = client.get(f"/hubs/{HUB}/state").json()
    assert public["view"] == "counts" and public["desks"] is None
    assert public["counts"] == {
        "free": 0,
        "occupied": 2,
        "booked": 1,
        "unknown": 0,
        "walk_in": 2,
        "total": 3,
    }
    assert public["name"] == "HUB-NORTH place"
    today = public["today"]
    assert (
        today["open"] is True
        and today["open_now"] is True
        and today["opening_hours"] == ["00:00-24:00"]
    )
    # h-1 and h-2 together since 65 s before the fixture's instant.
    assert 65 <= today["copresence_s"] < 65 + (now_ms() - live) / 1000 + 2
    assert today["peak"] == 2 and dt.datetime.fromisoformat(today["peak_at"]) == utc(live - 65_000)
    with api.client(keys.hub_manager) as client:
        full = client.get(f"/hubs/{HUB}/state").json()
        assert full["view"] == "desks"
        assert [(d["desk"], d["status"]) for d in full["desks"]] == [
            ("h-1", "occupied"),
            ("h-2", "occupied"),
            ("h-3", "booked"),
        ]
        # Another site's page: what anyone sees there (a weaker key never sees less).
        assert client.get(f"/hubs/{SITE}/state").json()["view"] == "counts"
    with api.client(keys.facilities) as client:
        assert client.get(f"/hubs/{HUB}/state").json()["view"] == "desks"
    with api.client() as client:
        assert client.get("/hubs/nowhere/state").status_code == 404
        page = client.get(f"/hubs/{HUB}")
        assert page.status_code == 200 and f'data-site="{HUB}"' in page.text
        assert (
            client.get("/hubs/static/hub.js").headers["content-type"].startswith("text/javascript")
        )


def test_hub_public_off_and_desks(
    start_api: Callable[..., ApiServer], api_dsn: str, keys: Keys, live: int
) -> None:
    closed = start_api(api_settings(api=ApiSettings(hub_public="off")), api_dsn)
    with closed.client() as client:
        response = client.get(f"/hubs/{HUB}/state")
        assert response.status_code == 401
        assert response.json() == {"detail": "this hub page needs an API key"}
        manager = {"Authorization": f"Bearer {keys.hub_manager}"}
        assert client.get(f"/hubs/{HUB}/state", headers=manager).status_code == 200
        # The live feed follows the same rules (checked before the stream starts).
        assert client.get(f"/hubs/{HUB}/events").status_code == 401
        assert client.get(f"/hubs/{SITE}/events", headers=manager).status_code == 403
        facilities = {"Authorization": f"Bearer {keys.facilities}"}
        assert client.get("/hubs/nowhere/events", headers=facilities).status_code == 404
    open_ = start_api(api_settings(api=ApiSettings(hub_public="desks")), api_dsn)
    with open_.client() as client:
        state = client.get(f"/hubs/{HUB}/state").json()
    assert state["view"] == "desks" and len(state["desks"]) == 3


def read_states(response: httpx.Response, want: int, timeout_s: float) -> list[dict[str, Any]]:
    states: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    event = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "state":
            states.append(json.loads(line[6:]))
            if len(states) >= want:
                return states
        assert time.monotonic() < deadline, f"only {len(states)} state events in {timeout_s} s"
    return states


def test_live_feed_sends_a_change_within_seconds(api: ApiServer, api_dsn: str, live: int) -> None:
    with api.client() as client, client.stream("GET", f"/hubs/{HUB}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        first = None
        for line in lines:
            if line.startswith("data: "):
                first = json.loads(line[6:])
                break
        assert first is not None and first["counts"]["occupied"] == 2
        started = time.monotonic()
        insert_events(api_dsn, HUB, "pi-h", [(100_006, now_ms(), "desk", "h-1", "vacant")])
        for line in lines:
            if line.startswith("data: "):
                second = json.loads(line[6:])
                break
        elapsed = time.monotonic() - started
    assert second["counts"]["occupied"] == 1 and second["counts"]["free"] == 1
    assert elapsed < 3.0
    # Put h-1 back for the other tests.
    insert_events(api_dsn, HUB, "pi-h", [(100_007, now_ms(), "desk", "h-1", "occupied")])


def test_offline_node_makes_its_desks_unknown(
    api: ApiServer, api_dsn: str, keys: Keys, live: int
) -> None:
    set_status(api_dsn, "pi-h", HUB, False)
    try:
        with api.client(keys.facilities) as client:
            body = client.get(f"/v1/sites/{HUB}/occupancy").json()
        assert body["counts"]["unknown"] == 3 and body["counts"]["total"] == 3
    finally:
        set_status(api_dsn, "pi-h", HUB, True)


# -- metrics of a known day: 2026-03-02 (Monday), Europe/Stockholm (+01:00) --------------------

T8 = int(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC).timestamp() * 1000)
MIN = 60_000


@pytest.fixture(scope="module")
def known_day(api_dsn: str) -> None:
    alives = [(1000 + i, T8 + i * MIN, "alive", None, None) for i in range(121)]  # 08:00..10:00Z
    desk_rows = [
        (2001, T8 + 30 * MIN, "desk", "d-1", "occupied"),
        (2002, T8 + 60 * MIN, "desk", "d-2", "occupied"),
        (2003, T8 + 70 * MIN, "desk", "d-2", "vacant"),
        (2004, T8 + 90 * MIN, "desk", "d-1", "vacant"),
    ]
    insert_events(api_dsn, SITE, "pi-a", alives + desk_rows)
    book(api_dsn, "day-d1", SITE, "d-1", utc(T8), utc(T8 + 60 * MIN))
    book(api_dsn, "day-d2", SITE, "d-2", utc(T8 + 90 * MIN), utc(T8 + 150 * MIN))


def test_metrics_of_a_known_day(api: ApiServer, keys: Keys, known_day: None) -> None:
    period = {"from": "2026-03-02", "to": "2026-03-03"}
    with api.client(keys.facilities) as client:
        site_rows = client.get(f"/v1/sites/{SITE}/metrics", params=period).json()
        desk_rows = client.get(
            f"/v1/sites/{SITE}/metrics", params={**period, "level": "desk"}
        ).json()
        zone_rows = client.get(
            f"/v1/sites/{SITE}/metrics", params={**period, "level": "zone"}
        ).json()
        hours = client.get(f"/v1/sites/{SITE}/metrics", params={**period, "bucket": "hour"}).json()
        outcomes = client.get(f"/v1/sites/{SITE}/booking-outcomes", params=period).json()
        daily = client.get(f"/v1/sites/{SITE}/daily", params=period).json()
        sizing = client.get(f"/v1/sites/{SITE}/right-sizing", params=period).json()
        everything = client.get("/v1/right-sizing", params=period).json()
        bad = client.get(
            f"/v1/sites/{SITE}/metrics", params={"from": "2026-03-03", "to": "2026-03-02"}
        )
    # C = [08:00, 10:03) (last alive at 10:00 covers 3 min): 123 min observed per desk of pi-a.
    fields = (
        "key",
        "bucket_start",
        "observed_s",
        "occupied_s",
        "booked_s",
        "booked_observed_s",
        "booked_occupied_s",
        "unbooked_occupied_s",
    )
    assert [tuple(r[f] for f in fields) for r in desk_rows] == [
        ("d-1", "2026-03-02T00:00:00+01:00", 7380, 3600, 3600, 3600, 1800, 1800),
        ("d-2", "2026-03-02T00:00:00+01:00", 7380, 600, 3600, 1980, 0, 600),
        ("d-3", "2026-03-02T00:00:00+01:00", 0, 0, 0, 0, 0, 0),
    ]
    (site_row,) = site_rows
    assert tuple(site_row[f] for f in fields) == (
        SITE,
        "2026-03-02T00:00:00+01:00",
        14760,
        4200,
        7200,
        5580,
        1800,
        2400,
    )
    assert site_row["occupancy_rate"] == round(4200 / 14760, 6)
    assert site_row["true_utilisation"] == round(1800 / 5580, 6)
    assert [(r["key"], r["observed_s"], r["occupied_s"]) for r in zone_rows] == [
        ("floor-3", 14760, 4200),
        ("floor-4", 0, 0),
    ]
    assert len(hours) == 24
    nine = next(r for r in hours if r["bucket_start"] == "2026-03-02T09:00:00+01:00")
    assert (
        nine["observed_s"],
        nine["occupied_s"],
        nine["booked_s"],
        nine["booked_occupied_s"],
    ) == (7200, 1800, 3600, 1800)
    assert outcomes["attended"] == 1 and outcomes["no_show"] == 1 and outcomes["unknown"] == 0
    assert outcomes["no_show_rate"] == 0.5
    assert [
        (b["booking_id"], b["observed_s"], b["occupied_s"], b["outcome"])
        for b in outcomes["bookings"]
    ] == [("day-d1", 3600, 1800, "attended"), ("day-d2", 1980, 0, "no_show")]
    (day,) = daily
    assert (day["date"], day["open"], day["peak"], day["copresence_s"]) == (
        "2026-03-02",
        True,
        2,
        600,
    )
    assert dt.datetime.fromisoformat(day["peak_at"]) == utc(T8 + 60 * MIN)
    assert sizing == {
        "site": SITE,
        "days_open": 1,
        "capacity": 3,
        "desks_needed": 2,
        "surplus": 1,
        "area_m2": 120.0,
        "area_freed_m2": 40.0,
        "cost_saved_month": 250.0,
    }
    assert [s["site"] for s in everything] == [SITE, HUB]
    assert everything[1]["desks_needed"] == 0 and everything[1]["surplus"] == 3
    assert bad.status_code == 422 and bad.json() == {"detail": "to: must be after from"}


def test_rollups_give_the_same_answers_and_are_what_is_read(
    api: ApiServer, api_dsn: str, keys: Keys, known_day: None
) -> None:
    from hubsense.analytics.calendar import Period
    from hubsense.analytics.run import run_period

    period = {"from": "2026-03-01", "to": "2026-03-03"}  # Sunday and Monday: two ISO weeks
    requests = [
        (f"/v1/sites/{SITE}/metrics", {**period, "bucket": bucket, "level": level})
        for bucket in ("hour", "day", "week", "month")
        for level in ("desk", "zone", "site")
    ] + [
        (f"/v1/sites/{SITE}/booking-outcomes", period),
        (f"/v1/sites/{SITE}/daily", period),
        (f"/v1/sites/{SITE}/right-sizing", period),
    ]

    def answers() -> list[tuple[str | None, Any]]:
        with api.client(keys.facilities) as client:
            out = []
            for path, params in requests:
                response = client.get(path, params=params)
                assert response.status_code == 200, (path, params, response.text)
                out.append((response.headers.get("x-hubsense-source"), response.json()))
            return out

    before = answers()
    assert [source for source, _ in before[:-1]] == ["events"] * (len(requests) - 1)
    weeks = before[[p for p, _ in requests].index(f"/v1/sites/{SITE}/metrics") + 8][1]
    assert [(r["key"], r["bucket_start"]) for r in weeks] == [
        (SITE, "2026-03-01T00:00:00+01:00"),
        (SITE, "2026-03-02T00:00:00+01:00"),
    ]
    run_period(api_dsn, Period(dt.date(2026, 3, 1), dt.date(2026, 3, 3)))
    after = answers()
    assert [source for source, _ in after[:-1]] == ["rollups"] * (len(requests) - 1)
    assert [body for _, body in after] == [body for _, body in before]
    # Proof that the rollups are read: a changed rollup row changes the answer.
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE analytics_site_day SET copresence_s = 4321 WHERE site_id = %s AND day = %s",
            (SITE, dt.date(2026, 3, 2)),
        )
    with api.client(keys.facilities) as client:
        daily = client.get(f"/v1/sites/{SITE}/daily", params=period).json()
    assert [d["copresence_s"] for d in daily] == [0, 4321]
