"""Provisioning test helpers: a real Mosquitto secured with the generated files, probe clients.

A uniquely named module (not conftest) so `from provision_helpers import …` never
collides with another folder's conftest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hubsense.devstack.mosquitto import MosquittoServer
from hubsense.devstack.ports import LOOPBACK, free_port
from hubsense.provision.acl import API_USER, INGEST_USER, Role
from hubsense.provision.broker import (
    BrokerPlan,
    include_lines,
    save_plan,
    service_password,
    write_broker_files,
)
from hubsense.provision.store import CredentialStore
from hubsense.provision.verify import Login, ProbeClient

from hubsense.inventory.file import load_inventory
from hubsense.inventory.model import Inventory
from hubsense.mqtt_url import MqttUrl

INVENTORY_FILE = Path(__file__).parent / "inventory.yaml"
NOT_AUTHORIZED = 0x87


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class SecuredBroker:
    """A broker running the generated password file, ACL and TLS listener."""

    base: Path
    provision_dir: Path
    inventory: Inventory
    broker: MosquittoServer
    tls_port: int
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def ca_file(self) -> Path:
        return self.provision_dir / "ca.pem"

    def url(self, tls: bool = True) -> MqttUrl:
        return MqttUrl(LOOPBACK, self.tls_port if tls else self.broker.port, tls)

    def login(self, user: str) -> Login:
        if user in (INGEST_USER, API_USER):
            return Login(user, service_password(self.provision_dir, user))
        return Login(user, self.secrets[user])

    def probe(self, user: str, tls: bool = True, ca_file: Path | None = None) -> ProbeClient:
        """A connected (or refused: look at `.out.connack`) client of `user`."""
        client = ProbeClient(self.url(tls), self.login(user), ca_file or self.ca_file, user)
        client.connect()
        return client

    def stop(self) -> None:
        self.broker.stop()


def start_secured_broker(basetemp: Path, nodes: list[str]) -> SecuredBroker:
    """Issue credentials for `nodes`, write the broker files and start Mosquitto with them."""
    base = Path(tempfile.mkdtemp(prefix="secured-", dir=basetemp))
    provision_dir, broker_dir = base / "provision", base / "broker"
    inventory = load_inventory(INVENTORY_FILE)
    secrets: dict[str, str] = {}
    with CredentialStore(provision_dir).update() as credentials:
        for node in nodes:
            secrets[node] = credentials.issue(node, Role.NODE, inventory.site_of_node[node], now())
    tls_port = free_port()
    plan = BrokerPlan(
        out_dir=str(broker_dir / "auth"),
        inventory=str(INVENTORY_FILE),
        tls_port=tls_port,
        tls_bind=LOOPBACK,
    )
    write_broker_files(provision_dir, inventory, plan, [LOOPBACK, "localhost"], now())
    broker = MosquittoServer(
        broker_dir, extra_lines=include_lines(broker_dir / "auth", tls_port, LOOPBACK)
    )
    broker.start()
    # From now on node/rotate/revoke rewrite the files and SIGHUP this broker.
    save_plan(provision_dir, dataclasses.replace(plan, pid_file=str(broker.pid_file)))
    return SecuredBroker(base, provision_dir, inventory, broker, tls_port, secrets)


def refused(ack: tuple[int, str] | None, client: ProbeClient) -> bool:
    """A denied QoS 1 publish: PUBACK 0x87, or Mosquitto 2.0.11 dropped the client first."""
    if ack is not None:
        return ack[0] == NOT_AUTHORIZED
    return client.out.disconnected is not None
