"""`hubsense provision …`: node credentials and bundles, the broker's ACL and TLS, verify.

Imports only typer and the standard library at module level; the provisioning
code (cryptography, paho) is imported inside the commands.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help=(
        "Per-node broker credentials, the broker's password/ACL/TLS files, installer bundles.\n\n"
        "Example: `hubsense provision broker -i inventory.yaml --hostname mqtt.example.org`, then "
        "`hubsense provision node pi-hq-3a -i inventory.yaml --out bundles/`."
    ),
    no_args_is_help=True,
)

NodeArg = Annotated[str, typer.Argument(help="The node id of the inventory.")]
InventoryOpt = Annotated[
    Path | None,
    typer.Option(
        "--inventory", "-i", help="The inventory file (default: the one `provision broker` used)."
    ),
]
ProvisionDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--provision-dir",
        envvar="HUBSENSE_PROVISION_DIR",
        help="Where the CA key, credential hashes and service secrets live "
        "(default STATE_DIR/provision; keep it private and backed up).",
    ),
]
StateDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir", help="State directory (default .hubsense; env HUBSENSE_SERVICES__STATE_DIR)."
    ),
]
OutOpt = Annotated[
    Path, typer.Option("--out", "-o", help="Directory to write the node's bundle into.")
]
BrokerUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--broker-url",
        help="URL nodes use, e.g. mqtts://mqtt.example.org:8883 "
        "(default: the broker certificate's first name and TLS port).",
    ),
]
EtcOpt = Annotated[
    Path, typer.Option("--etc-dir", help="Where the node keeps node.yaml, CA and secret.")
]
NodeStateOpt = Annotated[
    Path, typer.Option("--node-state-dir", help="The node's state_dir (outbox).")
]
PipOpt = Annotated[
    str | None, typer.Option("--pip-spec", help="What the node pip-installs at first boot.")
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


def _provision_dir(provision_dir: Path | None, state_dir: Path | None) -> Path:
    if provision_dir is not None:
        return provision_dir.absolute()
    from hubsense.settings import load_settings

    settings = load_settings()
    return (state_dir or settings.services.state_dir).absolute() / "provision"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _emit(result: dict[str, Any], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(result, indent=2, default=str) if as_json else text)


@app.command()
def broker(
    inventory: InventoryOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Where to write the broker files (default PROVISION_DIR/broker)."
        ),
    ] = None,
    hostname: Annotated[
        list[str] | None,
        typer.Option(
            "--hostname",
            help="A name or IP nodes use to "
            "reach the broker; repeat for several (default localhost, 127.0.0.1).",
        ),
    ] = None,
    tls_port: Annotated[int, typer.Option("--tls-port", help="Port of the TLS listener.")] = 8883,
    tls_bind: Annotated[
        str, typer.Option("--tls-bind", help="Address the TLS listener binds.")
    ] = "0.0.0.0",
    plain_port: Annotated[
        int, typer.Option("--plain-port", help="Loopback plain port in mosquitto.conf.")
    ] = 1883,
    pid_file: Annotated[
        Path | None,
        typer.Option(
            "--pid-file",
            help="The broker's pid file: reload it "
            "(SIGHUP) now and after every node/rotate/revoke.",
        ),
    ] = None,
    provision_dir: ProvisionDirOpt = None,
    state_dir: StateDirOpt = None,
    as_json: JsonOut = False,
) -> None:
    """Write Mosquitto's password file, ACL, CA, server certificate and config from the inventory.

    Example: `hubsense provision broker -i inventory.yaml --hostname mqtt.example.org
    --out /etc/mosquitto/hubsense --pid-file /run/mosquitto/mosquitto.pid`
    """
    from hubsense.provision.broker import BrokerPlan
    from hubsense.provision.fleet import generate_broker, load_inventory_for

    directory = _provision_dir(provision_dir, state_dir)
    inv, inv_path = load_inventory_for(directory, inventory)
    plan = BrokerPlan(
        out_dir=str((out or directory / "broker").absolute()),
        inventory=str(inv_path.absolute()),
        tls_port=tls_port,
        tls_bind=tls_bind,
        plain_port=plain_port,
        pid_file=str(pid_file.absolute()) if pid_file else None,
    )
    files, reloaded = generate_broker(
        directory, inv, plan, hostname or ["localhost", "127.0.0.1"], _now()
    )
    lines = [f"wrote {path}" for path in files]
    lines.append(f"broker reloaded: {'yes' if reloaded else 'no (not running or no --pid-file)'}")
    lines.append(
        f"include {plan.out_dir}/hubsense.conf in your mosquitto.conf, "
        f"or run it with -c {plan.out_dir}/mosquitto.conf"
    )
    _emit({"files": [str(p) for p in files], "reloaded": reloaded}, as_json, "\n".join(lines))


def _bundle_options(
    out: Path, broker_url: str | None, etc_dir: Path, node_state_dir: Path, pip_spec: str | None
) -> Any:
    from hubsense.provision.fleet import BundleOptions

    return BundleOptions(
        out_dir=out.absolute(),
        broker_url=broker_url,
        etc_dir=etc_dir,
        node_state_dir=node_state_dir,
        pip_spec=pip_spec,
    )


def _node_text(verb: str, result: Any) -> str:
    lines = [f"{result.node}: {verb}, credentials generation {result.generation}"]
    if result.bundle is not None:
        lines.append(
            f"bundle: {result.bundle} (holds the only copy of the secret; hand it to the installer)"
        )
    reloaded = "yes" if result.broker_reloaded else "no (run `hubsense provision broker`)"
    lines.append(f"broker reloaded: {reloaded}")
    return "\n".join(lines)


def _node_json(result: Any) -> dict[str, Any]:
    return {
        "node": result.node,
        "generation": result.generation,
        "bundle": str(result.bundle) if result.bundle else None,
        "reloaded": result.broker_reloaded,
    }


def _bundle_command(action: str, verb: str) -> Callable[..., None]:
    """One command body for `node` and `rotate`: the same options, the same bundle and
    output; only the fleet function (`action`) and the word printed (`verb`) differ."""

    def command(
        node_id: NodeArg,
        inventory: InventoryOpt = None,
        out: OutOpt = Path("bundles"),
        broker_url: BrokerUrlOpt = None,
        etc_dir: EtcOpt = Path("/etc/hubsense"),
        node_state_dir: NodeStateOpt = Path("/var/lib/hubsense"),
        pip_spec: PipOpt = None,
        provision_dir: ProvisionDirOpt = None,
        state_dir: StateDirOpt = None,
        as_json: JsonOut = False,
    ) -> None:
        from hubsense.provision import fleet

        directory = _provision_dir(provision_dir, state_dir)
        inv, _ = fleet.load_inventory_for(directory, inventory)
        options = _bundle_options(out, broker_url, etc_dir, node_state_dir, pip_spec)
        result = getattr(fleet, action)(directory, inv, node_id, options, _now())
        _emit(_node_json(result), as_json, _node_text(verb, result))

    return command


node = app.command(
    "node",
    help="""Create a node's broker credentials and write its installer bundle.

