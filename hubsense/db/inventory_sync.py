"""Apply an `Inventory` to the database: diff, then upsert and retire in one transaction.

The tables are `sites`, `desks`, `nodes` and `sensors` of `0001_core.sql`. A row
removed from the file is retired (`retired_at` set), never deleted, so history
keeps its meaning; a retired row that comes back is restored (`retired_at`
cleared). Unchanged rows are not written, so `updated_at` says when a row last
really changed. The diff (`plan_sync`) and its text (`describe`) are pure; only
`read_rows` and `apply_plan` talk to PostgreSQL. Must not create schema: that
is `hubsense db migrate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hubsense.errors import ServiceError
from hubsense.inventory.model import BthomeSensor, GpioPirSensor, Inventory
from hubsense.logs import get_logger

if TYPE_CHECKING:
    import psycopg

log = get_logger(__name__)

Key = tuple[str, ...]
Values = dict[str, Any]

# table -> (key columns, value columns). Order is the order rows are upserted (foreign keys).
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sites": (
        ("id",),
        (
            "name",
            "kind",
            "municipality",
            "timezone",
            "opening_hours",
            "closed_dates",
            "area_m2",
            "cost_per_desk_month",
            "commute_km",
            "day_pass_price",
        ),
    ),
    "desks": (("id",), ("site_id", "zone")),
    "nodes": (("id",), ("site_id", "heartbeat_s")),
    "sensors": (("node_id", "key"), ("type", "desk_id", "config")),
    # After sites: main_office references one (migration 0008).
    "organisation": (
        ("name",),
        (
            "currency",
            "main_office",
            "day_pass_price",
            "day_pass_budget_month",
            "co2_kg_per_km",
            "used_min_s",
            "together_min_s",
        ),
    ),
}
JSON_COLUMNS = frozenset({"opening_hours", "config"})
SECRET_CONFIG = frozenset({"bindkey"})
# One apply at a time: the diff must be computed on the rows it is applied to.
_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('hubsense.inventory_apply'))"


@dataclass(frozen=True, slots=True)
class StoredRow:
    values: Values
    retired: bool


@dataclass
class TableDiff:
    added: list[Key] = field(default_factory=list)
    restored: list[Key] = field(default_factory=list)
    # key -> column -> (old, new)
    changed: dict[Key, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    retired: list[Key] = field(default_factory=list)
    # rows to upsert (added, restored, changed) with their new values
    upserts: dict[Key, Values] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.restored or self.changed or self.retired)


@dataclass
class SyncPlan:
    tables: dict[str, TableDiff]

    @property
    def is_empty(self) -> bool:
        return all(diff.is_empty for diff in self.tables.values())

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            table: {
                "added": len(diff.added),
                "restored": len(diff.restored),
                "changed": len(diff.changed),
                "retired": len(diff.retired),
            }
            for table, diff in self.tables.items()
        }


def _sensor_config(sensor: GpioPirSensor | BthomeSensor) -> Values:
    return sensor.model_dump(mode="json", exclude={"type", "desk"})


def inventory_rows(inventory: Inventory) -> dict[str, dict[Key, Values]]:
    """The rows the database should hold for an inventory, by table and key."""
    rows: dict[str, dict[Key, Values]] = {table: {} for table in TABLES}
    for site in inventory.sites:
        dumped = site.model_dump(mode="json")
        rows["sites"][(site.id,)] = {
            "name": site.name,
            "kind": site.kind.value,
            "municipality": site.municipality,
            "timezone": site.timezone,
            "opening_hours": dumped["opening_hours"],
            "closed_dates": sorted(set(site.closed_dates)),
            "area_m2": site.area_m2,
            "cost_per_desk_month": site.cost_per_desk_month,
            "commute_km": site.commute_km,
            "day_pass_price": site.day_pass_price,
        }
        for desk in site.desks:
            rows["desks"][(desk.id,)] = {"site_id": site.id, "zone": desk.zone}
        for node in site.nodes:
            rows["nodes"][(node.id,)] = {"site_id": site.id, "heartbeat_s": node.heartbeat_s}
            for sensor in node.sensors:
                rows["sensors"][(node.id, sensor.key)] = {
                    "type": sensor.type,
                    "desk_id": sensor.desk,
                    "config": _sensor_config(sensor),
                }
    rows["organisation"][(inventory.organisation,)] = {
        "currency": inventory.currency,
        "main_office": inventory.main_office,
        "day_pass_price": inventory.day_pass_price,
        "day_pass_budget_month": inventory.day_pass_budget_month,
        "co2_kg_per_km": inventory.co2_kg_per_km,
        "used_min_s": inventory.used_min_s,
        "together_min_s": inventory.together_min_s,
    }
    return rows


def _diff_table(desired: dict[Key, Values], stored: dict[Key, StoredRow]) -> TableDiff:
    diff = TableDiff()
    for key, values in desired.items():
        row = stored.get(key)
        if row is None:
            diff.added.append(key)
            diff.upserts[key] = values
            continue
        changes = {
            column: (row.values.get(column), value)
            for column, value in values.items()
            if row.values.get(column) != value
        }
        if row.retired:
            diff.restored.append(key)
        if changes:
            diff.changed[key] = changes
        if row.retired or changes:
            diff.upserts[key] = values
    diff.retired = [key for key, row in stored.items() if key not in desired and not row.retired]
    return diff


def plan_sync(
    desired: dict[str, dict[Key, Values]], stored: dict[str, dict[Key, StoredRow]]
) -> SyncPlan:
    """What to add, restore, change and retire so the database matches `desired`."""
    return SyncPlan({table: _diff_table(desired[table], stored.get(table, {})) for table in TABLES})


def _show(column: str, value: Any) -> str:
    if column == "config" and isinstance(value, dict):
        value = {k: ("***" if k in SECRET_CONFIG and v else v) for k, v in value.items()}
    if isinstance(value, list) and len(value) > 4:
        return f"[{len(value)} items]"
    return repr(value) if isinstance(value, str) else str(value)


def describe(plan: SyncPlan) -> list[str]:
    """The plan as readable lines: one summary line per table, then one line per row."""
    lines = []
    for table, diff in plan.tables.items():
        counts = plan.counts()[table]
        lines.append(
            f"{table}: {counts['added']} added, {counts['changed']} changed, "
            f"{counts['retired']} retired, {counts['restored']} restored"
        )
        name = table.rstrip("s")
        for key in diff.added:
            lines.append(f"  + {name} {'/'.join(key)}")
        for key in diff.restored:
            lines.append(f"  ^ {name} {'/'.join(key)} (restored)")
        for key, changes in diff.changed.items():
            text = ", ".join(
                f"{column} {_show(column, old)} -> {_show(column, new)}"
                for column, (old, new) in changes.items()
            )
            lines.append(f"  ~ {name} {'/'.join(key)}: {text}")
        for key in diff.retired:
            lines.append(f"  - {name} {'/'.join(key)} (retired)")
    return lines


def read_rows(conn: psycopg.Connection[Any]) -> dict[str, dict[Key, StoredRow]]:
    """Every inventory row in the database, retired ones included."""
    import psycopg

    rows: dict[str, dict[Key, StoredRow]] = {}
    for table, (keys, columns) in TABLES.items():
        query = f"SELECT {', '.join((*keys, *columns))}, retired_at IS NOT NULL FROM {table}"
        try:
            records = conn.execute(query).fetchall()
        except psycopg.errors.UndefinedTable:
            raise ServiceError(
                f"database has no {table} table: run `hubsense db migrate` first"
            ) from None
        rows[table] = {
            tuple(record[: len(keys)]): StoredRow(
                dict(zip(columns, record[len(keys) : -1], strict=True)), bool(record[-1])
            )
            for record in records
        }
    return rows


def _params(columns: tuple[str, ...], values: Values) -> list[Any]:
    from psycopg.types.json import Jsonb

    return [Jsonb(values[c]) if c in JSON_COLUMNS else values[c] for c in columns]


def apply_plan(conn: psycopg.Connection[Any], plan: SyncPlan) -> None:
    """Write the plan: upserts parents first, retirements children first."""
    for table, (keys, columns) in TABLES.items():
        upserts = plan.tables[table].upserts
        if not upserts:
            continue
        names = (*keys, *columns)
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
        sql = (
            f"INSERT INTO {table} ({', '.join(names)}) "
            f"VALUES ({', '.join(['%s'] * len(names))}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}, "
            "retired_at = NULL, updated_at = now()"
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                sql, [[*key, *_params(columns, values)] for key, values in upserts.items()]
            )
    for table in reversed(TABLES):
        keys = TABLES[table][0]
        retired = plan.tables[table].retired
        if not retired:
            continue
        where = " AND ".join(f"{k} = %s" for k in keys)
        sql = f"UPDATE {table} SET retired_at = now(), updated_at = now() WHERE {where}"
        with conn.cursor() as cursor:
            cursor.executemany(sql, [list(key) for key in retired])


def sync_inventory(
    conn: psycopg.Connection[Any],
    inventory: Inventory,
    *,
    dry_run: bool = False,
    on_plan: Callable[[SyncPlan], None] | None = None,
) -> SyncPlan:
    """Diff the inventory against the database and apply it in one transaction.

    `on_plan` sees the plan before anything is written (the CLI prints it);
    with `dry_run` nothing is written.
    """
    with conn.transaction():
        conn.execute(_LOCK_SQL)
        plan = plan_sync(inventory_rows(inventory), read_rows(conn))
        if on_plan is not None:
            on_plan(plan)
        if not dry_run and not plan.is_empty:
            apply_plan(conn, plan)
    log.info(
        "inventory_applied" if not dry_run else "inventory_planned",
        organisation=inventory.organisation,
        **{
            (f"{table}_rows" if table == "organisation" else table): sum(n.values())
            for table, n in plan.counts().items()
        },
    )
    return plan


def apply_inventory(
    dsn: str,
    inventory: Inventory,
    *,
    dry_run: bool = False,
    on_plan: Callable[[SyncPlan], None] | None = None,
) -> SyncPlan:
    """Connect to `dsn` and `sync_inventory` (for the CLI, the demo and scripts)."""
    from hubsense.db.connect import connect

    with connect(dsn) as conn:
        return sync_inventory(conn, inventory, dry_run=dry_run, on_plan=on_plan)
