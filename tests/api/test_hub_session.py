"""Hub page sessions, the weaker-key rule and the public view's opening hours, over real HTTP.

A manager signs in with the key in a header or a form body and gets an HttpOnly,
SameSite=Strict cookie scoped to /hubs; the key never travels in a URL, and a `?key=`
grants nothing. Attacked as an outsider would: another site's cookie, a forged one, an
expired one, one signed out or of a revoked key all see the public view and no more.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from api_helpers import HUB, SITE, ApiServer, Keys, api_settings
from hubsense.api import session
from hubsense.api.keys import Role, create_key, revoke_key
from support.database import insert_node

from hubsense.settings import ApiSettings

pytestmark = pytest.mark.service

NIGHT = "hub-night"  # open today, but not now
SHUT = "hub-shut"  # closed today (a closed date)
ZONE = ZoneInfo("Europe/Stockholm")


def _hours_not_now() -> list[str]:
    hour = dt.datetime.now(ZONE).hour
    return [f"{hour + 1:02d}:00-24:00"] if hour < 22 else ["00:00-01:00"]


@pytest.fixture(scope="module")
def closed_sites(api_dsn: str) -> None:
    today = dt.datetime.now(ZONE).date()
    every = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        for site, hours, closed in (
            (NIGHT, {day: _hours_not_now() for day in every}, []),
            (SHUT, {day: ["00:00-24:00"] for day in every}, [today, today + dt.timedelta(1)]),
        ):
            conn.execute(
                """INSERT INTO sites (id, name, kind, timezone, opening_hours, closed_dates)
                   VALUES (%s, %s, 'hub', 'Europe/Stockholm', %s, %s)""",
                (site, site, json.dumps(hours), closed),
            )
            insert_node(conn, site, f"pi-{site}", {f"{site}-1": "room"})


@contextlib.contextmanager
def signed_in(api: ApiServer, key: str) -> Iterator[httpx.Client]:
    """A browser-like client holding the session cookie of `key` (and not the key)."""
    with httpx.Client(base_url=api.url, timeout=30) as client:
        answer = client.post("/hubs/session", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text
        yield client


def first_state(client: httpx.Client, path: str) -> dict[str, Any]:
    with client.stream("GET", path) as response:
        assert response.status_code == 200, response.read()
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "state":
                return dict(json.loads(line[6:]))
    raise AssertionError("the stream ended without a state")


def test_sign_in_sets_a_strict_cookie_that_shows_the_desks(api: ApiServer, keys: Keys) -> None:
    with httpx.Client(base_url=api.url, timeout=30) as client:
        answer = client.post(
            "/hubs/session", headers={"Authorization": f"Bearer {keys.hub_manager}"}
        )
        assert answer.status_code == 200
        body = answer.json()
        assert body["signed_in"] and body["role"] == "hub_manager" and body["sites"] == [HUB]
        cookie = answer.headers["set-cookie"]
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "path", "max-age", "samesite"} <= attributes
        assert "samesite=strict" in cookie.lower() and "path=/hubs" in cookie.lower()
        assert f"max-age={session.SESSION_S}" in cookie.lower()
        assert "secure" not in attributes  # plain http here; over https it is Secure
        secret = keys.hub_manager.split("_", 2)[2]
        assert secret not in cookie and keys.hub_manager not in answer.text
        assert client.get("/hubs/session").json()["signed_in"] is True
        state = client.get(f"/hubs/{HUB}/state").json()
        assert state["view"] == "desks" and len(state["desks"]) == 3
        assert first_state(client, f"/hubs/{HUB}/events")["view"] == "desks"
        # The cookie is the hub pages' only: the JSON API still wants a Bearer key.
        assert client.get("/v1/sites").status_code == 401
    with api.client(keys.hub_manager) as bearer:
        assert bearer.get(f"/hubs/{HUB}/state").json()["view"] == "desks"
        assert bearer.get("/v1/sites").status_code == 200


def test_cookie_is_secure_over_https(api: ApiServer, keys: Keys) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1: what a TLS proxy in front sends.
    answer = httpx.post(
        f"{api.url}/hubs/session",
        headers={"X-API-Key": keys.facilities, "X-Forwarded-Proto": "https"},
        timeout=30,
    )
    assert answer.status_code == 200
    assert "secure" in {p.strip().lower() for p in answer.headers["set-cookie"].split(";")}


def test_the_page_form_signs_in_and_out(api: ApiServer, keys: Keys) -> None:
    form = {"site": HUB, "key": keys.facilities}
    with httpx.Client(base_url=api.url, timeout=30) as client:
        answer = client.post("/hubs/session", data=form)
        assert answer.status_code == 303 and answer.headers["location"] == f"/hubs/{HUB}"
        assert client.get(f"/hubs/{HUB}/state").json()["view"] == "desks"
        token = client.cookies[session.COOKIE]
        out = client.post("/hubs/session/end", data={"site": HUB})
        assert out.status_code == 303 and session.COOKIE not in client.cookies
        assert client.get(f"/hubs/{HUB}/state").json()["view"] == "counts"
    # The signed-out cookie, replayed from a copy, is worth nothing either.
    replay = httpx.get(
        f"{api.url}/hubs/{HUB}/state", cookies={session.COOKIE: token}, timeout=30
    ).json()
    assert replay["view"] == "counts" and replay["desks"] is None

    wrong = httpx.post(f"{api.url}/hubs/session", data={"site": HUB, "key": "hsk_nope"}, timeout=30)
    assert wrong.status_code == 303 and wrong.headers["location"] == f"/hubs/{HUB}#signin-failed"
    assert "set-cookie" not in wrong.headers
    tool = httpx.post(
        f"{api.url}/hubs/session", data={"site": HUB, "key": keys.booking_tool}, timeout=30
    )
    assert tool.headers["location"] == f"/hubs/{HUB}#signin-refused"
    assert "set-cookie" not in tool.headers
    bad = httpx.post(
        f"{api.url}/hubs/session", headers={"Authorization": "Bearer hsk_nope"}, timeout=30
    )
    assert bad.status_code == 401 and bad.json() == {"detail": "invalid or revoked API key"}


def test_sign_in_from_another_origin_is_refused(api: ApiServer, keys: Keys) -> None:
    answer = httpx.post(
        f"{api.url}/hubs/session",
        data={"site": HUB, "key": keys.facilities},
        headers={"Origin": "https://evil.example"},
        timeout=30,
    )
    assert answer.status_code == 403 and "set-cookie" not in answer.headers
    assert answer.json() == {"detail": "sign in from this server's own hub page"}
    # What a browser sends for a form posted from another site's page.
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
        answer = httpx.post(
            f"{api.url}/hubs/session",
            data={"site": HUB, "key": keys.facilities},
            headers=headers,
            timeout=30,
        )
        assert answer.status_code == 403 and "set-cookie" not in answer.headers, headers


def _cookie_state(api: ApiServer, site: str, token: str) -> dict[str, Any]:
    answer = httpx.get(f"{api.url}/hubs/{site}/state", cookies={session.COOKIE: token}, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _secret_hash(dsn: str, key_id: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT secret_hash FROM api_keys WHERE key_id = %s", (key_id,))
        return str(row.fetchone()[0])  # type: ignore[index]


def test_outsider_cookies_see_only_the_public_view(
    api: ApiServer, api_dsn: str, keys: Keys
) -> None:
    manager_id = keys.hub_manager.split("_")[1]
    facilities_id = keys.facilities.split("_")[1]
    with signed_in(api, keys.hub_manager) as client:
        token = client.cookies[session.COOKIE]
        # Another site's cookie: the public counts of SITE, not its desks and not a 403.
        other = client.get(f"/hubs/{SITE}/state")
        assert other.status_code == 200 and other.json()["view"] == "counts"
        assert first_state(client, f"/hubs/{SITE}/events")["view"] == "counts"
    assert _cookie_state(api, HUB, token)["view"] == "desks"
    _, key_id, expires, nonce, signature = token.split(".")
    now = time.time()
    forged = [
        # The manager's signature on a facilities key id, a later expiry, garbage.
        f"v1.{facilities_id}.{expires}.{nonce}.{signature}",
        f"v1.{key_id}.{int(expires) + 3600}.{nonce}.{signature}",
        f"v1.{key_id}.{expires}.{nonce}.{'A' * len(signature)}",
        "v1.x.y.z.w",
        keys.facilities,  # a key is not a cookie
        # Correctly signed, but expired a second ago, or longer-lived than any session.
        session.issue(manager_id, _secret_hash(api_dsn, manager_id), now - session.SESSION_S - 1),
        session.issue(manager_id, _secret_hash(api_dsn, manager_id), now, 30 * 86400),
    ]
    for fake in forged:
        state = _cookie_state(api, HUB, fake)
        assert state["view"] == "counts" and state["desks"] is None, fake


def test_revoking_the_key_ends_its_sessions_and_open_streams(api: ApiServer, api_dsn: str) -> None:
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        new = create_key(conn, Role.HUB_MANAGER, (HUB,), name="leaving")
    with signed_in(api, new.key) as client:
        assert client.get(f"/hubs/{HUB}/state").json()["view"] == "desks"
        with client.stream("GET", f"/hubs/{HUB}/events") as stream:
            lines = stream.iter_lines()
            assert any(line.startswith("event: state") for line in lines)
            with psycopg.connect(api_dsn, autocommit=True) as conn:
                assert revoke_key(conn, new.key_id)
            revoked_at = time.monotonic()
            for _ in lines:  # the server ends the stream at its next check
                assert time.monotonic() - revoked_at < 20, "the stream outlived the key"
            ended_s = time.monotonic() - revoked_at
        print(f"stream_ended_after_revoke_s={ended_s:.1f}")
        assert client.get(f"/hubs/{HUB}/state").json()["view"] == "counts"
        assert client.get("/hubs/session").json() == {"signed_in": False}


def test_a_key_in_the_url_grants_nothing_and_is_not_logged(
    api: ApiServer, keys: Keys, capfd: pytest.CaptureFixture[str]
) -> None:
    with httpx.Client(base_url=api.url, timeout=30) as client:
        state = client.get(f"/hubs/{HUB}/state", params={"key": keys.facilities}).json()
        assert state["view"] == "counts" and state["desks"] is None
        assert first_state(client, f"/hubs/{HUB}/events?key={keys.facilities}")["view"] == "counts"
        page = client.get(f"/hubs/{HUB}", params={"key": keys.facilities})
        assert page.status_code == 303 and page.headers["location"] == f"/hubs/{HUB}#key-in-link"
        assert session.COOKIE not in client.cookies
    out, err = capfd.readouterr()
    assert keys.facilities not in out + err


@pytest.mark.parametrize("role", ["hub_manager of another site", "booking_tool"])
def test_a_weaker_key_sees_what_no_key_sees(api: ApiServer, keys: Keys, role: str) -> None:
    key, site = (keys.hub_manager, SITE) if role.startswith("hub") else (keys.booking_tool, HUB)
    with api.client() as anonymous, api.client(key) as weaker:
        public = anonymous.get(f"/hubs/{site}/state")
        answer = weaker.get(f"/hubs/{site}/state")
        assert public.status_code == answer.status_code == 200
        assert answer.json()["view"] == public.json()["view"] == "counts"
        assert answer.json()["counts"] == public.json()["counts"]
        assert first_state(weaker, f"/hubs/{site}/events")["view"] == "counts"
        assert weaker.get(f"/hubs/{site}").status_code == 200


@pytest.fixture
def desks_public(start_api: Callable[..., ApiServer], api_dsn: str) -> Iterator[ApiServer]:
    yield start_api(api_settings(api=ApiSettings(hub_public="desks", hub_poll_s=0.2)), api_dsn)


def test_a_weaker_key_sees_public_desks_too(desks_public: ApiServer, keys: Keys) -> None:
    with desks_public.client(keys.hub_manager) as weaker:
        state = weaker.get(f"/hubs/{SITE}/state").json()
    assert state["view"] == "desks" and len(state["desks"]) == 3


def test_public_off_needs_a_key_and_a_weaker_key_is_refused_alike(
    start_api: Callable[..., ApiServer], api_dsn: str, keys: Keys
) -> None:
    server = start_api(api_settings(api=ApiSettings(hub_public="off")), api_dsn)
    with server.client() as anonymous, server.client(keys.hub_manager) as weaker:
        assert anonymous.get(f"/hubs/{SITE}/state").status_code == 401
        assert weaker.get(f"/hubs/{SITE}/state").status_code == 403
        assert weaker.get(f"/hubs/{HUB}/state").json()["view"] == "desks"
    with signed_in(server, keys.hub_manager) as client:
        assert first_state(client, f"/hubs/{HUB}/events")["view"] == "desks"


@pytest.mark.parametrize("site", [NIGHT, SHUT])
def test_outside_opening_hours_the_public_view_is_closed(
    api: ApiServer, api_dsn: str, keys: Keys, closed_sites: None, site: str
) -> None:
    with api.client() as anonymous:
        state = anonymous.get(f"/hubs/{site}/state").json()
        assert state["view"] == "closed" and state["counts"] is None and state["desks"] is None
        assert state["today"]["open_now"] is False
        streamed = first_state(anonymous, f"/hubs/{site}/events")
        assert streamed["view"] == "closed" and streamed["counts"] is None
    # A key of another site sees no more than anyone; facilities and the site's manager see all.
    with api.client(keys.hub_manager) as weaker:
        assert weaker.get(f"/hubs/{site}/state").json()["view"] == "closed"
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        own = create_key(conn, Role.HUB_MANAGER, (site,), name=f"{site} manager").key
    for key in (keys.facilities, own):
        with signed_in(api, key) as client:
            state = client.get(f"/hubs/{site}/state").json()
            assert state["view"] == "desks" and state["counts"]["total"] == 1
            assert first_state(client, f"/hubs/{site}/events")["view"] == "desks"


def test_public_open_follows_the_hours_to_the_second() -> None:
    from hubsense.api.feed import HubSnapshot
    from hubsense.api.hub import public_open
    from hubsense.api.today import Today

    day = dt.date(2026, 3, 2)  # a Monday
    today = Today(day, True, ["08:00-12:00", "13:00-17:00"], True, 0, 0, None)
    snapshot = HubSnapshot(HUB, "hub", "Europe/Stockholm", dt.datetime.now(dt.UTC), [], today)

    def at(text: str) -> dt.datetime:
        return dt.datetime.fromisoformat(f"2026-03-02T{text}+01:00")

    for moment, open_ in (
        ("07:59:59", False),
        ("08:00:00", True),
        ("12:00:00", False),  # lunch: spans are half-open
        ("13:00:00", True),
        ("16:59:59", True),
        ("17:00:00", False),
        ("23:30:00", False),
    ):
        assert public_open(snapshot, at(moment)) is open_, moment
    # Past midnight the summary still names yesterday: closed until a fresh one comes.
    assert not public_open(snapshot, dt.datetime.fromisoformat("2026-03-03T09:00:00+01:00"))
    shut = HubSnapshot(
        HUB, "hub", "Europe/Stockholm", snapshot.at, [], Today(day, False, [], False, 0, 0, None)
    )
    assert not public_open(shut, at("09:00:00"))


@pytest.mark.slow
def test_the_closed_page_in_chromium(browser: Any, api: ApiServer, closed_sites: None) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        page.goto(f"{api.url}/hubs/{NIGHT}")
        expect(page.locator("#message")).to_have_text(
            "Closed now: desk counts are shown during opening hours.", timeout=15_000
        )
        expect(page.locator("#hours")).to_contain_text("Closed now")
        for status in ("free", "occupied", "booked", "unknown"):
            assert page.text_content(f"#n-{status}") == "\u2013"
        assert page.locator("li[data-desk]").count() == 0 and page.is_visible("#signin")
    finally:
        page.close()


PAGES = ["/", "/hubs", f"/hubs/{SITE}", "/hubs/static/hub.js", "/docs", "/redoc", "/healthz"]


def _status(client: httpx.Client, path: str) -> int:
    with client.stream("GET", path, params={"from": "2026-03-02", "to": "2026-03-03"}) as answer:
        return answer.status_code  # an event stream is not read: its status says enough


def test_no_route_gives_a_weaker_key_less_than_no_key(api: ApiServer, keys: Keys) -> None:
    """Every GET the API has, the public pages and the event stream: whatever anyone gets
    without a key, another site's manager key and a booking tool key get as well."""
    with api.client() as anonymous:
        document = anonymous.get("/openapi.json").json()
        paths = [path for path, item in document["paths"].items() if "get" in item]
        paths = [p.replace("{site}", SITE).replace("{booking_id}", "nope") for p in paths]
        paths += [*PAGES, f"/hubs/{SITE}/events"]
        public = {path: _status(anonymous, path) for path in paths}
    assert public[f"/hubs/{SITE}/state"] == public[f"/hubs/{SITE}/events"] == 200
    for key in (keys.hub_manager, keys.booking_tool):
        with api.client(key) as weaker:
            for path, status in public.items():
                if status < 400:
                    assert _status(weaker, path) == status, path


def test_open_streams_do_not_hold_database_connections(api: ApiServer, keys: Keys) -> None:
    """More signed-in pages than the pool has connections (POOL_MAX): the API still answers."""
    from hubsense.api.app import POOL_MAX

    with contextlib.ExitStack() as streams, signed_in(api, keys.hub_manager) as client:
        for _ in range(POOL_MAX + 4):
            stream = streams.enter_context(client.stream("GET", f"/hubs/{HUB}/events"))
            assert stream.status_code == 200
            assert any(line.startswith("event: state") for line in stream.iter_lines())
        started = time.monotonic()
        state = client.get(f"/hubs/{HUB}/state", timeout=10)
        assert state.status_code == 200 and state.json()["view"] == "desks"
        assert time.monotonic() - started < 5