Only a hash of the secret is kept here; the bundle holds the secret. A node that has
credentials already needs `rotate`; a revoked node gets new ones (a replacement Pi).
Example: `hubsense provision node pi-hq-3a -i inventory.yaml --out bundles/`""",
)(_bundle_command("provision_node", "provisioned"))

rotate = app.command(
    "rotate",
    help="""Give a node a new secret (and a new bundle); the old secret stops working at once.

Example: `hubsense provision rotate pi-hq-3a --out bundles/`""",
)(_bundle_command("rotate_node", "rotated"))


@app.command()
def revoke(
    node_id: NodeArg,
    inventory: InventoryOpt = None,
    provision_dir: ProvisionDirOpt = None,
    state_dir: StateDirOpt = None,
    as_json: JsonOut = False,
) -> None:
    """Revoke a node's credentials: the broker refuses it and drops its connection.

    Example: `hubsense provision revoke pi-hq-3a` (a lost or stolen Pi)
    """
    from hubsense.provision.fleet import load_inventory_for, revoke_node

    directory = _provision_dir(provision_dir, state_dir)
    inv, _ = load_inventory_for(directory, inventory)
    result = revoke_node(directory, inv, node_id, _now())
    _emit(_node_json(result), as_json, _node_text("revoked", result))


@app.command("list")
def list_(
    provision_dir: ProvisionDirOpt = None, state_dir: StateDirOpt = None, as_json: JsonOut = False
) -> None:
    """List broker users (role, site, generation, revoked; never secrets) and certificate expiry.

    Example: `hubsense provision list --json`
    """
    from hubsense.provision.broker import certificates
    from hubsense.provision.store import CredentialStore

    directory = _provision_dir(provision_dir, state_dir)
    credentials = CredentialStore(directory).read()
    certs = certificates(directory)
    rows = {
        name: cred.model_dump(mode="json", exclude={"hash"})
        for name, cred in sorted(credentials.users.items())
    }
    text = (
        "\n".join(
            f"{name:<24} {row['role']:<7} {row['site'] or '-':<16} gen {row['generation']:<3} "
            f"{'REVOKED ' + row['revoked_at'] if row['revoked_at'] else 'active'}"
            for name, row in rows.items()
        )
        or "no credentials yet"
    )
    for cert in certs:
        text += f"\n{cert['file']:<24} expires {cert['expires_at']:%Y-%m-%d}  {cert['subject']}"
    _emit({"users": rows, "certificates": certs}, as_json, text)


@app.command()
def verify(
    node_id: NodeArg,
    bundle: Annotated[
        Path | None,
        typer.Option(
            "--bundle",
            help="The node's bundle directory (node.yaml, mqtt-password, ca.pem); "
            "default bundles/NODE_ID.",
        ),
    ] = None,
    mqtt_url: Annotated[
        str | None,
        typer.Option(
            "--mqtt-url",
            help="Reach the broker here instead of node.yaml's URL (same credentials).",
        ),
    ] = None,
    provision_dir: ProvisionDirOpt = None,
    state_dir: StateDirOpt = None,
    as_json: JsonOut = False,
) -> None:
    """Connect to the real broker as the node and prove what it may and may not do.

    Prints a checklist (PASS/FAIL/SKIP); exits 1 if any check fails. Leaves one dead letter
    (reason invalid_schema) from the allowed events probe.
    Example: `hubsense provision verify pi-hq-3a --bundle bundles/pi-hq-3a`
    """
    from hubsense.provision.fleet import verify_target
    from hubsense.provision.verify import verify as run_verify

    from hubsense.checks import Status
    from hubsense.errors import ConfigError

    bundle_dir = bundle if bundle is not None else Path("bundles") / node_id
    target = verify_target(_provision_dir(provision_dir, state_dir), bundle_dir, mqtt_url)
    if target.node != node_id:
        raise ConfigError(f"{bundle_dir}: the bundle is for node {target.node}, not {node_id}")
    checks = run_verify(target)
    if as_json:
        typer.echo(json.dumps([check.as_dict() for check in checks], indent=2))
    else:
        typer.echo(f"verify {node_id} at {target.url.redacted()}")
        for check in checks:
            typer.echo(check.line())
    if any(check.status is not Status.PASS for check in checks):
        raise typer.Exit(1)
