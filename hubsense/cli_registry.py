"""Which sub-app module provides which `hubsense` subcommand.

Add a line here when a component gains a CLI. Each module exposes either
`app` (a typer.Typer, attached as a command group) or `command` (a function,
attached as a single command).
"""

from __future__ import annotations

import importlib

import typer

# (cli name, module, attribute). Order is the order of `hubsense --help`.
SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("demo", "hubsense.devstack.demo", "command"),
    ("services", "hubsense.devstack.cli", "app"),
    ("db", "hubsense.db.cli", "app"),
    ("inventory", "hubsense.inventory.cli", "app"),
    ("provision", "hubsense.provision.cli", "app"),
    ("privacy", "hubsense.privacy_cli", "app"),
    ("daypasses", "hubsense.daypasses_cli", "app"),
    ("ingest", "hubsense.ingest.cli", "app"),
    ("fleet", "hubsense.ingest.fleet_cli", "app"),
    ("simulate", "hubsense.simulators.cli", "command"),
    ("edge", "hubsense.edge.cli", "app"),
    ("analytics", "hubsense.analytics.cli", "app"),
    ("dashboards", "hubsense.dashboards.cli", "app"),
    ("report", "hubsense.report.cli", "command"),
    ("api", "hubsense.api.cli", "app"),
    ("bookings", "hubsense.bookings.cli", "app"),
]


def register_all(app: typer.Typer, only: str | None = None) -> None:
    """Attach the sub-apps; with `only` (a known name) just that one.

    Importing one component instead of all keeps `hubsense edge run` on a Pi small
    (every module imported stays in the agent's memory for its lifetime).
    """
    names = {name for name, _, _ in SUBCOMMANDS}
    for name, module_name, attribute in SUBCOMMANDS:
        if only in names and name != only:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and error.name.startswith("hubsense"):
                continue  # that component is not part of this install
            raise
        target = getattr(module, attribute)
        if attribute == "app":
            app.add_typer(target, name=name)
        else:
            app.command(name=name)(target)


def invoked_command(argv: list[str]) -> str | None:
    """The subcommand named on a `hubsense` command line, after the root options."""
    args = iter(argv)
    for arg in args:
        if arg == "--log-format":
            next(args, None)  # its value
        elif not arg.startswith("-"):
            return arg
    return None
