"""`hubsense edge …`: run the agent, check a node (doctor), watch it live.

Imports only typer and the standard library at module level; the agent,
paho, gpiozero and bleak are imported inside the commands so `hubsense
--help` stays fast and works without the edge extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help=(
        "The edge agent on a Raspberry Pi: PIR and BTHome sensors, desk states, durable outbox.\n\n"
        "Example: `hubsense edge run --config /etc/hubsense/node.yaml`"
    ),
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path,
    typer.Option(
        "--config", "-c", help="The node config file (node.yaml).", envvar="HUBSENSE_EDGE_CONFIG"
    ),
]
_DEFAULT_CONFIG = Path("/etc/hubsense/node.yaml")


@app.command()
def run(config: ConfigOption = _DEFAULT_CONFIG) -> None:
    """Run the edge agent until SIGTERM or Ctrl-C.

    Example: `hubsense edge run --config node.yaml`
    """
    import asyncio
    import signal

    from hubsense.edge.agent import EdgeAgent

    from hubsense.node_config import load_node_config

    agent = EdgeAgent(load_node_config(config))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent.request_stop)
        await agent.run()

    asyncio.run(main())


@app.command()
def doctor(
    config: ConfigOption = _DEFAULT_CONFIG,
    listen_s: Annotated[
        float, typer.Option("--listen-s", help="How long to listen for BLE sensors and the broker.")
    ] = 15.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the checklist as JSON.")] = False,
) -> None:
    """Check this node: config, GPIO, BLE, broker, credentials, ACL, clock, outbox, disk.

    Prints one line per check with PASS/FAIL/WARN and a fix; exits 1 if any check fails.
    Example: `sudo -u hubsense hubsense edge doctor --config /etc/hubsense/node.yaml`
    """
    import json

    from hubsense.edge.doctor import run_checks

    from hubsense.checks import any_failed

    checks = run_checks(config, listen_s)
    if json_out:
        typer.echo(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        for check in checks:
            typer.echo(check.line())
    if any_failed(checks):
        raise typer.Exit(1)


@app.command()
def watch(
    config: ConfigOption = _DEFAULT_CONFIG,
    duration_s: Annotated[
        float | None,
        typer.Option("--duration-s", help="Stop after this long (default: until Ctrl-C)."),
    ] = None,
) -> None:
    """Show every sensor and desk state live, so an installer can wave at a PIR and see it flip.

    Reads the sensors directly and shows what the agent would decide; when the agent
    service is running it also shows the node's status and events from the broker.
    Example: `hubsense edge watch --config node.yaml`
    """
    from hubsense.edge.watch import watch_node

    from hubsense.node_config import load_node_config

    watch_node(load_node_config(config), duration_s)
