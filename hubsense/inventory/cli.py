"""`hubsense inventory …`: check, show and apply the inventory file (docs/inventory.md).

A command parses its options, loads the file and calls one function. Imports
only typer, the stdlib and the contract at module level; rich and psycopg are
imported inside the commands. Errors: every error of a file is printed on
stderr as `FILE:LINE: field: message`, then the command exits 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.tree import Tree

    from hubsense.db.inventory_sync import SyncPlan
    from hubsense.inventory.model import Inventory

app = typer.Typer(
    help="Check, show and apply the inventory file (sites, desks, nodes, sensors).",
    no_args_is_help=True,
)

FileArg = Annotated[
    Path, typer.Argument(help="Inventory YAML file, e.g. firmware-config/examples/inventory.yaml.")
]


def _load(path: Path) -> Inventory:
    """Load the file; on errors print each one on stderr and exit 2."""
    from hubsense.inventory.file import InventoryError, load_inventory

    try:
        return load_inventory(path)
    except InventoryError as error:
        whole_file = len(error.issues) == 1 and error.issues[0].line == 0
        if whole_file:
            typer.echo(f"hubsense: error: {error.issues[0]}", err=True)
        else:
            for issue in error.issues:
                typer.echo(str(issue), err=True)
            count = len(error.issues)
            plural = "s" if count != 1 else ""
            typer.echo(f"hubsense: error: {path}: {count} error{plural}", err=True)
        raise typer.Exit(error.exit_code) from None


def _counts_line(inventory: Inventory) -> str:
    counts = inventory.counts()
    return (
        f"{counts['sites']} sites, {counts['desks']} desks, "
        f"{counts['nodes']} nodes, {counts['sensors']} sensors"
    )


def _tree(inventory: Inventory) -> Tree:
    """organisation -> sites -> (hours, zones, nodes -> sensors -> desk)."""
    from collections import Counter

    from rich.text import Text
    from rich.tree import Tree

    root = Tree(Text(inventory.organisation, style="bold"))
    for site in inventory.sites:
        facts = [site.kind.value, site.municipality or "", site.timezone, f"{site.capacity} desks"]
        branch = root.add(
            Text.assemble((site.id, "bold"), f"  {site.name} · ", " · ".join(f for f in facts if f))
        )
        branch.add(Text(f"opening hours: {site.opening_hours_summary()}"))
        if site.closed_dates:
            branch.add(Text(f"closed dates: {len(site.closed_dates)}"))
        if site.area_m2 is not None:
            cost = (
                f", {site.cost_per_desk_month:g} per desk and month"
                if site.cost_per_desk_month is not None
                else ""
            )
            branch.add(Text(f"area: {site.area_m2:g} m²{cost}"))
        zones = Counter(desk.zone for desk in site.desks if desk.zone)
        if zones:
            listed = ", ".join(f"{zone} {n} desks" for zone, n in zones.items())
            branch.add(Text(f"zones: {listed}"))
        else:
            branch.add(Text(f"desks: {site.capacity} (no zones)"))
        for node in site.nodes:
            node_branch = branch.add(
                Text(
                    f"node {node.id} · heartbeat {node.heartbeat_s} s · {len(node.desk_ids)} desks"
                )
            )
            for sensor in node.sensors:
                node_branch.add(Text(f"{sensor.key} ({sensor.type}) -> desk {sensor.desk}"))
    return root


@app.command()
def check(file: FileArg) -> None:
    """Validate an inventory file and report every error with its line.

    Example: `hubsense inventory check firmware-config/examples/inventory.yaml`
    """
    inventory = _load(file)
    typer.echo(f"ok: {_counts_line(inventory)}")


@app.command()
def show(
    file: FileArg,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the validated inventory as JSON instead.")
    ] = False,
) -> None:
    """Show the organisation as a tree: sites, zones, nodes, sensors and their desks.

    Example: `hubsense inventory show inventory.yaml --json | jq '.counts'`
    """
    inventory = _load(file)
    if as_json:
        out = {"counts": inventory.counts(), **inventory.model_dump(mode="json")}
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    from rich.console import Console

    Console(soft_wrap=False, highlight=False).print(_tree(inventory))
    typer.echo(_counts_line(inventory))


@app.command()
def apply(
    file: FileArg,
    dsn: Annotated[
        str | None,
        typer.Option(
            "--dsn",
            help="PostgreSQL DSN; default: HUBSENSE_DB__DSN, the settings file, or the "
            "server of `hubsense services up`.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the diff against the database only.")
    ] = False,
) -> None:
    """Apply an inventory file to the database: print the diff, then write it in one transaction.

    Rows removed from the file are retired, never deleted; rows that come back are restored.

    Example: `hubsense inventory apply inventory.yaml --dry-run`
    """
    inventory = _load(file)
    from hubsense.addresses import resolve_dsn
    from hubsense.db.inventory_sync import apply_inventory, describe
    from hubsense.settings import load_settings

    target = dsn if dsn is not None else resolve_dsn(load_settings())

    def print_plan(plan: SyncPlan) -> None:
        for line in describe(plan):
            typer.echo(line)

    plan = apply_inventory(target, inventory, dry_run=dry_run, on_plan=print_plan)
    if plan.is_empty:
        typer.echo("no changes: the database matches the file")
    elif dry_run:
        typer.echo("dry run: nothing written")
    else:
        typer.echo(f"applied: {_counts_line(inventory)}")
