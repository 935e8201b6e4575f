"""Fixtures of the API tests (helpers live in api_helpers.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from api_helpers import HUB, ApiServer, Keys, api_settings, insert_inventory
from hubsense.api.keys import Role, create_key
from support.ingest_runs import IngestThread, ingest_settings

from hubsense.clock import Clock, wall_clock
from hubsense.settings import Settings


@pytest.fixture(scope="module")
def api_dsn(db_dsn: str) -> str:
    insert_inventory(db_dsn)
    return db_dsn


@pytest.fixture(scope="module")
def keys(api_dsn: str) -> Keys:
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        return Keys(
            facilities=create_key(conn, Role.FACILITIES, name="fm").key,
            hub_manager=create_key(conn, Role.HUB_MANAGER, (HUB,), name="hm").key,
            booking_tool=create_key(conn, Role.BOOKING_TOOL, name="tool").key,
        )


@pytest.fixture(scope="module")
def api(api_dsn: str, keys: Keys) -> Iterator[ApiServer]:
    server = ApiServer(api_settings(), api_dsn, None, watcher=False)
    yield server
    server.close()


@pytest.fixture
def start_api() -> Iterator[Callable[..., ApiServer]]:
    started: list[ApiServer] = []

    def factory(
        settings: Settings,
        dsn: str,
        mqtt_url: str | None = None,
        watcher: bool = False,
        clock: Clock = wall_clock,
    ) -> ApiServer:
        server = ApiServer(settings, dsn, mqtt_url, watcher, clock)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.close()


@pytest.fixture
def ingest(mqtt_broker: Any, api_dsn: str) -> Iterator[IngestThread]:
    runner = IngestThread(ingest_settings("api"), api_dsn, mqtt_broker.url)
    runner.wait_ready(30)
    yield runner
    runner.close()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install chromium chromium-driver (scripts/setup)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
