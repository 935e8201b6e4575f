"""The `hubsense` command: the CLI root and its error handling.

Each component owns a typer sub-app in its own module (`hubsense.ingest.cli`,
`hubsense.edge.cli`, …). Sub-app modules import only typer and the contract at
import time and import their heavy dependencies (psycopg, numba, paho) inside
the command, so `hubsense edge …` works on a Pi with only `hubsense[edge]`.

Errors: a `HubsenseError` prints `hubsense: error: <what>: <why>` on stderr and
exits 1 (failed) or 2 (usage/config); `--debug` shows the traceback instead.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from hubsense import __version__
from hubsense.errors import HubsenseError

app = typer.Typer(
    name="hubsense",
    help=(
        "Occupancy sensing and edge analytics for offices and co-working hubs.\n\n"
        "Edge agents on Raspberry Pis read desk sensors and publish over MQTT; ingest "
        "stores the events in PostgreSQL; analytics compute true utilisation against "
        "bookings.\n\n"
        "Start here: `hubsense demo` runs the whole stack on simulated sensors."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hubsense {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            help="Log format on stderr: auto (readable on a terminal, else JSON), json, console.",
        ),
    ] = "auto",
) -> None:
    """Configure logging for every subcommand."""
    from hubsense.logs import configure_logging

    configure_logging("debug" if debug else "info", log_format)  # type: ignore[arg-type]


@app.command()
def schema(
    message: Annotated[
        str,
        typer.Argument(help="events, status, config, booking-release or inventory; omit for all."),
    ] = "all",
) -> None:
    """Print the JSON Schema of the MQTT messages and of the inventory.

    Example: `hubsense schema events > events.schema.json`
    """
    from pydantic import BaseModel

    from hubsense import wire
    from hubsense.inventory import model as inventory

    models: dict[str, type[BaseModel]] = {
        "events": wire.EventsMessage,
        "status": wire.StatusMessage,
        "config": wire.ConfigMessage,
        "booking-release": wire.BookingReleaseMessage,
        "inventory": inventory.Inventory,
    }
    if message == "all":
        out = {name: model.model_json_schema() for name, model in models.items()}
    elif message in models:
        out = models[message].model_json_schema()
    else:
        raise typer.BadParameter(f"unknown message {message!r}; one of {', '.join(models)}")
    typer.echo(json.dumps(out, indent=2))


def _register() -> None:
    """Attach the invoked component's sub-app (all of them for help or an unknown name)."""
    from hubsense.cli_registry import invoked_command, register_all

    register_all(app, only=invoked_command(sys.argv[1:]))


def main() -> None:
    """Entry point of the `hubsense` console script."""
    debug = "--debug" in sys.argv
    try:
        _register()
        app(standalone_mode=True)
    except HubsenseError as error:
        if debug:
            raise
        typer.echo(f"hubsense: error: {error}", err=True)
        sys.exit(error.exit_code)
    except ModuleNotFoundError as error:
        if debug:
            raise
        typer.echo(
            f"hubsense: error: this command needs the Python package {error.name!r}: "
            "install hubsense with the extra that provides it, e.g. pip install 'hubsense[server]'",
            err=True,
        )
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("hubsense: interrupted", err=True)
        sys.exit(130)
    except Exception as error:
        if debug:
            raise
        typer.echo(
            f"hubsense: error: internal: {type(error).__name__}: {error} "
            "(run with --debug for the traceback)",
            err=True,
        )
        sys.exit(1)
