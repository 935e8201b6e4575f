"""The report reads the analytics rollups when they cover the period, and the raw events
otherwise; both ways give the same report on the hand-made organisation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from board_data import HAND_FROM, HAND_TO, fill_rollups, load_raw, write_hand_csvs

pytestmark = pytest.mark.service

HUBSENSE = Path(sys.executable).parent / "hubsense"


@pytest.fixture(scope="module")
def rolled_dsn(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("hand")
    inventory, events, bookings = write_hand_csvs(work)
    load_raw(db_dsn, inventory, events, bookings)
    fill_rollups(db_dsn, inventory, events, bookings, HAND_FROM, HAND_TO, work)
    return db_dsn


def _report(dsn: str, out: Path, *extra: str) -> str:
    result = subprocess.run(
        [str(HUBSENSE), "report", "--from", "2026-03-02", "--to", "2026-03-04",
         "--out", str(out), "--dsn", dsn, *extra],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return out.read_text(encoding="utf-8")


def _sources(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="meta">\w+ · [^·]+ · ([\w-]+) · numbers ([^<]+)</p>', html))


def _without_provenance(html: str) -> str:
    html = re.sub(r" · numbers [^<]+</p>", "</p>", html)
    return re.sub(r"generated [^<]+</p>", "</p>", html)


def test_rollups_and_events_give_the_same_report(rolled_dsn: str, tmp_path: Path) -> None:
    rolled = _report(rolled_dsn, tmp_path / "rolled.html")
    computed = _report(rolled_dsn, tmp_path / "events.html", "--from-events")
    sources = _sources(rolled)
    assert list(sources) == ["office-a", "hub-b"]
    assert all(s.startswith("from the analytics rollups computed 20") for s in sources.values())
    assert set(_sources(computed).values()) == {"computed from the raw events"}
    assert _without_provenance(rolled) == _without_provenance(computed)


def test_rollups_are_what_is_read(rolled_dsn: str, tmp_path: Path) -> None:
    with psycopg.connect(rolled_dsn) as conn:
        # A hub day missing: that site's period is not covered and is computed instead.
        conn.execute(
            "DELETE FROM analytics_site_day WHERE site_id = 'hub-b' AND day = '2026-03-03'"
        )
        # Office A's Tuesday peak raised in the rollup only: desks needed becomes 3.
        conn.execute(
            "UPDATE analytics_site_day SET peak = 3"
            " WHERE site_id = 'office-a' AND day = '2026-03-03'"
        )
    html = _report(rolled_dsn, tmp_path / "r.html")
    sources = _sources(html)
    assert sources["office-a"].startswith("from the analytics rollups")
    assert sources["hub-b"] == "computed from the raw events"
    row = re.search(r"<tr><td>Office A</td>(.*?)</tr>", html)
    assert row and re.findall(r"<td>(.*?)</td>", row.group(1))[:4] == ["office", "4", "3", "1"]
    events = _report(rolled_dsn, tmp_path / "e.html", "--from-events", "--site", "office-a")
    row = re.search(r"<tr><td>Office A</td>(.*?)</tr>", events)
    assert row and re.findall(r"<td>(.*?)</td>", row.group(1))[:4] == ["office", "4", "2", "2"]
