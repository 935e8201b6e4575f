"""Applying an inventory to a real PostgreSQL: rows, no-op re-apply, retire, restore."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from hubsense.db.connect import connect
from hubsense.db.inventory_sync import (
    StoredRow,
    SyncPlan,
    describe,
    inventory_rows,
    plan_sync,
    sync_inventory,
)
from hubsense.errors import ServiceError
from hubsense.inventory.file import parse_inventory
from hubsense.inventory.model import Inventory

TEXT = """\
organisation: Test Region
sites:
  - id: hq
    name: HQ
    kind: office
    municipality: Östersund
    timezone: Europe/Stockholm
    opening_hours:
      mon: ["07:00-12:00", "13:00-18:00"]
      sat: ["10:00-14:00"]
    closed_dates: [2026-12-25, 2026-12-24]
    area_m2: 1200
    cost_per_desk_month: 3100
    desks:
      - {id: d1, zone: floor-1}
      - {id: d2, zone: floor-1}
      - {id: d3}
    nodes:
      - id: n1
        sensors:
          - {type: gpio_pir, pin: 17, desk: d1, hold_s: 300}
          - type: bthome
            address: "A4:C1:38:00:00:01"
            desk: d2
            bindkey: "0123456789abcdef0123456789abcdef"
          - {type: gpio_pir, pin: 18, desk: d3}
"""


def inventory(text: str = TEXT) -> Inventory:
    return parse_inventory(text)


def without_d3(text: str = TEXT) -> str:
    return text.replace("      - {id: d3}\n", "").replace(
        "          - {type: gpio_pir, pin: 18, desk: d3}\n", ""
    )


def apply(dsn: str, inv: Inventory, **kwargs: Any) -> SyncPlan:
    with connect(dsn) as conn:
        return sync_inventory(conn, inv, **kwargs)


def query(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with connect(dsn) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def dsn(db_dsn: str) -> Iterator[str]:
    with connect(db_dsn) as conn:
        conn.execute("TRUNCATE sensors, nodes, desks, sites CASCADE")
    yield db_dsn


def test_plan_is_pure_and_counts_rows() -> None:
    plan = plan_sync(inventory_rows(inventory()), {})
    assert plan.counts() == {
        "sites": {"added": 1, "restored": 0, "changed": 0, "retired": 0},
        "desks": {"added": 3, "restored": 0, "changed": 0, "retired": 0},
        "nodes": {"added": 1, "restored": 0, "changed": 0, "retired": 0},
        "sensors": {"added": 3, "restored": 0, "changed": 0, "retired": 0},
        "organisation": {"added": 1, "restored": 0, "changed": 0, "retired": 0},
    }
    lines = describe(plan)
    assert lines[0] == "sites: 1 added, 0 changed, 0 retired, 0 restored"
    assert "  + sensor n1/ble:A4:C1:38:00:00:01" in lines


def test_describe_hides_bindkeys() -> None:
    stored = {
        table: {key: StoredRow(dict(values), retired=False) for key, values in rows.items()}
        for table, rows in inventory_rows(inventory()).items()
    }
    changed = inventory(TEXT.replace("0123456789abcdef0123456789abcdef", "f" * 32))
    text = "\n".join(describe(plan_sync(inventory_rows(changed), stored)))
    assert "sensors: 0 added, 1 changed, 0 retired, 0 restored" in text
    assert "'bindkey': '***'" in text
    assert "0123456789abcdef" not in text and "ffff" not in text


@pytest.mark.service
def test_apply_writes_rows(dsn: str) -> None:
    plan = apply(dsn, inventory())
    assert plan.counts()["desks"]["added"] == 3
    [site] = query(
        dsn,
        "SELECT id, name, kind, municipality, timezone, opening_hours, closed_dates, area_m2, "
        "cost_per_desk_month, retired_at FROM sites",
    )
    assert site == (
        "hq",
        "HQ",
        "office",
        "Östersund",
        "Europe/Stockholm",
        {"mon": ["07:00-12:00", "13:00-18:00"], "sat": ["10:00-14:00"]},
        [dt.date(2026, 12, 24), dt.date(2026, 12, 25)],
        1200.0,
        3100.0,
        None,
    )
    assert query(dsn, "SELECT id, site_id, zone FROM desks ORDER BY id") == [
        ("d1", "hq", "floor-1"),
        ("d2", "hq", "floor-1"),
        ("d3", "hq", None),
    ]
    assert query(dsn, "SELECT id, site_id, heartbeat_s FROM nodes") == [("n1", "hq", 60)]
    assert query(dsn, "SELECT node_id, key, type, desk_id, config FROM sensors ORDER BY key") == [
        (
            "n1",
            "ble:A4:C1:38:00:00:01",
            "bthome",
            "d2",
            {
                "address": "A4:C1:38:00:00:01",
                "bindkey": "0123456789abcdef0123456789abcdef",
                "hold_s": 600,
                "advert_interval_s": 60,
                "stale_s": None,
            },
        ),
        ("n1", "gpio:17", "gpio_pir", "d1", {"pin": 17, "hold_s": 300}),
        ("n1", "gpio:18", "gpio_pir", "d3", {"pin": 18, "hold_s": 600}),
    ]


@pytest.mark.service
def test_reapply_is_a_no_op(dsn: str) -> None:
    apply(dsn, inventory())
    before = query(dsn, "SELECT id, updated_at FROM desks ORDER BY id")
    plan = apply(dsn, inventory())
    assert plan.is_empty
    assert describe(plan)[0] == "sites: 0 added, 0 changed, 0 retired, 0 restored"
    assert query(dsn, "SELECT id, updated_at FROM desks ORDER BY id") == before


@pytest.mark.service
def test_removing_a_desk_retires_it_and_readding_restores_it(dsn: str) -> None:
    apply(dsn, inventory())
    plan = apply(dsn, inventory(without_d3()))
    assert plan.tables["desks"].retired == [("d3",)]
    assert plan.tables["sensors"].retired == [("n1", "gpio:18")]
    rows = query(dsn, "SELECT id, retired_at IS NOT NULL FROM desks ORDER BY id")
    assert rows == [("d1", False), ("d2", False), ("d3", True)]  # kept, never deleted
    assert query(dsn, "SELECT count(*) FROM sensors WHERE retired_at IS NOT NULL") == [(1,)]
    # Applying the smaller file again changes nothing: retired rows stay retired.
    assert apply(dsn, inventory(without_d3())).is_empty

    plan = apply(dsn, inventory())
    assert plan.tables["desks"].restored == [("d3",)]
    assert plan.tables["sensors"].restored == [("n1", "gpio:18")]
    assert plan.tables["desks"].added == []
    rows = query(dsn, "SELECT id, retired_at FROM desks ORDER BY id")
    assert rows == [("d1", None), ("d2", None), ("d3", None)]


@pytest.mark.service
def test_changes_and_removed_site(dsn: str) -> None:
    apply(dsn, inventory())
    changed = TEXT.replace("zone: floor-1}\n      - {id: d2", "zone: floor-2}\n      - {id: d2")
    changed = changed.replace("      - id: n1\n", "      - id: n1\n        heartbeat_s: 30\n")
    plan = apply(dsn, inventory(changed))
    assert plan.tables["desks"].changed == {("d1",): {"zone": ("floor-1", "floor-2")}}
    assert plan.tables["nodes"].changed == {("n1",): {"heartbeat_s": (60, 30)}}
    assert "  ~ desk d1: zone 'floor-1' -> 'floor-2'" in describe(plan)
    assert query(dsn, "SELECT zone FROM desks WHERE id = 'd1'") == [("floor-2",)]

    hub = """\
