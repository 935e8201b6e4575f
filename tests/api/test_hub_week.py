"""The hub page's week (docs/api.md "The hub page"): this week per day from the rollups and
today live, the next 7 days' booking counts and the day most people come, on a real API
process over HTTP on a fixed clock, rows made by hand; then the page in Chromium on a phone."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from api_helpers import HUB, SITE, ApiServer, Keys, api_settings
from test_api_views import insert_events

pytestmark = pytest.mark.service

STOCKHOLM = ZoneInfo("Europe/Stockholm")
# Wednesday 4 March 2026, 10:00 local (+01:00): ISO week 2026-W10 runs Mon 2 .. Sun 8.
NOW = dt.datetime(2026, 3, 4, 10, 0, tzinfo=STOCKHOLM)
MINUTE_MS = 60_000
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _ms(hour: int, minute: int = 0) -> int:
    return int(dt.datetime(2026, 3, 4, hour, minute, tzinfo=STOCKHOLM).timestamp() * 1000)


def clock_at(moment: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: moment.astimezone(dt.UTC)


def site_day(
    conn: Any, site: str, day: str, used: int, together_s: int, is_open: bool = True
) -> None:
    conn.execute(
        """INSERT INTO analytics_site_day (site_id, day, open, peak, copresence_s, alone_s,
               desks_used) VALUES (%s, %s, %s, %s, %s, 0, %s)""",
        (site, day, is_open, used, together_s, used),
    )


def booking(conn: Any, booking_id: str, day: str, cancelled: bool = False) -> None:
    conn.execute(
        """INSERT INTO bookings (booking_id, site_id, desk_id, start_at, end_at, origin,
               cancelled_at)
           VALUES (%s, %s, 'h-2', (%s::date + time '12:00') AT TIME ZONE 'Europe/Stockholm',
                   (%s::date + time '13:00') AT TIME ZONE 'Europe/Stockholm', 'api',
                   CASE WHEN %s THEN now() END)""",
        (booking_id, HUB, day, day, cancelled),
    )


@pytest.fixture(scope="module")
def hand_case(api_dsn: str) -> None:
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        # This week: Monday 2 desks used and 30 min together, Tuesday 3 and 1 h 30 min.
        site_day(conn, HUB, "2026-03-02", 2, 1800)
        site_day(conn, HUB, "2026-03-03", 3, 5400)
        # The week before: Monday 1, Tuesday 2, and a Sunday that was not open (must not count).
        site_day(conn, HUB, "2026-02-23", 1, 0)
        site_day(conn, HUB, "2026-02-24", 2, 3600)
        site_day(conn, HUB, "2026-03-01", 9, 0, is_open=False)
        # A rollup row of today (a partial run): the week shows today live instead.
        site_day(conn, HUB, "2026-03-04", 7, 7777)
        # The office: two measured weeks in June 2025 where nobody came.
        site_day(conn, SITE, "2025-06-02", 0, 0)
        site_day(conn, SITE, "2025-06-10", 0, 0)
        # Bookings: today 1, Thursday 2 (a third cancelled), next Tuesday 1; yesterday and
        # next Wednesday (8 days on) lie outside the next 7 days.
        for booking_id, day, cancelled in (
            ("w1", "2026-03-04", False), ("w2", "2026-03-05", False),
            ("w3", "2026-03-05", False), ("w4", "2026-03-05", True),
            ("w5", "2026-03-10", False), ("w6", "2026-03-03", False),
            ("w7", "2026-03-11", False),
        ):  # fmt: skip
            booking(conn, booking_id, day, cancelled)
    # Today so far: h-1 in from 08:00 (2 h), h-2 from 09:00 to 09:10 (10 min, less than the
    # 30 min that make a desk used; the 10 min are together with h-1); the node alive all along.
    rows: list[tuple[Any, ...]] = [
        (1, _ms(7, 59), "desk", "h-1", "vacant"),
        (2, _ms(7, 59), "desk", "h-2", "vacant"),
        (3, _ms(8), "desk", "h-1", "occupied"),
        (4, _ms(9), "desk", "h-2", "occupied"),
        (5, _ms(9, 10), "desk", "h-2", "vacant"),
    ]
    rows += [(100 + i, _ms(7, 58) + i * MINUTE_MS, "alive", None, None) for i in range(125)]
    insert_events(api_dsn, HUB, "pi-h", rows)


def expected_week() -> dict[str, Any]:
    days = [
        ("2026-03-02", "rollup", 2, 1800),
        ("2026-03-03", "rollup", 3, 5400),
        ("2026-03-04", "live", 1, 600),
        *[(f"2026-03-0{d}", "future", None, None) for d in range(5, 9)],
    ]
    return {
        "week": "2026-W10",
        "days": [
            {
                "date": date,
                "weekday": WEEKDAYS[k],
                "open": True,
                "source": source,
                "desks_used": used,
                "copresence_s": together,
            }
            for k, (date, source, used, together) in enumerate(days)
        ],
        "upcoming": [
            {
                "date": (NOW.date() + dt.timedelta(days=k)).isoformat(),
                "weekday": WEEKDAYS[(2 + k) % 7],
                "bookings": {0: 1, 1: 2, 6: 1}.get(k, 0),
            }
            for k in range(7)
        ],
        "used_min_s": 1800,
        # Mean desks used: Mondays (2 + 1) / 2, Tuesdays (3 + 2) / 2.
        "community_day": "tue",
        "community_weeks": 2,
        "community_min_weeks": 2,
        "community_line": "Most people come on Tuesdays",
    }


def test_the_state_carries_exactly_the_hand_made_week(
    api_dsn: str, keys: Keys, hand_case: None, start_api: Callable[..., ApiServer]
) -> None:
    server = start_api(api_settings(), api_dsn, clock=clock_at(NOW))
    with server.client(keys.hub_manager) as client:
        got = client.get(f"/hubs/{HUB}/state")
        assert got.status_code == 200, got.text
        state = got.json()
        assert state["week"] == expected_week()
        # Today's row is the live `today`: the same time together as the Today section.
        assert state["today"]["copresence_s"] == 600
        upcoming = client.get(f"/v1/sites/{HUB}/upcoming").json()
        # The page's booking counts are /upcoming's, on the same clock.
        assert upcoming["days"] == state["week"]["upcoming"]
        with client.stream("GET", f"/hubs/{HUB}/events") as stream:
            data = next(line for line in stream.iter_lines() if line.startswith("data: "))
        assert json.loads(data.removeprefix("data: "))["week"] == expected_week()
    # Day-level counts of a week are no one's presence now: the public view carries them too.
    with server.client() as client:
        public = client.get(f"/hubs/{HUB}/state").json()
    assert public["view"] == "counts" and public["desks"] is None
    assert public["week"] == expected_week()


def test_without_enough_weeks_no_day_is_named(
    api_dsn: str, keys: Keys, hand_case: None, start_api: Callable[..., ApiServer]
) -> None:
    # A week earlier only 23-24 February lie in the 56 days before: one week measured.
    week_before = start_api(api_settings(), api_dsn, clock=clock_at(NOW - dt.timedelta(days=7)))
    with week_before.client(keys.facilities) as client:
        week = client.get(f"/hubs/{HUB}/state").json()["week"]
        # The office has no rows at all.
        office = client.get(f"/hubs/{SITE}/state").json()["week"]
    assert (week["week"], week["community_day"], week["community_weeks"]) == ("2026-W09", None, 1)
    assert week["community_line"] == (
        "Not enough weeks measured yet to say which day most people come (1 of 2 weeks)"
    )
    assert [d["source"] for d in week["days"]] == ["rollup", "rollup", "live"] + ["future"] * 4
    assert (office["community_day"], office["community_weeks"]) == (None, 0)
    assert office["community_line"] == (
        "Not enough weeks measured yet to say which day most people come (0 of 2 weeks)"
    )
    assert [d["source"] for d in office["days"]] == ["not_measured"] * 2 + ["live"] + ["future"] * 4
    assert [d["desks_used"] for d in office["days"]] == [None, None, 0] + [None] * 4
    assert [d["bookings"] for d in office["upcoming"]] == [0] * 7

    # Two measured weeks in which nobody came: the highest mean is 0, no day to name.
    june = start_api(
        api_settings(), api_dsn, clock=clock_at(dt.datetime(2025, 6, 11, 9, 0, tzinfo=STOCKHOLM))
    )
    with june.client(keys.facilities) as client:
        nobody = client.get(f"/hubs/{SITE}/state").json()["week"]
    assert (nobody["community_day"], nobody["community_weeks"]) == (None, 2)
    assert nobody["community_line"] == (
        "Too few people came in the last 8 weeks to say which day most people come"
    )
    assert [(d["source"], d["desks_used"]) for d in nobody["days"][:2]] == [
        ("not_measured", None), ("rollup", 0),
    ]  # fmt: skip


@pytest.mark.slow
def test_the_week_on_a_phone_in_chromium(
    browser: Any, api_dsn: str, hand_case: None, start_api: Callable[..., ApiServer]
) -> None:
    from playwright.sync_api import expect

    phone = {"width": 390, "height": 844}
    server = start_api(api_settings(), api_dsn, clock=clock_at(NOW))
    page = browser.new_page(viewport=phone, device_scale_factor=2)
    try:
        page.goto(f"{server.url}/hubs/{HUB}")
        expect(page.locator("#community")).to_have_text(
            "Most people come on Tuesdays", timeout=15_000
        )
        rows = page.locator("#week-days tbody tr")
        expect(rows).to_have_count(7)
        texts = [
            [c.strip() for c in rows.nth(k).locator("td").all_text_contents()] for k in range(7)
        ]
        assert texts[0] == ["Mon 2", "2", "30 min"], texts
        assert texts[1] == ["Tue 3", "3", "1 h 30 min"], texts
        assert texts[2] == ["Wed 4 (today)", "1", "10 min"], texts
        assert texts[3] == ["Thu 5", "\u2013", "\u2013"], texts
        assert page.text_content("#week-name") == "2026-W10"
        assert page.text_content("#used-min") == "30 min"
        upcoming = page.locator("#upcoming li")
        expect(upcoming).to_have_count(7)
        counts = [upcoming.nth(k).locator("b").text_content() for k in range(7)]
        assert counts == ["1", "2", "0", "0", "0", "0", "1"]
        assert upcoming.nth(1).locator("small").text_content() == "Thu 5"
        for selector in ("#week-days", "#upcoming", "#community"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= phone["width"]
            assert page.locator(selector).is_visible()
        # Nothing wider than the phone: no sideways scrolling.
        width = page.evaluate("document.scrollingElement.scrollWidth")
        inner = page.evaluate("window.innerWidth")
        assert width <= inner == phone["width"], (width, inner)
        print(f"hub_week_phone_scroll_width={width} inner_width={inner}")
        page.screenshot(path="/tmp/hubsense-hub-week.png", full_page=True)
    finally:
        page.close()


def test_a_new_booking_reaches_an_open_page_on_the_live_feed(
    api_dsn: str,
    keys: Keys,
    hand_case: None,
    start_api: Callable[..., ApiServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hubsense.api import hub

    # The server runs in this process: a short keep-alive and no week cache, so the test
    # sees in seconds what a page sees within a minute and a quarter.
    monkeypatch.setattr(hub, "KEEPALIVE_S", 1.0)
    monkeypatch.setattr(hub, "WEEK_REFRESH_S", 0.0)
    server = start_api(api_settings(), api_dsn, clock=clock_at(NOW))
    with (
        server.client(keys.hub_manager) as client,
        client.stream("GET", f"/hubs/{HUB}/events") as stream,
    ):
        lines = stream.iter_lines()
        first = next(json.loads(x[6:]) for x in lines if x.startswith("data: "))
        assert [d["bookings"] for d in first["week"]["upcoming"]] == [1, 2, 0, 0, 0, 0, 1]
        with psycopg.connect(api_dsn, autocommit=True) as conn:
            booking(conn, "w8", "2026-03-06")
        try:
            pushed = next(json.loads(x[6:]) for x in lines if x.startswith("data: "))
            assert [d["bookings"] for d in pushed["week"]["upcoming"]] == [1, 2, 1, 0, 0, 0, 1]
        finally:
            with psycopg.connect(api_dsn, autocommit=True) as conn:
                conn.execute("DELETE FROM bookings WHERE booking_id = 'w8'")


def test_the_closed_public_view_keeps_the_week(
    api_dsn: str, hand_case: None, start_api: Callable[..., ApiServer]
) -> None:
    # Wednesdays 08:00-09:00 only: at 10:00 the public view is closed, no counts.
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO sites (id, name, kind, timezone, opening_hours)
               VALUES ('hub-early', 'Early hub', 'hub', 'Europe/Stockholm',
                       '{"wed": ["08:00-09:00"]}')"""
        )
        site_day(conn, "hub-early", "2026-02-25", 1, 0)
    try:
        server = start_api(api_settings(), api_dsn, clock=clock_at(NOW))
        with server.client() as client:
            state = client.get("/hubs/hub-early/state").json()
        assert (state["view"], state["counts"], state["desks"]) == ("closed", None, None)
        week = state["week"]
        assert [d["open"] for d in week["days"]] == [False, False, True, False, False, False, False]
        assert [d["source"] for d in week["days"]][:3] == ["not_measured", "not_measured", "live"]
        assert week["community_line"].startswith("Not enough weeks measured yet")
        assert week["community_weeks"] == 1
    finally:
        with psycopg.connect(api_dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM analytics_site_day WHERE site_id = 'hub-early'")
            conn.execute("DELETE FROM sites WHERE id = 'hub-early'")


def test_the_inventory_used_min_s_sets_what_counts_as_used(
    api_dsn: str, keys: Keys, hand_case: None, start_api: Callable[..., ApiServer]
) -> None:
    # 10 min make a desk used: h-2's 09:00-09:10 now counts beside h-1 (10 min 1 s would not).
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO organisation (name, used_min_s) VALUES ('Region', 600)")
    try:
        server = start_api(api_settings(), api_dsn, clock=clock_at(NOW))
        with server.client(keys.hub_manager) as client:
            week = client.get(f"/hubs/{HUB}/state").json()["week"]
        today = week["days"][2]
        assert (today["source"], today["desks_used"], week["used_min_s"]) == ("live", 2, 600)
        with psycopg.connect(api_dsn, autocommit=True) as conn:
            conn.execute("UPDATE organisation SET used_min_s = 601")
        server = start_api(api_settings(), api_dsn, clock=clock_at(NOW))
        with server.client(keys.hub_manager) as client:
            assert client.get(f"/hubs/{HUB}/state").json()["week"]["days"][2]["desks_used"] == 1
    finally:
        with psycopg.connect(api_dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM organisation")


def test_the_week_is_in_the_openapi_schema_with_its_field_docs(api: ApiServer) -> None:
    with api.client() as client:
        schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    state = components["HubState"]["properties"]
    assert state["week"]["$ref"] == "#/components/schemas/HubWeek"
    for name in ("HubWeek", "WeekDay", "UpcomingBookings"):
        fields = components[name]["properties"]
        undocumented = [f for f in fields if f not in ("date",) and "description" not in fields[f]]
        assert not undocumented, (name, undocumented)
    assert components["WeekDay"]["properties"]["source"]["enum"] == [
        "rollup", "live", "not_measured", "future",
    ]  # fmt: skip


def test_community_names_no_day_it_cannot_stand_behind() -> None:
    from hubsense.analytics.decision import SiteDay
    from hubsense.api.hub_week import community

    from hubsense.inventory.model import Site

    site = Site.model_validate(
        {"id": HUB, "name": "n", "kind": "hub", "timezone": "Europe/Stockholm",
         "opening_hours": {"mon": ["08:00-17:00"], "tue": ["08:00-17:00"]}}
    )  # fmt: skip
    today = dt.date(2026, 3, 4)

    def day(text: str, used: int) -> SiteDay:
        return SiteDay(HUB, dt.date.fromisoformat(text), True, used, 0, 0, used)

    two_weeks = [day("2026-02-23", 2), day("2026-02-24", 1), day("2026-03-02", 1),
                 day("2026-03-03", 2)]  # fmt: skip
    # A tie (Mondays and Tuesdays both 1.5 on average) goes to the earlier day, as decisions.md.
    assert community(site, two_weeks, today) == (
        "mon", 2, "Most people come on Mondays",
    )  # fmt: skip
    # Rows older than 56 days before today do not count: one week left.
    old = [day("2026-01-05", 5), day("2026-03-02", 1)]
    assert community(site, old, today)[:2] == (None, 1)
    assert community(None, two_weeks, today)[2] == (
        "This site is not in the stored inventory, so no day can be named"
    )
    assert community(None, two_weeks, today, inventory_valid=False)[2] == (
        "The stored inventory does not validate, so no day can be named yet"
    )
