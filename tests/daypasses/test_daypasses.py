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
