"""The hub page end to end in headless Chromium (Debian's package, driven by Playwright):
a desk flipping to occupied over MQTT (real publish → real ingest → PostgreSQL) shows on the
open page within seconds, through the server-sent events feed; screenshots on a phone screen."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from api_helpers import HUB, ApiServer, Keys, api_settings, now_ms
from playwright.sync_api import expect
from support.database import query
from support.ingest_runs import IngestThread
from support.mqtt_clients import Publisher
from support.waiting import wait_for

pytestmark = [pytest.mark.service, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
SHOTS = Path(os.environ.get("HUBSENSE_SCREENSHOTS", tempfile.gettempdir()))


def desk(site_events: list[dict[str, Any]], seq: int, name: str, state: str, ts: int) -> None:
    site_events.append(
        {"seq": seq, "ts": ts, "type": "desk", "desk": name, "source": "pir", "state": state}
    )


def test_desk_flipping_to_occupied_appears_within_seconds(
    browser: Any,
    api_dsn: str,
    keys: Keys,
    mqtt_broker: Any,
    ingest: IngestThread,
    start_api: Callable[..., ApiServer],
) -> None:
    publisher = Publisher(mqtt_broker.url)
    try:
        t = now_ms()
        events: list[dict[str, Any]] = [{"seq": 1, "ts": t - 1000, "type": "alive"}]
        for seq, name in enumerate(("h-1", "h-2", "h-3"), start=2):
            desk(events, seq, name, "vacant", t - 1000)
        publisher.publish_events(HUB, "pi-h", events)
        wait_for(
            lambda: query(api_dsn, "SELECT count(*) FROM events WHERE node_id = 'pi-h'")[0][0] == 4,
            10,
            "ingest to store the first events",
        )
        api = start_api(api_settings(), api_dsn)
        page = browser.new_page(viewport=PHONE, device_scale_factor=2)
        page.goto(f"{api.url}/hubs/{HUB}")
        # The manager signs in on the page: the key goes in a POST body, never the URL.
        page.fill('#signin input[name="key"]', keys.hub_manager)
        page.click("#signin button")
        page.wait_for_selector('li[data-desk="h-1"][data-status="free"]', timeout=15_000)
        assert page.url == f"{api.url}/hubs/{HUB}"
        assert keys.hub_manager not in page.content()
        cookie = next(c for c in page.context.cookies() if c["name"] == "hubsense_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/hubs"
        expect(page.locator("#signed-in")).to_have_text("Signed in (hub_manager: hub-north)")
        assert page.text_content("#n-free") == "3"
        assert page.text_content("#n-occupied") == "0"
        page.wait_for_selector("#live.on", timeout=10_000)
        before = SHOTS / "hubsense-hub-before.png"
        page.screenshot(path=str(before), full_page=True)

        # Someone sits down at h-1: the node publishes, ingest stores, the page shows it.
        sent = time.monotonic()
        flip: list[dict[str, Any]] = []
        desk(flip, 5, "h-1", "occupied", now_ms())
        publisher.publish_events(HUB, "pi-h", flip)
        page.wait_for_selector('li[data-desk="h-1"][data-status="occupied"]', timeout=10_000)
        shown_after_s = time.monotonic() - sent
        assert shown_after_s < 5.0, f"the page showed the change after {shown_after_s:.1f} s"
        print(f"hub_page_latency_s={shown_after_s:.2f}")

        assert page.text_content("#n-occupied") == "1"
        assert page.text_content("#n-free") == "2"
        assert page.text_content('li[data-desk="h-1"] small') == "occupied · walk-in · room-a"
        assert page.text_content('li[data-desk="h-2"] small') == "free · room-a"
        assert page.text_content("#name") == "HUB-NORTH place"
        assert page.text_content("#hours") == "Open now · today 00:00-24:00"
        # Times are 24-hour and in the site's time zone, not the browser's (UTC here).
        local = dt.datetime.now(ZoneInfo("Europe/Stockholm"))
        updated = page.text_content("#updated") or ""
        assert updated.startswith(f"updated {local.hour:02d}:") or local.minute == 0, updated
        after = SHOTS / "hubsense-hub-after.png"
        page.screenshot(path=str(after), full_page=True)
        for shot in (before, after):
            assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # A phone screen: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        # h-2's BLE sensor goes silent: the node says unknown, and so does the page (not free).
        silent: list[dict[str, Any]] = []
        desk(silent, 6, "h-2", "unknown", now_ms())
        publisher.publish_events(HUB, "pi-h", silent)
        page.wait_for_selector('li[data-desk="h-2"][data-status="unknown"]', timeout=10_000)
        assert page.text_content("#n-unknown") == "1"
        assert page.text_content("#n-free") == "1"
        assert page.text_content('li[data-desk="h-2"] small') == "unknown · room-a"
        page.close()
    finally:
        publisher.close()


def test_public_view_shows_counts_only(
    browser: Any, api_dsn: str, start_api: Callable[..., ApiServer]
) -> None:
    api = start_api(api_settings(), api_dsn)
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(f"{api.url}/hubs/{HUB}")
        # The page's CSP forbids eval, so no wait_for_function with a string: a locator waits.
        expect(page.locator("#n-free")).not_to_have_text("\u2013", timeout=15_000)
        assert page.is_hidden("#desks-section")
        assert page.locator("li[data-desk]").count() == 0
        counts = [page.text_content(f"#n-{s}") for s in ("free", "occupied", "booked", "unknown")]
        assert sum(int(c or "0") for c in counts) == 3
        page.screenshot(path=str(SHOTS / "hubsense-hub-public.png"), full_page=True)
    finally:
        page.close()


def test_an_old_key_link_grants_nothing_and_leaves_history(
    browser: Any, api_dsn: str, keys: Keys, start_api: Callable[..., ApiServer]
) -> None:
    api = start_api(api_settings(), api_dsn)
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(f"{api.url}/hubs/{HUB}?key={keys.facilities}")
        expect(page.locator("#message")).to_contain_text("Keys in links no longer work")
        expect(page.locator("#n-free")).not_to_have_text("\u2013", timeout=15_000)
        assert page.url == f"{api.url}/hubs/{HUB}"
        assert page.locator("li[data-desk]").count() == 0
        # The sign-in form shows once /hubs/session answers, which may come after the state.
        expect(page.locator("#signin")).to_be_visible()
        # A wrong key: told so, still the public view, no cookie.
        page.fill('#signin input[name="key"]', "hsk_000000000000_wrongwrongwrongwrongwrong")
        page.click("#signin button")
        expect(page.locator("#message")).to_have_text(
            "That key was not accepted (wrong or revoked)."
        )
        assert not [c for c in page.context.cookies() if c["name"] == "hubsense_session"]
        # Signing in and out again: the desks come and go.
        page.fill('#signin input[name="key"]', keys.facilities)
        page.click("#signin button")
        page.wait_for_selector("li[data-desk]", timeout=15_000)
        page.click("#signout button")
        expect(page.locator("#signin")).to_be_visible(timeout=10_000)
        expect(page.locator("li[data-desk]")).to_have_count(0)
    finally:
        page.context.clear_cookies()
        page.close()
