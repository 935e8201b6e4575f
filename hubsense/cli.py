"""The `hubsense` command: the CLI root and its error handling.

Each component owns a typer sub-app in its own module (`hubsense.ingest.cli`,
`hubsense.edge.cli`, …). Sub-app modules import only typer and the contract at
import time and import their heavy dependencies (psycopg, numba, paho) inside
the command, so `hubsense edge …` works on a Pi with only `hubsense[edge]`.

Errors: a `HubsenseError` prints `hubsense: error: <what>: <why>` on stderr and
exits 1 (failed) or 2 (usage/config); `--debug` shows the traceback instead. Click's
usage errors (a missing option, a value out of range) print the same one line, never
Click's box, and exit 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer

try:  # typer 0.2x raises the Click it vendors; older typer raises the click package's
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover
    from click import exceptions as click_errors  # type: ignore[no-redef]

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


def _given_value(opts: Sequence[str], argv: Sequence[str]) -> str | None:
    """The value given on the command line to one of `opts` (`--x V` or `--x=V`), if any."""
    for i, word in enumerate(argv):
        for opt in opts:
            if word == opt and i + 1 < len(argv):
                return argv[i + 1]
            if word.startswith(opt + "="):
                return word[len(opt) + 1 :]
    return None


def usage_error_line(error: click_errors.ClickException, argv: Sequence[str]) -> str:
    """Click's usage error as our one line: `--percentile 0: must be above 0 …`.

    Ends with where the help is, so nobody needs Click's usage block to find it.
    """
    message = error.message.rstrip(".")
    if isinstance(error, click_errors.MissingParameter) and error.param is not None:
        kind = "option" if error.param.param_type_name == "option" else "argument"
        text = f"missing {kind} {(error.param.opts or [error.param.name])[0]}"
    elif isinstance(error, click_errors.BadParameter) and error.param is not None:
        opts = [*error.param.opts, *error.param.secondary_opts]
        if error.param.param_type_name == "option" and opts:
            value = _given_value(opts, argv)
            where = opts[0] if value is None else f"{opts[0]} {value}"
        else:
            where = str(getattr(error.param, "human_readable_name", error.param.name))
        text = f"{where}: {message}"
    else:
        text = message[:1].lower() + message[1:]
    ctx: Any = getattr(error, "ctx", None)
    if ctx is not None:
        text += f" (see `{ctx.command_path} --help`)"  # instead of Click's usage block
    return text


def main() -> None:
    """Entry point of the `hubsense` console script."""
    debug = "--debug" in sys.argv
    try:
        _register()
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click_errors.NoArgsIsHelpError as error:
        sys.exit(error.exit_code)  # typer printed the help already
    except click_errors.ClickException as error:
        typer.echo(f"hubsense: error: {usage_error_line(error, sys.argv[1:])}", err=True)
        sys.exit(error.exit_code)
    except typer.Abort:  # Ctrl-C at a prompt
        typer.echo("hubsense: interrupted", err=True)
        sys.exit(130)
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
