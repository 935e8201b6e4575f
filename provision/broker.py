"""Mosquitto's security configuration, generated from the inventory and the credential store.

`PROVISION_DIR` keeps what only the provisioning host holds: `ca.key`, the
credential store and the service users' secrets. `write_broker_files` writes
what the broker needs into an output directory: `passwords` (hashes),
`acl`, `ca.pem`, `server.pem`, `server.key`, `hubsense.conf` (lines to include
in a Mosquitto config: no anonymous access, the password and ACL files, a TLS
listener) and `mosquitto.conf` (a complete broker config with a plain listener
on 127.0.0.1 for ingest and the API on the broker host, and the TLS listener
for nodes). `broker.json` in the provision directory remembers where the files
went, so `provision node|rotate|revoke` rewrite them and reload the broker (SIGHUP).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hubsense.provision import pki
from hubsense.provision.acl import SERVICE_USERS, acl_file_text, acl_grants
from hubsense.provision.passwords import password_file_text
from hubsense.provision.store import Credentials, CredentialStore

from hubsense.broker_identity import credential_owner
from hubsense.errors import ConfigError
from hubsense.inventory.model import Inventory
from hubsense.logs import get_logger
from hubsense.wire import MAX_PACKET_BYTES

log = get_logger(__name__)

BROKER_STATE = "broker.json"
DEFAULT_TLS_PORT = 8883
# Renew the server certificate when it has less than this left.
RENEW_BEFORE = dt.timedelta(days=30)


def write_private(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Write a file atomically with `mode` from the start (a secret is never world-readable)."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(raw)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def ensure_ca(provision_dir: Path, organisation: str, now: dt.datetime) -> pki.KeyPair:
    """The provision directory's CA, created on first use."""
    cert, key = provision_dir / "ca.pem", provision_dir / "ca.key"
    if cert.exists() and key.exists():
        return pki.KeyPair(cert.read_bytes(), key.read_bytes())
    provision_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = pki.create_ca(organisation, now)
    write_private(key, ca.key_pem)
    write_private(cert, ca.cert_pem, 0o644)
    log.info("ca_created", path=str(cert), fingerprint=pki.fingerprint(ca.cert_pem))
    return ca


def ensure_server_cert(
    provision_dir: Path, ca: pki.KeyPair, hostnames: list[str], now: dt.datetime
) -> pki.KeyPair:
    """The broker's certificate; issued again when the names change or it is about to expire."""
    cert, key = provision_dir / "server.pem", provision_dir / "server.key"
    if cert.exists() and key.exists():
        current = pki.KeyPair(cert.read_bytes(), key.read_bytes())
        fresh = pki.expires_at(current.cert_pem) - now > RENEW_BEFORE
        signed_by_ca = current.cert.issuer == ca.cert.subject
        if fresh and signed_by_ca and pki.server_hostnames(current.cert_pem) == hostnames:
            return current
    server = pki.create_server_cert(ca, hostnames, now)
    write_private(key, server.key_pem)
    write_private(cert, server.cert_pem, 0o644)
    log.info(
        "server_cert_issued", hostnames=hostnames, expires=str(pki.expires_at(server.cert_pem))
    )
    return server


def ensure_service_users(provision_dir: Path, now: dt.datetime) -> dict[str, Path]:
    """Credentials for ingest and the API; their secrets live in `services/` (mode 0600).

    Server processes need their own secret in clear to connect, unlike nodes,
    whose secrets leave with the bundle and exist here only as hashes.
    """
    secrets_dir = provision_dir / "services"
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = {user: secrets_dir / f"{user}.password" for user in SERVICE_USERS.values()}
    with CredentialStore(provision_dir).update() as credentials:
        for role, user in SERVICE_USERS.items():
            current = credentials.users.get(user)
            if current is not None and current.active and files[user].exists():
                continue
            if current is not None and current.active:
                secret = credentials.rotate(user, now)  # its secret file was lost
            else:
                secret = credentials.issue(user, role, None, now)
            write_private(files[user], secret + "\n")
            log.info("service_user_created", user=user)
    return files


