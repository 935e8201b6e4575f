"""What a newcomer opens first, in headless Chromium with the network off: `/docs` and
`/redoc` render from the API's own files (no CDN), `/` lists every site with a link to its
hub page, `/hubs` leads there, and an unknown site is a 404 page that does not poll."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from api_helpers import HUB, SITE, ApiServer, api_settings
from conftest import CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import expect

pytestmark = [pytest.mark.service, pytest.mark.slow]

# No name resolves except the loopback address: a page needing a CDN cannot load it.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
OFFLINE_ARGS = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


@pytest.fixture(scope="module")
def offline_browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=OFFLINE_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(api_dsn: str) -> Iterator[ApiServer]:
    api = ApiServer(api_settings(), api_dsn, None, watcher=False)
    yield api
    api.close()


class OfflinePage:
    """A page whose every request leaving 127.0.0.1 is refused and recorded."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context()
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("requestfailed", lambda request: self.failed.append(request.url))

    def _route(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort("internetdisconnected")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def offline(offline_browser: Any) -> Iterator[Callable[[], OfflinePage]]:
    pages: list[OfflinePage] = []

    def factory() -> OfflinePage:
        pages.append(OfflinePage(offline_browser))
        return pages[-1]

    yield factory
    for page in pages:
        page.close()


def test_swagger_ui_renders_offline(server: ApiServer, offline: Callable[[], OfflinePage]) -> None:
    view = offline()
    view.page.goto(f"{server.url}/docs")
    view.page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "hubsense API" in (view.page.text_content(".swagger-ui .info .title") or "")
    # The operations were read from /openapi.json and listed.
    view.page.wait_for_selector('[id^="operations-sites-"]', timeout=10_000)
    assert view.outside == [] and view.failed == []


def test_redoc_renders_offline(server: ApiServer, offline: Callable[[], OfflinePage]) -> None:
    view = offline()
    view.page.goto(f"{server.url}/redoc")
    view.page.wait_for_selector(".api-info h1", timeout=20_000)
    assert (view.page.text_content(".api-info h1") or "").startswith("hubsense API")
    view.page.wait_for_selector('h2:has-text("Sites the key may see")', timeout=10_000)
    # Redoc asks for no web fonts; only its sidebar's "by Redocly" logo comes from its CDN,
    # and Redoc removes the image when that fails: the page is whole without it.
    assert set(view.outside) <= {REDOC_LOGO}, view.outside
    assert set(view.failed) <= {REDOC_LOGO}, view.failed


def test_front_page_lists_every_site_with_a_link(
    server: ApiServer, offline: Callable[[], OfflinePage]
) -> None:
    view = offline()
    view.page.goto(f"{server.url}/")
    names = view.page.locator("#sites li a").all_text_contents()
    # Offices first, then hubs, each by name.
    assert names == ["HQ place", "HUB-NORTH place"]
    assert view.page.get_attribute(f'li[data-site="{SITE}"] a', "href") == f"/hubs/{SITE}"
    assert view.page.text_content(f'li[data-site="{HUB}"] small') == "hub · Östersund · 3 desks"
    assert view.page.get_attribute('a[href="/docs"]', "href") == "/docs"
    view.page.click(f'li[data-site="{HUB}"] a')
    # The page's CSP forbids eval, so no wait_for_function with a string: a locator waits.
    expect(view.page.locator("#n-free")).not_to_have_text("\u2013", timeout=15_000)
    assert view.page.url == f"{server.url}/hubs/{HUB}"
    assert view.outside == []


def test_hubs_leads_to_the_front_page(server: ApiServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        answer = client.get("/hubs")
        assert answer.status_code == 307 and answer.headers["location"] == "/"
        assert "HUB-NORTH place" in client.get("/hubs", follow_redirects=True).text


@pytest.mark.parametrize("site", ["no-such-site", "Not_An_Id"])
def test_an_unknown_site_is_a_404_page(
    server: ApiServer, offline: Callable[[], OfflinePage], site: str
) -> None:
    view = offline()
    answer = view.page.goto(f"{server.url}/hubs/{site}")
    assert answer is not None and answer.status == 404
    assert view.page.text_content("h1") == f"No site {site}"
    assert view.page.get_attribute("#message a", "href") == "/"
    # No script: the page does not try to follow a feed that can never exist.
    assert view.page.locator("script").count() == 0
    assert answer.headers["content-type"].startswith("text/html")
