"""Every panel's SQL, macros expanded, runs on a database holding two weeks of simulated demo
data (the example organisation), and the boards agree with the offline analytics."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from board_data import HUBSENSE, fill_rollups, load_raw
from board_sql import context, panel_sql, run_sql, targets

from hubsense.inventory.model import Inventory

pytestmark = [pytest.mark.service, pytest.mark.slow]

EXAMPLE = Path(__file__).parents[2] / "firmware-config" / "examples" / "inventory.yaml"
FROM, TO = dt.date(2026, 3, 2), dt.date(2026, 3, 16)
ZONE = ZoneInfo("Europe/Stockholm")
START = dt.datetime.combine(FROM, dt.time(0), ZONE)
# The simulator neither reuses seqs nor loses them: on healthy demo data these panels are
# empty by design, and their SQL is still run.
EMPTY_WHEN_HEALTHY = {"Seq gaps (seqs never received)", "Seq conflicts (open)"}
END = dt.datetime.combine(TO, dt.time(0), ZONE)


@pytest.fixture(scope="module")
def demo(db_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Inventory, Path]:
    work = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [str(HUBSENSE), "simulate", "-i", str(EXAMPLE), "--seed", "11", "--to-csv", str(work),
         "--from", FROM.isoformat(), "--to", TO.isoformat()],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    events, bookings = work / "events.csv", work / "bookings.csv"
    inventory = load_raw(db_dsn, EXAMPLE, events, bookings)
    out = fill_rollups(db_dsn, EXAMPLE, events, bookings, FROM, TO, work)
    nodes = [node.id for site in inventory.sites for node in site.nodes]
    with psycopg.connect(db_dsn) as conn:
        for i, node in enumerate(nodes):
            conn.execute(
                """INSERT INTO node_status (node_id, site_id, online, outbox_depth, cpu_temp_c,
                       last_reading_age_s) SELECT %s, site_id, %s, %s, %s, '{"gpio:17": 3.5}'
                   FROM nodes WHERE id = %s""",
                (node, i % 5 != 0, i * 3, 40 + i, node),
            )
        conn.execute(
            """INSERT INTO dead_letters (received_at, topic, payload, reason, detail)
               SELECT %s + n * interval '1 hour', 'hubsense/v1/hub-gallo/x/events', 'x',
                      (ARRAY['invalid_json', 'node_mismatch', 'too_large'])[1 + n %% 3], 'd'
               FROM generate_series(0, 29) AS n""",
            (START,),
        )
    return db_dsn, inventory, out


def _variables(inventory: Inventory) -> dict[str, list[str]]:
    zones = sorted({desk.zone or "(none)" for site in inventory.sites for desk in site.desks})
    return {
        "site": [site.id for site in inventory.sites],
        "zone": zones,
        "percentile": ["95"],
        "hub": ["hub-brunflo"],
        "low_use_pct": ["20"],
    }


def test_every_panel_runs(demo: tuple[str, Inventory, Path], boards: dict[str, Any]) -> None:
    dsn, inventory, _ = demo
    ctx = context(START, END, **_variables(inventory))
    counted = 0
    for name, board in boards.items():
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                _, rows = run_sql(dsn, variable["query"], ctx)
                assert rows, (name, variable["name"])
        for title, sql in targets(board):
            names, rows = run_sql(dsn, sql, ctx)
            counted += 1
            if not rows:
                assert title in EMPTY_WHEN_HEALTHY, (name, title)
                continue
            if names[0] == "time":
                times = [row[0] for row in rows]
                assert times == sorted(times), (name, title)  # Grafana wants time ascending
            for column, values in zip(names, zip(*rows, strict=True), strict=True):
                if "rate" in column or "utilisation" in column:
                    assert all(v is None or 0 <= v <= 1 for v in values), (title, column)
    assert counted == sum(len(b["panels"]) for b in boards.values())


def test_right_sizing_matches_the_analytics(
    demo: tuple[str, Inventory, Path], boards: dict[str, Any]
) -> None:
    dsn, inventory, out = demo
    title = "Desks needed, surplus and area (right-sizing)"
    names, rows = run_sql(
        dsn, panel_sql(boards["facilities"], title), context(START, END, **_variables(inventory))
    )
    got = {row[0]: dict(zip(names, row, strict=True)) for row in rows}
    with (out / "site_summary.csv").open(newline="") as handle:
        expected = list(csv.DictReader(handle))
    assert len(expected) == len(inventory.sites) == len(got)
    for row in expected:
        site = got[row["site"]]
        got_row = (site["days open"], site["capacity"], site["desks needed"], site["surplus"])
        columns = ("days_open", "capacity", "desks_needed", "surplus")
        assert got_row == tuple(int(row[c]) for c in columns), row["site"]
    assert got["ostersund-hq"]["desks needed"] > 0


def test_occupancy_matches_the_desk_metrics(
    demo: tuple[str, Inventory, Path], boards: dict[str, Any]
) -> None:
    dsn, inventory, out = demo
    occupied = observed = 0
    with (out / "desk_metrics.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["site"] == "ostersund-hq":
                occupied += int(row["occupied_s"])
                observed += int(row["observed_s"])
    variables = {**_variables(inventory), "site": ["ostersund-hq"]}
    _, rows = run_sql(
        dsn, panel_sql(boards["facilities"], "Occupancy rate"), context(START, END, **variables)
    )
    assert rows == [(occupied / observed,)]
    assert 0.05 < occupied / observed < 0.95