def service_password(provision_dir: Path, user: str) -> str:
    path = provision_dir / "services" / f"{user}.password"
    try:
        return path.read_text().strip()
    except OSError as error:
        raise ConfigError(
            f"{path}: {error.strerror}; run `hubsense provision broker` first"
        ) from error


def certificates(provision_dir: Path) -> list[dict[str, Any]]:
    """The CA and server certificate of the provision directory: subject, names, expiry."""
    found = []
    for name in ("ca.pem", "server.pem"):
        path = provision_dir / name
        if path.exists():
            pem = path.read_bytes()
            cert = pki.KeyPair(pem, b"").cert
            names = pki.server_hostnames(pem) if name == "server.pem" else []
            found.append(
                {
                    "file": name,
                    "subject": cert.subject.rfc4514_string(),
                    "names": names,
                    "expires_at": pki.expires_at(pem),
                }
            )
    return found


@dataclass(frozen=True, slots=True)
class BrokerPlan:
    """Where the broker files go and how its TLS listener is set up (saved as broker.json)."""

    out_dir: str
    inventory: str
    tls_port: int = DEFAULT_TLS_PORT
    tls_bind: str = "0.0.0.0"
    plain_port: int = 1883
    pid_file: str | None = None


def save_plan(provision_dir: Path, plan: BrokerPlan) -> None:
    write_private(provision_dir / BROKER_STATE, json.dumps(asdict(plan), indent=2) + "\n")


