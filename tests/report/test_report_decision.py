"""The report's Decision section and day profile on the hand-made organisation with the §11
inventory fields set, day passes bought and rollups computed (tests/dashboards/board_data.py):
every figure below is worked out by hand in the comments. Also a period without sensor data,
which must present no saving."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import psycopg
import pytest
from board_data import (
    DECISION_PASSES,
    HAND_FROM,
    HAND_TO,
    decision_inventory,
    fill_rollups,
    load_raw,
    write_hand_csvs,
)
from hubsense.analytics.calendar import Period
from hubsense.analytics.decision import ProfileCell
from hubsense.report.figures import site_figures

from hubsense.db.connect import connect

pytestmark = pytest.mark.service

HUBSENSE = Path(sys.executable).parent / "hubsense"
NB = "\u202f"


@pytest.fixture(scope="module")
def dsn(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("hand")
    inventory, events, bookings = write_hand_csvs(work)
    inventory.write_text(decision_inventory(), encoding="utf-8")
    load_raw(db_dsn, inventory, events, bookings)
    fill_rollups(db_dsn, inventory, events, bookings, HAND_FROM, HAND_TO, work)
    with psycopg.connect(db_dsn) as conn:
        conn.execute(DECISION_PASSES)
        conn.execute(
            """INSERT INTO node_status (node_id, site_id, online, updated_at) VALUES
               ('n-a', 'office-a', false, now()), ('n-b', 'hub-b', true, now())"""
        )
    return db_dsn


def _report(
    dsn: str, out: Path, start: str = "2026-03-02", end: str = "2026-03-04", *more: str
) -> str:
    result = subprocess.run(
        [str(HUBSENSE), "report", "--from", start, "--to", end, "--out", str(out), "--dsn", dsn,
         *more],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return out.read_text(encoding="utf-8")


def _decision(html: str) -> str:
    section = html[html.index('<section id="decision">') : html.index("<h2>Summary</h2>")]
    return re.sub(r"<[^>]+>", " ", section)  # text only, tags as spaces


def _text(html: str) -> str:
    return re.sub(r"[ \t\n]+", " ", _decision(html))


def _plain(html: str) -> str:
    section = html[html.index('<section id="decision">') : html.index("<h2>Summary</h2>")]
    return re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", "", section))


def test_decision_opens_the_report(dsn: str, tmp_path: Path) -> None:
    html = _report(dsn, tmp_path / "r.html")
    assert html.index('<section id="decision">') < html.index("<h2>Summary</h2>")
    text = _plain(html)
    # Sensors 07:55-17:05 cover the opening hours fully; n-a reports offline.
    assert (
        "Data quality: the sensors saw 100 % of the opening hours; 1 of 2 nodes offline now (n-a)."
        in text.replace(NB, " ")
    )
    # Office A: peaks [2, 1] -> 2 needed of 4; 100 m2 / 4 desks x 2; 2 x 1000 SEK.
    # Passes: 2000 / 200 = 10 a month, 120 a year; budget 5000 / 200 = 25; 3 bought in 2 days.
    assert (
        f"Give up 2 of the 4 desks at Office A (about 50{NB}m²), saving 2{NB}000{NB}SEK a month "
        f"(24{NB}000{NB}SEK a year). That funds 10 co-working day passes a month (120 a year) at "
        f"200{NB}SEK each, against a day-pass budget of 5{NB}000{NB}SEK a month (25 passes); "
        "3 day passes were bought in the period (about 45 a month)."
    ) in text


def test_hub_row_lone_week_and_community_day(dsn: str, tmp_path: Path) -> None:
    html = _report(dsn, tmp_path / "r.html")
    row = re.search(r"<tr><td>Hub B</td>(.*?)</tr>", html)
    assert row
    # Monday: b1 10-12 and b2 11-13 -> 2 desks used (>= 30 min), together 1 h < 2 h: lone.
    # Cost 4500 x 2 desks x 2/30 = 600 SEK; per used desk-day 300; as passes 2 x 200 = 400.
    assert re.findall(r"<td>(.*?)</td>", row.group(1)) == [
        "2", f"600{NB}SEK", f"300{NB}SEK", f"400{NB}SEK",
        "gather people on Mondays, keep the desks", "2026-W10", "Monday",
    ]  # fmt: skip
    assert "Lone hubs, where people came but mostly sat alone: Hub B (2026-W10)." in _text(html)


def test_commute_and_co2_against_a_year_earlier(dsn: str, tmp_path: Path) -> None:
    html = _report(dsn, tmp_path / "r.html")
    # Hub B 2 desk-days x 2 x 15 km = 60; Cowork C 3 passes x 2 x 50 = 300: 360 km, 43.2 kg.
    # A year earlier: 1 pass x 100 km x 0.12 = 12 kg; (43.2 - 12) / 12 = +260 %.
    assert (
        f"<tr><td>2026-03</td><td>360{NB}km</td><td>43{NB}kg</td><td>12{NB}kg</td>"
        f"<td>+260{NB}%</td></tr>"
    ) in html
    text = _text(html)
    assert "0.12 kg CO₂/km, set in the inventory ( co2_kg_per_km ;" in text.replace(NB, " ")
    assert f"Cowork C 50{NB}km, Hub B 15{NB}km." in text


def test_no_sensor_data_presents_no_saving(dsn: str, tmp_path: Path) -> None:
    # The week after the data: open days, nothing observed (was "desks needed 0, saving ...").
    html = _report(dsn, tmp_path / "blind.html", "2026-03-09", "2026-03-11")
    text = _text(html).replace(NB, " ")
    assert "the sensors saw 0 % of the opening hours" in text
    assert "No sensor data in this period for Office A, Hub B" in text
    assert "No area to give up at Office A is presented: the sensors saw nothing" in text
    assert "SEK a month" not in text and "funds" not in text
    hub = re.search(r"<tr><td>Hub B</td>(.*?)</tr>", html)
    assert hub
    cells = re.findall(r"<td>(.*?)</td>", hub.group(1))
    # Desk-days, cost, per desk-day, as passes, verdict: the hub's cost is known, use is not.
    assert cells[:5] == ["not measured", f"600{NB}SEK", "not measured", "not measured",
                         "no sensor data: measure before deciding"]  # fmt: skip
    assert "Commute avoided at Hub B: not measured (no sensor data in the period)" in text
    summary = html[html.index("<h2>Summary</h2>") :]
    row = re.search(r"<tr><td>Office A</td>(.*?)</tr>", summary)
    assert row
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert cells[:6] == ["office", "4", "no sensor data", "\u2013", "\u2013", "\u2013"]
    conclusion = re.search(r'<p class="conclusion">(.*?)</p>', html)
    assert conclusion and "no saving is shown" in conclusion.group(1)
    assert "a month" not in conclusion.group(1)


def test_day_profile_from_rollups_and_from_events(dsn: str) -> None:
    """Office A: Monday a1 08-12 and a2 09-10, Tuesday a3 13-15 (one open day each)."""
    from hubsense.analytics.io.db_read import load_sites

    with connect(dsn) as conn:
        sites, node_of_desk = load_sites(conn, ["office-a"])
        period = Period(HAND_FROM, HAND_TO)
        rolled = site_figures(conn, sites[0], node_of_desk, period, Fraction(95), 900)
        computed = site_figures(conn, sites[0], node_of_desk, period, Fraction(95), 900, False)
    assert rolled.source.startswith("from the analytics rollups")
    expected = {("mon", 8): 1.0, ("mon", 9): 2.0, ("mon", 10): 1.0, ("mon", 11): 1.0,
                ("tue", 13): 1.0, ("tue", 14): 1.0}  # fmt: skip
    want = [ProfileCell(w, h, expected.get((w, h), 0.0)) for w in ("mon", "tue") for h in range(24)]
    assert rolled.profile == want
    assert computed.profile == want
    assert [d.desks_used for d in computed.days] == [2, 1] == [d.desks_used for d in rolled.days]


def test_heatmap_per_site(dsn: str, tmp_path: Path) -> None:
    html = _report(dsn, tmp_path / "r.html")
    for name in ("Office A", "Hub B"):
        assert f'<img alt="Day profile of {name}" src="data:image/png;base64,' in html
    assert dt.date(2026, 3, 2).isoweekday() == 1  # the hand data's Monday


def test_decision_from_events_is_the_decision_from_rollups(dsn: str, tmp_path: Path) -> None:
    # Computed from the events, the report's own observed seconds judge the sites: both seen.
    rolled = _decision(_report(dsn, tmp_path / "r.html"))
    computed = _decision(_report(dsn, tmp_path / "e.html", "2026-03-02", "2026-03-04",
                                 "--from-events"))  # fmt: skip
    assert computed == rolled
    assert "not measured" not in computed
