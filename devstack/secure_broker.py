"""Secure the private broker of `hubsense services up --inventory FILE`.

The generated files go to `STATE_DIR/mosquitto/auth/` (the broker's own
directory, handed to its account on every start) and the provisioning state
to `STATE_DIR/provision/`. Both listeners stay on 127.0.0.1: the plain one
now needs a password too, the TLS one uses the generated CA and, as in production, makes
each client's id its username (a node's credentials connect only as that node; see
`provision.broker.include_lines`). Once secured, a
later `services up` without `--inventory` keeps the security files (it never
falls back to anonymous by itself); delete `STATE_DIR/mosquitto/auth/` to go
back to an anonymous development broker.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hubsense.devstack.ports import LOOPBACK, free_port
from hubsense.provision.broker import BrokerPlan, include_lines, load_plan, write_broker_files

# Names the private broker's certificate is valid for: it listens on loopback only.
PRIVATE_HOSTNAMES = [LOOPBACK, "localhost"]


def auth_dir(state_dir: Path) -> Path:
    return Path(state_dir).absolute() / "mosquitto" / "auth"


def provision_dir(state_dir: Path) -> Path:
    return Path(state_dir).absolute() / "provision"


def private_broker_lines(
    state_dir: Path, inventory_file: Path | None, tls_port: int | None, plain_port: int
) -> tuple[list[str], int] | None:
    """Config lines and TLS port for the private broker, or None for an anonymous dev broker."""
    from hubsense.inventory.file import load_inventory

    out = auth_dir(state_dir)
    previous = load_plan(provision_dir(state_dir))
    if inventory_file is None:
        if previous is None or not (out / "hubsense.conf").exists():
            return None
        return include_lines(out, previous.tls_port, previous.tls_bind), previous.tls_port
    port = tls_port or (previous.tls_port if previous else None) or free_port()
    plan = BrokerPlan(
        out_dir=str(out),
        inventory=str(Path(inventory_file).absolute()),
        tls_port=port,
        tls_bind=LOOPBACK,
        plain_port=plain_port,
        pid_file=str(out.parent / "mosquitto.pid"),
    )
    inventory = load_inventory(inventory_file)
    write_broker_files(
        provision_dir(state_dir), inventory, plan, PRIVATE_HOSTNAMES, dt.datetime.now(dt.UTC)
    )
    return include_lines(out, port, LOOPBACK), port
