"""`hubsense daypasses import`: idempotent by pass_id, all or nothing, file:line: field errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hubsense.db.connect import connect

ROOT = Path(__file__).resolve().parents[2]
HUBSENSE = str(Path(sys.executable).parent / "hubsense")
EXAMPLE = ROOT / "firmware-config" / "examples" / "inventory.yaml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("HUBSENSE_DB__DSN", None)
    return subprocess.run(
        [HUBSENSE, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


@pytest.mark.service
def test_import_is_idempotent_and_refuses_bad_rows(db_dsn: str, tmp_path: Path) -> None:
    assert run("inventory", "apply", str(EXAMPLE), "--dsn", db_dsn).returncode == 0
    good = tmp_path / "passes.csv"
    good.write_text(
        "pass_id,site,date\n"
        "p1,cowork-sveg,2026-03-02\n"
        "p2,cowork-sveg,2026-03-03\n"
        "p3,cowork-stromsund,2026-03-03\n"
    )
    first = run("daypasses", "import", str(good), "--dsn", db_dsn)
    assert (first.returncode, first.stdout) == (0, "day passes: 3 added, 0 already there\n")
    again = run("daypasses", "import", str(good), "--dsn", db_dsn, "--json")
    assert (again.returncode, again.stdout) == (0, '{"added": 0, "replaced": 3}\n')
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "pass_id,site,date\n"
        "p4,cowork-sveg,2026-03-04\n"
        "p5,hub-are,2026-03-04\n"
        "p6,nowhere,2026-03-04\n"
        "p7,cowork-sveg,4 March\n"
    )
    refused = run("daypasses", "import", str(bad), "--dsn", db_dsn)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert f"{bad}:3: site: 'hub-are' is a hub, not a coworking site" in refused.stderr
    assert f"{bad}:4: site: 'nowhere' is not a site of the inventory" in refused.stderr
    assert f"{bad}:5: date: '4 March' is not a date (YYYY-MM-DD)" in refused.stderr
    named = tmp_path / "named.csv"
    named.write_text("pass_id,site,date,person\np8,cowork-sveg,2026-03-04,Anna\n")
    refused = run("daypasses", "import", str(named), "--dsn", db_dsn)
    assert refused.returncode != 0
    assert f"{named}:1: header: expected the columns pass_id,site,date" in refused.stderr
    with connect(db_dsn) as conn:
        # Nothing of the refused files was written (p4 was valid, but its file was not).
        rows = conn.execute("SELECT pass_id, site_id FROM day_passes ORDER BY pass_id").fetchall()
    assert rows == [("p1", "cowork-sveg"), ("p2", "cowork-sveg"), ("p3", "cowork-stromsund")]


@pytest.mark.service
def test_decision_cli_reads_rollups_and_passes(db_dsn: str, tmp_path: Path) -> None:
    assert run("inventory", "apply", str(EXAMPLE), "--dsn", db_dsn).returncode == 0
    with connect(db_dsn) as conn:
        # Two open days at Brunflo (15 km), one person each day, alone: 2 desk-days used.
        for day in ("2026-03-02", "2026-03-03"):
            conn.execute(
                "INSERT INTO analytics_site_day (site_id, day, open, peak, copresence_s, alone_s,"
                " desks_used) VALUES ('hub-brunflo', %s, true, 1, 0, 28800, 1)",
                (day,),
            )
            # The sensors saw one desk for 9 h of the day: the hub is measured.
            conn.execute(
                "INSERT INTO analytics_desk_day (site_id, desk_id, day, bucket_start, observed_s,"
                " occupied_s, booked_s, booked_observed_s, booked_occupied_s, unbooked_occupied_s)"
                " SELECT 'hub-brunflo', min(id), %s, (%s::timestamp) AT TIME ZONE"
                " 'Europe/Stockholm', 32400, 28800, 0, 0, 0, 28800"
                " FROM desks WHERE site_id = 'hub-brunflo'",
                (day, day),
            )
        conn.execute("TRUNCATE day_passes")  # the database is the module's: start afresh
        conn.execute(
            "INSERT INTO day_passes (pass_id, site_id, day) "
            "VALUES ('x', 'cowork-sveg', '2026-03-02')"
        )
    done = run("analytics", "decision", "--from", "2026-03-02", "--to", "2026-03-09", "--json",
               "--dsn", db_dsn)  # fmt: skip
    assert done.returncode == 0, done.stderr
    import json

    out = json.loads(done.stdout)
    assert (out["currency"], out["day_passes_bought"], out["day_pass_budget_month"]) == (
        "SEK", 1, 20000,
    )  # fmt: skip
    # No rollups of the main office in the period: no savings presented, and why.
    assert out["freed_passes_per_month"] is None
    assert out["not_measured"] == "no sensor data in the period at the main office"
    sites = {s["site"]: s for s in out["sites"]}
    hq = sites["ostersund-hq"]
    assert (hq["desk_days_used"], hq["not_measured"]) == (None, "no sensor data in the period")
    assert sites["hub-are"]["desk_days_used"] is None  # no data there either: not "nobody"
    brunflo = sites["hub-brunflo"]
    # 2 desk-days x 2 x 15 km = 60 km; x 0.12 = 7.2 kg. Cost 1500 x 12 desks x 7/30 = 4200 SEK
    # as day passes 2 x 250 = 500 SEK: cheaper as day passes. Both days alone: week W10 lone.
    assert brunflo["desk_days_used"] == 2 and brunflo["commute_km_avoided"] == 60
    assert brunflo["cost"] == 4200
    assert abs(brunflo["co2_kg_avoided"] - 7.2) < 1e-9
    assert brunflo["day_pass_equivalent"] == 500 and brunflo["cheaper_as_day_passes"] is True
    assert brunflo["lone_weeks"] == ["2026-W10"] and brunflo["community_day"] == "mon"
    # Seen 2 x 32,400 s of (5 weekdays x 07:00-18:00 + Saturday 09:00-13:00) x 12 desks.
    share = 64_800 / ((5 * 39_600 + 4 * 3600) * 12)
    assert (brunflo["not_measured"], brunflo["observed_share"]) == (None, share)
    # Sveg: 1 pass x 2 x 195 km.
    assert sites["cowork-sveg"]["commute_km_avoided"] == 390
    table = run("analytics", "decision", "--from", "2026-03-02", "--to", "2026-03-09",
                "--dsn", db_dsn)  # fmt: skip
    assert table.returncode == 0 and "0.12 kg/km (set in the inventory)" in table.stdout
    assert "freed office area: not measured (no sensor data in the period at the main office)" in (
        table.stdout
    )
    assert "not measured (no sensor data in the period): ostersund-hq, " in table.stdout
    assert "data quality: the sensors saw " in table.stdout
