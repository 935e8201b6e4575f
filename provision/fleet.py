"""The provisioning steps the CLI runs: one function per command, files in, files out.

Each step that changes credentials rewrites the broker's password and ACL
files (where `provision broker` last put them) and reloads a running broker,
so a revoked node is cut off at once. Must not print; returns what it did.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hubsense.provision import pki
from hubsense.provision.acl import API_USER, INGEST_USER, Role
from hubsense.provision.broker import (
    BrokerPlan,
    ensure_ca,
    load_plan,
    refresh_broker,
    reload_broker,
    service_password,
    write_broker_files,
)
from hubsense.provision.bundle import BundleRequest, write_bundle
from hubsense.provision.store import CredentialStore

from hubsense.errors import ConfigError
from hubsense.inventory.model import Inventory
from hubsense.logs import get_logger
from hubsense.mqtt_url import parse_mqtt_url

if TYPE_CHECKING:
    from hubsense.provision.verify import VerifyTarget

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class BundleOptions:
    out_dir: Path
    broker_url: str | None = None
    etc_dir: Path = Path("/etc/hubsense")
    node_state_dir: Path = Path("/var/lib/hubsense")
    pip_spec: str | None = None


@dataclass(frozen=True, slots=True)
class NodeResult:
    node: str
    generation: int
    bundle: Path | None
    broker_reloaded: bool


def load_inventory_for(provision_dir: Path, inventory_file: Path | None) -> tuple[Inventory, Path]:
    """The inventory named on the command line, else the one `provision broker` used last."""
    from hubsense.inventory.file import load_inventory

    if inventory_file is None:
        plan = load_plan(provision_dir)
        if plan is None:
            raise ConfigError(
                "no inventory: pass --inventory FILE (or run `hubsense provision broker` once)"
            )
        inventory_file = Path(plan.inventory)
    return load_inventory(inventory_file), inventory_file


def default_broker_url(provision_dir: Path) -> str:
    """mqtts://FIRST-HOSTNAME:TLS-PORT of the broker certificate `provision broker` issued."""
    plan = load_plan(provision_dir)
    cert = provision_dir / "server.pem"
    if plan is None or not cert.exists():
        raise ConfigError(
            "no broker URL: pass --broker-url (or run `hubsense provision broker` first)"
        )
    return f"mqtts://{pki.server_hostnames(cert.read_bytes())[0]}:{plan.tls_port}"


def generate_broker(
    provision_dir: Path,
    inventory: Inventory,
    plan: BrokerPlan,
    hostnames: list[str],
    now: dt.datetime,
) -> tuple[list[Path], bool]:
    files = write_broker_files(provision_dir, inventory, plan, hostnames, now)
    return files, reload_broker(Path(plan.pid_file) if plan.pid_file else None)


def _bundle(
    provision_dir: Path,
    inventory: Inventory,
    node: str,
    secret: str,
    generation: int,
    options: BundleOptions,
    now: dt.datetime,
) -> Path:
    ca = ensure_ca(provision_dir, inventory.organisation, now)
    url = options.broker_url or default_broker_url(provision_dir)
    parse_mqtt_url(url)
    request = BundleRequest(
        node_id=node,
        broker_url=url,
        secret=secret,
        generation=generation,
        ca_pem=ca.cert_pem,
        out_dir=options.out_dir,
        etc_dir=options.etc_dir,
        node_state_dir=options.node_state_dir,
        **({"pip_spec": options.pip_spec} if options.pip_spec else {}),
    )
    return write_bundle(inventory, request, now)


def _site_of(inventory: Inventory, node: str) -> str:
    try:
        return inventory.site_of_node[node]
    except KeyError:
        raise ConfigError(f"node {node}: not in the inventory") from None


def provision_node(
    provision_dir: Path, inventory: Inventory, node: str, options: BundleOptions, now: dt.datetime
) -> NodeResult:
    """New credentials and a bundle for a node never provisioned (or revoked before)."""
    site = _site_of(inventory, node)
    # Resolve the URL before any secret exists, so a usage error leaves nothing behind.
    options = _with_url(provision_dir, options)
    with CredentialStore(provision_dir).update() as credentials:
        secret = credentials.issue(node, Role.NODE, site, now)
        generation = credentials.users[node].generation
        bundle = _bundle(provision_dir, inventory, node, secret, generation, options, now)
    log.info("node_provisioned", node=node, site=site, generation=generation, bundle=str(bundle))
    return NodeResult(node, generation, bundle, refresh_broker(provision_dir, inventory))


def rotate_node(
    provision_dir: Path, inventory: Inventory, node: str, options: BundleOptions, now: dt.datetime
) -> NodeResult:
    """A new secret and bundle; the old secret stops working when the broker reloads."""
    _site_of(inventory, node)
    options = _with_url(provision_dir, options)
    with CredentialStore(provision_dir).update() as credentials:
        secret = credentials.rotate(node, now)
        generation = credentials.users[node].generation
        bundle = _bundle(provision_dir, inventory, node, secret, generation, options, now)
    log.info("node_rotated", node=node, generation=generation, bundle=str(bundle))
    return NodeResult(node, generation, bundle, refresh_broker(provision_dir, inventory))


def revoke_node(
    provision_dir: Path, inventory: Inventory, node: str, now: dt.datetime
) -> NodeResult:
    """Revoke a node's credentials: refused at connect, and disconnected if connected."""
    with CredentialStore(provision_dir).update() as credentials:
        changed = credentials.revoke(node, now)
        generation = credentials.users[node].generation
    log.info("node_revoked", node=node, already=not changed)
    return NodeResult(node, generation, None, refresh_broker(provision_dir, inventory))


def _with_url(provision_dir: Path, options: BundleOptions) -> BundleOptions:
    if options.broker_url:
        return options
    return BundleOptions(
        out_dir=options.out_dir,
        broker_url=default_broker_url(provision_dir),
        etc_dir=options.etc_dir,
        node_state_dir=options.node_state_dir,
        pip_spec=options.pip_spec,
    )


def verify_target(provision_dir: Path, bundle_dir: Path, mqtt_url: str | None) -> VerifyTarget:
    """What `provision verify` needs: the node's login from its bundle, the services' from here."""
    from hubsense.provision.verify import Login, VerifyTarget

    from hubsense.node_config import load_node_config

    config = load_node_config(bundle_dir / "node.yaml")
    try:
        secret = (bundle_dir / "mqtt-password").read_text().strip()
    except OSError as error:
        raise ConfigError(f"{bundle_dir / 'mqtt-password'}: {error.strerror}") from error
    url = parse_mqtt_url(mqtt_url or config.broker.url)
    return VerifyTarget(
        site=config.site,
        node=config.node,
        url=url,
        node_login=Login(config.broker.username or config.node, secret),
        node_ca=bundle_dir / "ca.pem",
        ingest_login=Login(INGEST_USER, service_password(provision_dir, INGEST_USER)),
        api_login=Login(API_USER, service_password(provision_dir, API_USER)),
        server_ca=provision_dir / "ca.pem",
    )
