"""API keys: roles, the key format, hashing, and the `api_keys` table.

A key is `hsk_<key_id>_<secret>`; only SHA-256(secret) is stored (the secret has 256
random bits, so a fast hash suffices). Roles (issue 6): *facilities* sees everything,
*hub_manager* only its sites, *booking_tool* only the bookings endpoints. Must not
decide what a route allows (that is `auth`); never logs a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hubsense.errors import ConfigError, InputError

if TYPE_CHECKING:
    import psycopg

PREFIX = "hsk"
_KEY_RE = re.compile(r"^hsk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,200})$")


class Role(StrEnum):
    FACILITIES = "facilities"
    HUB_MANAGER = "hub_manager"
    BOOKING_TOOL = "booking_tool"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's id, role and (hub managers) sites."""

    key_id: str
    role: Role
    sites: frozenset[str]

    def may_see(self, site: str) -> bool:
        return self.role is Role.FACILITIES or (
            self.role is Role.HUB_MANAGER and site in self.sites
        )


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # shown once
    key_id: str
    role: Role
    sites: tuple[str, ...]


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """(key_id, secret) of a well-formed key, else None."""
    match = _KEY_RE.match(key.strip())
    return (match.group(1), match.group(2)) if match else None


def make_key(role: Role, sites: tuple[str, ...] = ()) -> tuple[NewKey, str]:
    """A fresh key and the hash to store."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(f"{PREFIX}_{key_id}_{secret}", key_id, role, sites), hash_secret(secret)


def check_role_sites(role: Role, sites: tuple[str, ...]) -> None:
    if role is Role.HUB_MANAGER and not sites:
        raise ConfigError("--role hub_manager: name its sites with --site (one or more)")
    if role is not Role.HUB_MANAGER and sites:
        raise ConfigError(f"--site: only a hub_manager key is limited to sites, not {role.value}")


def create_key(
    conn: psycopg.Connection[Any], role: Role, sites: tuple[str, ...] = (), name: str = ""
) -> NewKey:
    """Store a new key (its hash) and return it; sites must exist."""
    check_role_sites(role, sites)
    if sites:
        known = {
            row[0]
            for row in conn.execute("SELECT id FROM sites WHERE id = ANY(%s)", (list(sites),))
        }
        missing = sorted(set(sites) - known)
        if missing:
            raise InputError(f"--site {', '.join(missing)}: no such site in the inventory")
    new, secret_hash = make_key(role, sites)
    with conn.transaction():
        conn.execute(
            "INSERT INTO api_keys (key_id, secret_hash, role, sites, name)"
            " VALUES (%s, %s, %s, %s, %s)",
            (new.key_id, secret_hash, role.value, list(sites), name),
        )
    return new


def lookup(conn: psycopg.Connection[Any], key: str) -> Principal | None:
    """The principal of a valid, unrevoked key, else None."""
    parts = split_key(key)
    if parts is None:
        return None
    key_id, secret = parts
    row = conn.execute(
        "SELECT secret_hash, role, sites FROM api_keys WHERE key_id = %s AND revoked_at IS NULL",
        (key_id,),
    ).fetchone()
    if row is None or not hmac.compare_digest(row[0], hash_secret(secret)):
        return None
    return Principal(key_id, Role(row[1]), frozenset(row[2]))


def revoke_key(conn: psycopg.Connection[Any], key_id: str) -> bool:
    with conn.transaction():
        cursor = conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL",
            (key_id,),
        )
    return cursor.rowcount == 1


def list_keys(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT key_id, role, sites, name, created_at, revoked_at FROM api_keys ORDER BY created_at"
    ).fetchall()
    return [
        {
            "key_id": r[0],
            "role": r[1],
            "sites": list(r[2]),
            "name": r[3],
            "created_at": r[4].isoformat(),
            "revoked_at": r[5].isoformat() if r[5] else None,
        }
        for r in rows
    ]
