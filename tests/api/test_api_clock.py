"""The API on a simulated clock (the demo's): the hub state, its live feed and desks-now are
read at the clock's instant, not the wall's, and the hub state says the clock is simulated."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from zoneinfo import ZoneInfo

import httpx
import pytest
from api_helpers import HUB, ApiServer, Keys, api_settings
from test_api_views import insert_events

pytestmark = pytest.mark.service

# A Tuesday morning long ago: on the wall clock this desk's node is silent for years.
SIM_NOW = dt.datetime(2026, 3, 3, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
HOUR_MS = 3_600_000


def _sim_ms(offset_ms: int = 0) -> int:
    return int(SIM_NOW.timestamp() * 1000) + offset_ms


@pytest.fixture(scope="module")
def sim_events(api_dsn: str) -> None:
    insert_events(
        api_dsn,
        HUB,
        "pi-h",
        [
            (200_001, _sim_ms(-HOUR_MS), "desk", "h-1", "occupied"),
            (200_002, _sim_ms(-60_000), "alive", None, None),
            (200_003, _sim_ms(-30_000), "alive", None, None),
            # After the clock's now: what the simulated day has not reached yet.
            (200_004, _sim_ms(HOUR_MS), "desk", "h-1", "vacant"),
        ],
    )


def test_hub_state_and_desks_now_follow_the_given_clock(
    api_dsn: str,
    keys: Keys,
    sim_events: None,
    start_api: Callable[..., ApiServer],
) -> None:
    server = start_api(api_settings(), api_dsn, clock=lambda: SIM_NOW.astimezone(dt.UTC))
    with server.client(keys.facilities) as client:
        state = client.get(f"/hubs/{HUB}/state").json()
        assert state["simulated"] is True
        assert dt.datetime.fromisoformat(state["at"]) == SIM_NOW
        assert state["today"]["date"] == "2026-03-03"
        assert state["counts"]["occupied"] == 1, state
        desks = {d["desk"]: d["status"] for d in state["desks"]}
        assert desks["h-1"] == "occupied"  # the vacant event lies after the clock's now

        now = client.get(f"/v1/sites/{HUB}/occupancy").json()
        assert dt.datetime.fromisoformat(now["at"]) == SIM_NOW
        assert {d["desk"]: d["status"] for d in now["desks"]}["h-1"] == "occupied"

        with client.stream("GET", f"/hubs/{HUB}/events") as stream:
            data = next(line for line in stream.iter_lines() if line.startswith("data: "))
        pushed = json.loads(data.removeprefix("data: "))
        assert pushed["simulated"] is True and pushed["at"] == state["at"]


def test_on_the_wall_clock_the_same_rows_are_history(
    api_dsn: str, keys: Keys, sim_events: None, api: ApiServer
) -> None:
    with httpx.Client(base_url=api.url, timeout=30) as client:
        state = client.get(
            f"/hubs/{HUB}/state", headers={"Authorization": f"Bearer {keys.facilities}"}
        ).json()
    assert state["simulated"] is False
    assert dt.datetime.fromisoformat(state["at"]) > SIM_NOW + dt.timedelta(days=200)
    assert {d["desk"]: d["status"] for d in state["desks"]}["h-1"] == "unknown"
