"""`hubsense report` on the hand-made organisation: exact numbers, one conclusion per site,
nothing fetched from elsewhere (see tests/dashboards/board_data.py for the data)."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import pytest
from board_data import load_raw, write_hand_csvs

pytestmark = pytest.mark.service

HUBSENSE = Path(sys.executable).parent / "hubsense"
NB = "\u202f"  # the report's thin space between a number and its unit or thousands


@pytest.fixture(scope="module")
def hand_dsn(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    inventory, events, bookings = write_hand_csvs(tmp_path_factory.mktemp("hand"))
    load_raw(db_dsn, inventory, events, bookings)
    return db_dsn


def _report(dsn: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HUBSENSE), "report", "--from", "2026-03-02", "--to", "2026-03-04",
         "--out", str(out), "--dsn", dsn, *extra],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def html(hand_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = _report(hand_dsn, out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"wrote {out}: 2 sites, ")
    return out.read_text(encoding="utf-8")


def _cells(html: str, site_name: str) -> list[str]:
    summary = html[html.index("<h2>Summary</h2>") :]  # after the Decision section's tables
    row = re.search(rf"<tr><td>{site_name}</td>(.*?)</tr>", summary)
    assert row, site_name
    return re.findall(r"<td>(.*?)</td>", row.group(1))


def test_summary_numbers(html: str) -> None:
    # kind, desks, needed, surplus, area freed, saving, occupancy, true utilisation, no-shows
    assert _cells(html, "Office A") == [
        "office", "4", "2", "2", f"50{NB}m²", f"2{NB}000", f"10{NB}%", f"50{NB}%", f"50{NB}%",
    ]  # fmt: skip
    none = "\u2013"  # the report's "no value"
    assert _cells(html, "Hub B") == ["hub", "2", "2", "0", none, none, f"11{NB}%", none, none]
    assert "<tr><th>All sites</th><th></th><th>6</th><th>4</th><th>2</th>" in html


def test_conclusion_per_site(html: str) -> None:
    office = (
        "From 2 March 2026 to 3 March 2026, Office A was open on 2 days. At the busiest moment "
        f"2 of its 4 desks were in use at the same time; on 95{NB}% of the open days no more "
        f"than 2 were. 2 desks would therefore be enough: 2 fewer than today (50{NB}% of the "
        f"desks), which frees about 50{NB}m² and about 2{NB}000 a month (24{NB}000 a year) "
        "in desk costs. Of 4 "
        f"bookings, 2 were no-shows (50{NB}%), and booked desks were really used 50{NB}% of the "
        "booked time."
    )
    hub = (
        "From 2 March 2026 to 3 March 2026, Hub B was open on 2 days. At the busiest moment 2 of "
        f"its 2 desks were in use at the same time; on 95{NB}% of the open days no more than 2 "
        "were. On busy days every desk was needed, so the site should keep its current desks. "
        "People worked there together (two or more at once) on 1 of the 2 open days, "
        f"1.0{NB}h in all."
    )
    conclusions = re.findall(r'<p class="conclusion">(.*?)</p>', html)
    assert conclusions == [office, hub]


def test_decision_without_the_inventory_fields_says_not_set(html: str) -> None:
    """The hand inventory sets none of the decision fields: each says what to set, never 0."""
    section = html[html.index('<section id="decision">') : html.index("<h2>Summary</h2>")]
    text = re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", "", section))
    assert "Main office: not set (set main_office in the inventory), so no area" in text
    assert "Currency: not set (set currency in the inventory)." in text
    assert "Day-pass price: not set (set day_pass_price in the inventory)" in text
    assert "commute_km): Hub B not set; set commute_km for hub-b." in text
    row = re.search(r"<tr><td>Hub B</td>(.*?)</tr>", section)
    assert row
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    not_set = "not set (set <code>cost_per_desk_month</code> in the inventory)"
    assert cells[:4] == [
        "2",
        not_set,
        not_set,
        "not set (set <code>day_pass_price</code> in the inventory)",
    ]
    # Commute: no distance anywhere, so not set rather than 0 km.
    assert "<tr><td>2026-03</td><td>not set</td><td>not set</td><td>no data</td>" in section


def test_key_figures_and_hub_section(html: str) -> None:
    office = html[
        html.index('<section id="site-office-a">') : html.index('<section id="site-hub-b">')
    ]
    assert f"<b>25{NB}m²</b><span>area per desk</span>" in office
    assert "<b>2 / 4</b><span>no-shows / bookings</span>" in office
    hubs = html[html.index('<section id="hubs">') :]
    assert (
        f"<tr><td>Hub B</td><td>2</td><td>1</td><td>1.0{NB}h</td><td>2</td><td>11{NB}%</td></tr>"
        in hubs
    )


def test_self_contained(html: str) -> None:
    # Base64 may hold "//"; what matters is the markup around the embedded images.
    lowered = re.sub(r"data:image/png;base64,[a-z0-9+/=]+", "data:", html.lower())
    for needle in ("http:", "https:", "//", "<script", "<link", "@import", "url(", "<iframe"):
        assert needle not in lowered, needle
    sources = re.findall(r'src="([^"]*)"', html)
    # overview + 2 sites x (peaks, utilisation, day profile) + hubs' co-presence
    assert len(sources) == 8
    for source in sources:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix) :])[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_site_only(hand_dsn: str, tmp_path: Path) -> None:
    result = _report(hand_dsn, tmp_path / "hub.html", "--site", "hub-b")
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "hub.html").read_text(encoding="utf-8")
    assert "Hub B" in page and "Office A" not in page
    assert len(re.findall(r'<p class="conclusion">', page)) == 1


def test_percentile_option(hand_dsn: str, tmp_path: Path) -> None:
    # Office A's open-day peaks are [2, 1]: the 50th percentile is the 1st, so 1 desk.
    result = _report(hand_dsn, tmp_path / "p50.html", "--percentile", "50", "--site", "office-a")
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "p50.html").read_text(encoding="utf-8")
    assert _cells(page, "Office A")[:5] == ["office", "4", "1", "3", f"75{NB}m²"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--site", "nope"), "hubsense: error: --site nope: no such site in the database"),
    ],
)
def test_bad_site(hand_dsn: str, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = _report(hand_dsn, tmp_path / "x.html", *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == message
    assert not (tmp_path / "x.html").exists()


def test_bad_period(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(HUBSENSE), "report", "--from", "2026-03-04", "--to", "2026-03-02",
         "--out", str(tmp_path / "x.html"), "--dsn", "postgresql://nobody@127.0.0.1:9/x"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "hubsense: error: --to 2026-03-02: must be after --from 2026-03-04"
    )


def test_out_into_a_missing_folder_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "no-such-dir" / "report.html"
    result = _report("postgresql://unused@127.0.0.1:1/none", out)
    assert result.returncode == 2
    assert result.stderr == (f"hubsense: error: --out {out}: folder {out.parent} does not exist\n")
    assert not out.parent.exists()