def load_plan(provision_dir: Path) -> BrokerPlan | None:
    try:
        data = json.loads((provision_dir / BROKER_STATE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ConfigError(f"{provision_dir / BROKER_STATE}: unreadable: {error}") from error
    return BrokerPlan(**data)


def include_lines(out_dir: Path, tls_port: int, tls_bind: str) -> list[str]:
    """Lines for a Mosquitto config (global `per_listener_settings false`): auth, ACL, TLS listener.

    They also cap the packet size (`max_packet_size`), so `full_config` and a
    config that includes `hubsense.conf` both refuse oversized publishes.

    Later global settings override earlier ones in mosquitto.conf, so appended
    to a config that says `allow_anonymous true` these still deny anonymous clients.

    On the TLS listener (the nodes' way in) a client's id is its username, whatever id it
    sends (`use_username_as_clientid`, a listener setting in Mosquitto 2.0.11): a node's
    credentials connect only as that node, so node B cannot take node A's session (MQTT
    drops the first of two connections with one client id). The services' plain loopback
    listener keeps the ids they send: ingest workers share a username, not a client id.
    """
    return [
        "# hubsense: per-node credentials, ACL and TLS (generated by `hubsense provision broker`)",
        "allow_anonymous false",
        f"password_file {out_dir / 'passwords'}",
        f"acl_file {out_dir / 'acl'}",
        f"listener {tls_port} {tls_bind}",
        "use_username_as_clientid true",
        f"cafile {out_dir / 'ca.pem'}",
        f"certfile {out_dir / 'server.pem'}",
        f"keyfile {out_dir / 'server.key'}",
        "tls_version tlsv1.2",
        # Global: a client sending a larger packet is disconnected (see MAX_PACKET_BYTES).
        f"max_packet_size {MAX_PACKET_BYTES}",
    ]


def full_config(plan: BrokerPlan) -> str:
    """A complete broker config for a production host (Debian's mosquitto package layout)."""
    lines = [
        "# Generated by `hubsense provision broker`: Mosquitto 2 for hubsense.",
        "per_listener_settings false",
        "persistence true",
        "persistence_location /var/lib/mosquitto/",
        "log_dest syslog",
        # 0 = unlimited: the default 1000 silently drops QoS 1 messages of offline clients.
        "max_queued_messages 0",
        "max_queued_bytes 0",
        "persistent_client_expiration 1y",
        "# Plain MQTT on loopback only: ingest and the API on this host. Still authenticated.",
        f"listener {plan.plain_port} 127.0.0.1",
        *include_lines(Path(plan.out_dir), plan.tls_port, plan.tls_bind),
    ]
    return "\n".join(lines) + "\n"


def refresh_auth_files(out_dir: Path, inventory: Inventory, credentials: Credentials) -> None:
    """Rewrite `passwords` and `acl` from the store (active users only) and the inventory."""
    active = credentials.active_hashes()
    grants = acl_grants(inventory, active)
    # A user is in the password file only when it has ACL lines: a credential whose node
    # left the inventory cannot even connect. A doctor login takes its node's hash, so
    # rotating or revoking the node does the same to its doctor.
    entries = ((u, active[credential_owner(u)]) for u in grants)
    write_private(out_dir / "passwords", password_file_text(entries))
    write_private(out_dir / "acl", acl_file_text(grants))


def write_broker_files(
    provision_dir: Path,
    inventory: Inventory,
    plan: BrokerPlan,
    hostnames: list[str],
    now: dt.datetime,
) -> list[Path]:
    """Everything the broker needs in `plan.out_dir`; returns the files written."""
    out_dir = Path(plan.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = ensure_ca(provision_dir, inventory.organisation, now)
    server = ensure_server_cert(provision_dir, ca, hostnames, now)
    ensure_service_users(provision_dir, now)
    refresh_auth_files(out_dir, inventory, CredentialStore(provision_dir).read())
    write_private(out_dir / "ca.pem", ca.cert_pem, 0o644)
    write_private(out_dir / "server.pem", server.cert_pem, 0o644)
    write_private(out_dir / "server.key", server.key_pem)
    include = include_lines(out_dir, plan.tls_port, plan.tls_bind)
    write_private(out_dir / "hubsense.conf", "\n".join(include) + "\n", 0o644)
    write_private(out_dir / "mosquitto.conf", full_config(plan), 0o644)
    save_plan(provision_dir, plan)
    _hand_to_broker(out_dir)
    log.info("broker_files_written", out_dir=str(out_dir), tls_port=plan.tls_port)
    return [out_dir / name for name in BROKER_FILES]


BROKER_FILES = (
    "passwords",
    "acl",
    "ca.pem",
    "server.pem",
    "server.key",
    "hubsense.conf",
    "mosquitto.conf",
)


def _hand_to_broker(out_dir: Path) -> None:
    """As root, give the files to the `mosquitto` account: it reads them again on SIGHUP."""
    from hubsense.errors import ServiceError
    from hubsense.host import hand_over, is_root, service_account

    if is_root():
        try:
            account = service_account("mosquitto")
        except ServiceError:  # no such account (no Mosquitto here): the files stay root's
            return
        hand_over(out_dir, account)


def reload_broker(pid_file: Path | None) -> bool:
    """SIGHUP the broker of `pid_file` so it reads the password and ACL files again.

    Mosquitto then also re-checks connected clients against the new files and
    disconnects those no longer allowed (a revoked node is cut off at once).
    False when there is no such running broker.
    """
    if pid_file is None:
        return False
    try:
        pid = int(Path(pid_file).read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return False
    if comm != "mosquitto":
        return False
    os.kill(pid, signal.SIGHUP)
    log.info("broker_reloaded", pid=pid)
    return True


def refresh_broker(provision_dir: Path, inventory: Inventory) -> bool:
    """After a credential change: rewrite passwords and ACL where `provision broker` put them.

    Returns whether a running broker was told to reload. No plan: nothing to
    refresh yet (the next `provision broker` writes the files).
    """
    plan = load_plan(provision_dir)
    if plan is None:
        return False
    out_dir = Path(plan.out_dir)
    refresh_auth_files(out_dir, inventory, CredentialStore(provision_dir).read())
    _hand_to_broker(out_dir)
    return reload_broker(Path(plan.pid_file) if plan.pid_file else None)
