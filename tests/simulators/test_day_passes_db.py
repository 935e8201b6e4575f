"""The simulated world buys day passes: written through `hubsense.daypasses` (as `hubsense
daypasses import` and `POST /v1/daypasses` do) by the backfill and the live run, only at open
coworking sites, no names, idempotent by pass id; `analytics decision` then counts them."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hubsense.simulators.run import publish
from hubsense.simulators.world import World

from hubsense.db.inventory_sync import apply_inventory
from hubsense.errors import ConfigError
from hubsense.inventory.file import load_inventory
from hubsense.inventory.model import SiteKind
from hubsense.settings import load_settings

pytestmark = pytest.mark.service

EXAMPLE = Path(__file__).parents[2] / "firmware-config" / "examples" / "inventory.yaml"
HUBSENSE = Path(sys.executable).parent / "hubsense"
# Three days of history ending Wednesday 4 March 2026 18:00: Sunday 1 (the day before, which
# holds state) to Wednesday 4; the coworking sites open Monday to Friday.
END = "2026-03-04T18:00:00+01:00"
PASS_ID = re.compile(r"^sim-(cowork-[a-z]+)-(\d{4}-\d{2}-\d{2})-(\d{4})$")
_names = itertools.count(1)


@pytest.fixture
def fresh_dsn(pg_server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A migrated database of this test alone (db_dsn is shared by the module's tests)."""
    from hubsense.db.migrate import migrate

    name = f"t_sim_daypasses_{os.getpid()}_{next(_names)}"
    pg_server.create_database(name, exist_ok=False)
    try:
        dsn = pg_server.dsn(name)
        migrate(dsn)
        yield dsn
    finally:
        pg_server.drop_database(name)


def _passes(dsn: str) -> list[tuple[str, str, dt.date, dt.datetime]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT pass_id, site_id, day, imported_at FROM day_passes ORDER BY pass_id"
        ).fetchall()


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HUBSENSE), "simulate", "-i", str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_backfill_buys_day_passes_once_and_decision_counts_them(
    db_dsn: str, mqtt_broker, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    inventory = load_inventory(EXAMPLE)
    apply_inventory(db_dsn, inventory)
    args = [
        "--seed", "2", "--backfill", "3d", "--end", END, "--backfill-only", "--no-faults",
        "--mqtt-url", mqtt_broker.url, "--dsn", db_dsn, "--state-file", str(tmp_path / "s.json"),
        "--json",
    ]  # fmt: skip
    first = _simulate(*args)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    stored = _passes(db_dsn)
    assert len(stored) == summary["day_passes"] > 0
    coworking = {s.id: s for s in inventory.sites if s.kind is SiteKind.COWORKING}
    days = set()
    for pass_id, site, day, _ in stored:
        assert site in coworking and coworking[site].is_open_on(day)
        # The id names the site, the date and a running number: no person (p00042) in it.
        match = PASS_ID.match(pass_id)
        assert match is not None and match.group(1, 2) == (site, day.isoformat()), pass_id
        days.add(day)
    # Monday to Wednesday had passes; Sunday 1 March (closed) none.
    assert days == {dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)}
    # Exactly the world's passes: the same seed gives the same ids.
    world = World(inventory, 2).day_passes([dt.date(2026, 3, d) for d in range(1, 5)])
    assert [(p, s, d) for p, s, d, _ in stored] == sorted(world)
    # The table has no column for a name.
    with psycopg.connect(db_dsn) as conn:
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'day_passes' ORDER BY ordinal_position"
            )
        ]
    assert columns == ["pass_id", "site_id", "day", "imported_at"]

    again = _simulate(*args)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["day_passes"] == summary["day_passes"]
    assert _passes(db_dsn) == stored  # no row added, none rewritten (imported_at kept)

    decision = subprocess.run(
        [str(HUBSENSE), "analytics", "decision", "--from", "2026-03-02", "--to", "2026-03-05",
         "--dsn", db_dsn, "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert decision.returncode == 0, decision.stderr
    out = json.loads(decision.stdout)
    assert out["day_passes_bought"] == len(stored) > 0
    per_site = {s["site"]: s["desk_days_used"] for s in out["sites"] if s["kind"] == "coworking"}
    assert per_site == {site: sum(1 for _, s, _, _ in stored if s == site) for site in coworking}


def test_live_run_buys_the_passes_of_the_days_it_plans(
    fresh_dsn: str, mqtt_broker, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    inventory = load_inventory(EXAMPLE)
    apply_inventory(fresh_dsn, inventory)
    monday_8 = int(dt.datetime.fromisoformat("2026-03-02T08:00:00+01:00").timestamp() * 1000)
    summary = publish(
        inventory,
        load_settings(),
        seed=5,
        mqtt_url=mqtt_broker.url,
        dsn=fresh_dsn,
        write_bookings=True,
        speed=600.0,
        start_ms=monday_8,
        duration_s=10 * 60,
        state_file=tmp_path / "s.json",
        faults=False,
    )
    stored = [(p, s, d) for p, s, d, _ in _passes(fresh_dsn)]
    # Live time books ahead (today and tomorrow), and buys the passes of those days with them.
    expected = World(inventory, 5).day_passes([dt.date(2026, 3, 1), dt.date(2026, 3, 2),
                                               dt.date(2026, 3, 3)])  # fmt: skip
    assert stored == sorted(expected) and len(stored) == summary.day_passes > 0
    assert {d for _, _, d in stored} == {dt.date(2026, 3, 2), dt.date(2026, 3, 3)}


def test_coworking_sites_not_in_the_database_stop_the_run_with_one_line(
    fresh_dsn: str, mqtt_broker, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    done = _simulate(
        "--seed", "2", "--backfill", "1h", "--end", END, "--backfill-only",
        "--mqtt-url", mqtt_broker.url, "--dsn", fresh_dsn, "--state-file", str(tmp_path / "s.json"),
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert (
        "--write-bookings: coworking site cowork-stromsund, cowork-sveg is not in the database"
        in done.stderr
    )
    assert "hubsense inventory apply FILE" in done.stderr
    assert _passes(fresh_dsn) == []
    with pytest.raises(ConfigError, match="needs the database"):
        publish(
            load_inventory(EXAMPLE), load_settings(), seed=1, mqtt_url=mqtt_broker.url,
            write_bookings=True, backfill_s=60, backfill_only=True,
        )  # fmt: skip
