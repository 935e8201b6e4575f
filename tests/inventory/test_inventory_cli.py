"""`hubsense inventory check|show|apply`, run as the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hubsense.db.connect import connect

EXAMPLE = Path(__file__).parents[2] / "firmware-config" / "examples" / "inventory.yaml"
HUBSENSE = str(Path(sys.executable).with_name("hubsense"))
EXAMPLE_COUNTS = "12 sites, 174 desks, 17 nodes, 178 sensors"

BAD = """\
organisation: Test Region
sites:
  - id: hq
    name: HQ
    kind: office
    timezone: Mars/Olympus
    desks:
      - {id: d1}
    nodes:
      - id: n1
        sensors:
          - {type: gpio_pir, pin: 31, desk: d1}
          - {type: gpio_pir, pin: 4, desk: d7}
"""


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("HUBSENSE_DB__DSN", None)
    return subprocess.run(
        [HUBSENSE, "inventory", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_check_example_ok() -> None:
    result = run("check", str(EXAMPLE))
    assert (result.returncode, result.stdout) == (0, f"ok: {EXAMPLE_COUNTS}\n")


def test_check_reports_every_error_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    result = run("check", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:6: sites[0].timezone: 'Mars/Olympus' is not an IANA time zone "
        "(e.g. Europe/Stockholm)",
        f"{path}:12: sites[0].nodes[0].sensors[0].pin: pin 31 is out of range 0..27",
        f"{path}:13: sites[0].nodes[0].sensors[1].desk: desk 'd7' is not a desk of site 'hq'",
        f"hubsense: error: {path}: 3 errors",
    ]
    assert "Traceback" not in result.stderr


def test_check_missing_file_is_one_line(tmp_path: Path) -> None:
    result = run("check", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert result.stderr == f"hubsense: error: {tmp_path / 'nope.yaml'}: no such file\n"


def test_show_tree_lists_sites() -> None:
    result = run("show", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0] == "Region Jämtland Härjedalen"
    for site_id in ("ostersund-hq", "hub-stugun", "hub-gallo", "hub-as", "hub-kluksgarden"):
        assert site_id in out
    assert "opening hours: mon-fri 08:00-12:00, 13:00-17:00; sat 10:00-14:00" in out
    assert "zones: floor-2 30 desks, floor-3 30 desks, floor-4 30 desks, floor-5 30 desks" in out
    assert "gpio:17 (gpio_pir) -> desk hq-2-07" in out
    assert out.splitlines()[-1] == EXAMPLE_COUNTS


def test_show_json() -> None:
    result = run("show", "--json", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["counts"] == {"sites": 12, "desks": 174, "nodes": 17, "sensors": 178}
    hq = data["sites"][0]
    assert hq["id"] == "ostersund-hq"
    assert hq["opening_hours"]["mon"] == ["07:00-18:00"]
    assert "sun" not in hq["opening_hours"]


@pytest.mark.service
def test_apply_prints_the_diff_then_applies(db_dsn: str, tmp_path: Path) -> None:
    with connect(db_dsn) as conn:
        conn.execute("TRUNCATE sensors, nodes, desks, sites CASCADE")
    dry = run("apply", str(EXAMPLE), "--dsn", db_dsn, "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[0] == "sites: 12 added, 0 changed, 0 retired, 0 restored"
    assert dry.stdout.splitlines()[-1] == "dry run: nothing written"

    first = run("apply", str(EXAMPLE), "--dsn", db_dsn, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert "desks: 174 added, 0 changed, 0 retired, 0 restored" in lines
    assert "  + desk hub-gaxsjo" not in lines and "  + desk gaxsjo-02" in lines
    assert lines[-1] == f"applied: {EXAMPLE_COUNTS}"
    with connect(db_dsn) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM sites), (SELECT count(*) FROM desks), "
            "(SELECT count(*) FROM nodes), (SELECT count(*) FROM sensors)"
        ).fetchone()
    assert counts == (12, 174, 17, 178)

    again = run("apply", str(EXAMPLE), "--dsn", db_dsn, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "no changes: the database matches the file"


def test_apply_without_a_database_is_one_line(tmp_path: Path) -> None:
    # No --dsn, no HUBSENSE_DB__DSN and no `services up` state in this directory.
    result = run("apply", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("hubsense: error: no database: pass --dsn")
    assert len(result.stderr.splitlines()) == 1