organisation: Test Region
sites:
  - {id: hub, name: Hub, kind: hub, timezone: Europe/Stockholm, desks: [{id: h1}]}
"""
    plan = apply(dsn, inventory(hub))
    assert plan.tables["sites"].retired == [("hq",)]
    assert sorted(plan.tables["desks"].retired) == [("d1",), ("d2",), ("d3",)]
    assert query(dsn, "SELECT id, retired_at IS NOT NULL FROM sites ORDER BY id") == [
        ("hq", True),
        ("hub", False),
    ]


@pytest.mark.service
def test_dry_run_writes_nothing(dsn: str) -> None:
    seen: list[SyncPlan] = []
    plan = apply(dsn, inventory(), dry_run=True, on_plan=seen.append)
    assert seen == [plan] and plan.counts()["desks"]["added"] == 3
    assert query(dsn, "SELECT count(*) FROM desks") == [(0,)]


@pytest.mark.service
def test_a_failed_apply_writes_nothing(dsn: str) -> None:
    # A value PostgreSQL refuses half way (a NUL byte in a desk zone) rolls back everything.
    apply(dsn, inventory())
    bad = inventory(TEXT.replace("name: HQ", "name: HQ2"))
    object.__setattr__(bad.sites[0].desks[2], "zone", "x\x00y")
    with pytest.raises(psycopg.DataError):
        apply(dsn, bad)
    assert query(dsn, "SELECT name FROM sites") == [("HQ",)]


@pytest.mark.service
def test_missing_tables_say_what_to_do(pg_server: Any) -> None:
    pg_server.create_database("t_inventory_empty", exist_ok=True)
    try:
        with pytest.raises(ServiceError, match="no sites table: run `hubsense db migrate`"):
            apply(pg_server.dsn("t_inventory_empty"), inventory())
    finally:
        pg_server.drop_database("t_inventory_empty")
