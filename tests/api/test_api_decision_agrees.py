"""The report, `hubsense analytics decision --json` and `GET /v1/decision` give the same
decision figures for one period, on the hand-made organisation (tests/dashboards/board_data.py)
whose Hub B saw nothing in it: the office has sensor data, the hub has open days and no
observed second, so its use figures are "not measured" (null) everywhere, never 0."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from api_helpers import ApiServer, api_settings
from hubsense.api.keys import Role, create_key

sys.path.insert(0, str(Path(__file__).parents[1] / "dashboards"))
from board_data import (
    DECISION_PASSES,
    HAND_FROM,
    HAND_TO,
    decision_inventory,
    fill_rollups,
    load_raw,
    write_hand_csvs,
)

pytestmark = pytest.mark.service

HUBSENSE = Path(sys.executable).parent / "hubsense"
NB = "\u202f"
USE_FIELDS = ("desk_days_used", "cost_per_used_desk_day", "day_pass_equivalent",
              "cheaper_as_day_passes", "commute_km_avoided", "co2_kg_avoided")  # fmt: skip
PERIOD = {"from": HAND_FROM.isoformat(), "to": HAND_TO.isoformat()}


@pytest.fixture(scope="module")
def hand_dsn(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("hand")
    inventory, events, bookings = write_hand_csvs(work)
    inventory.write_text(decision_inventory(), encoding="utf-8")
    load_raw(db_dsn, inventory, events, bookings)
    fill_rollups(db_dsn, inventory, events, bookings, HAND_FROM, HAND_TO, work)
    with psycopg.connect(db_dsn) as conn:
        conn.execute(DECISION_PASSES)
        # Hub B's sensors saw nothing in the period: no desk-day rows (migration 0013 writes
        # none where nothing was observed), and its days as the analytics then store them.
        conn.execute("DELETE FROM analytics_desk_day WHERE site_id = 'hub-b'")
        conn.execute(
            "UPDATE analytics_site_day SET peak = 0, copresence_s = 0, alone_s = 0, "
            "desks_used = 0 WHERE site_id = 'hub-b'"
        )
    return db_dsn


@pytest.fixture(scope="module")
def api_out(hand_dsn: str) -> Iterator[dict[str, Any]]:
    with psycopg.connect(hand_dsn, autocommit=True) as conn:
        key = create_key(conn, Role.FACILITIES, name="fm").key
    server = ApiServer(api_settings(), hand_dsn, None, watcher=False)
    try:
        with server.client(key) as client:
            got = client.get("/v1/decision", params=PERIOD)
        assert got.status_code == 200, got.text
        yield got.json()
    finally:
        server.close()


def _run(*args: str) -> str:
    result = subprocess.run(
        [str(HUBSENSE), *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_cli_and_api_agree_and_the_blind_hub_is_null(
    hand_dsn: str, api_out: dict[str, Any]
) -> None:
    cli = json.loads(_run("analytics", "decision", "--from", PERIOD["from"], "--to",
                          PERIOD["to"], "--json", "--dsn", hand_dsn))  # fmt: skip
    assert cli == api_out
    sites = {s["site"]: s for s in cli["sites"]}
    hub, office = sites["hub-b"], sites["office-a"]
    assert hub["not_measured"] == "no sensor data in the period"
    assert {f: hub[f] for f in USE_FIELDS} == dict.fromkeys(USE_FIELDS)
    assert hub["cost"] == 4500 * 2 * 2 / 30  # the desks cost what they cost
    # Office A was seen: Monday a1 + a2 (>= 30 min), Tuesday a3 -> 3 desk-days.
    assert (office["not_measured"], office["desk_days_used"]) == (None, 3)
    # Peaks [2, 1] -> 2 of 4 desks needed, 2 x 1000 / 200 = 10 passes a month.
    assert (cli["freed_passes_per_month"], cli["not_measured"]) == (10, None)
    # The commute per month: the hub's March not measured; Cowork C 3 passes x 2 x 50 km =
    # 300 km, 36 kg; a year earlier (2025-03-02 .. 2025-03-04) 1 pass x 100 km = 12 kg.
    assert hub["commute_by_month"] == [{"month": "2026-03", "commute_km_avoided": None,
        "co2_kg_avoided": None, "co2_kg_avoided_year_before": None}]  # fmt: skip
    (march,) = sites["cowork-c"]["commute_by_month"]
    assert (march["month"], march["commute_km_avoided"]) == ("2026-03", 300)
    assert round(march["co2_kg_avoided"], 9) == 36
    assert round(march["co2_kg_avoided_year_before"], 9) == 12
    assert office["commute_by_month"] == []
    table = _run("analytics", "decision", "--from", PERIOD["from"], "--to", PERIOD["to"],
                 "--dsn", hand_dsn)  # fmt: skip
    assert "commute 2026-03: 300 km avoided, 36 kg CO2; a year earlier 12 kg, +200%" in table
    assert "not measured (no sensor data in the period): hub-b" in table


def test_report_says_not_measured_for_the_same_hub(
    hand_dsn: str, api_out: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    _run("report", "--from", PERIOD["from"], "--to", PERIOD["to"], "--out", str(out),
         "--dsn", hand_dsn)  # fmt: skip
    html = out.read_text(encoding="utf-8")
    row = re.search(r"<tr><td>Hub B</td>(.*?)</tr>", html)
    assert row
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert cells[:5] == ["not measured", f"600{NB}SEK", "not measured", "not measured",
                         "no sensor data: measure before deciding"]  # fmt: skip
    assert "Commute avoided at Hub B: not measured (no sensor data in the period)" in html
    # The month's commute is Cowork C's alone, as in the API (Hub B's is null there):
    # 3 passes x 2 x 50 km = 300 km, x 0.12 = 36 kg; a year earlier 1 x 100 km = 12 kg.
    cowork = next(s for s in api_out["sites"] if s["site"] == "cowork-c")
    assert (cowork["commute_km_avoided"], round(cowork["co2_kg_avoided"], 6)) == (300, 36)
    assert (
        f"<tr><td>2026-03</td><td>300{NB}km</td><td>36{NB}kg</td><td>12{NB}kg</td>"
        f"<td>+200{NB}%</td></tr>"
    ) in html
    # Office A's figures in the report are the API's: 2 of 4 desks, 10 passes a month.
    assert "That funds 10 co-working day passes a month" in html
