"""The server-side credential store: one JSON file of password hashes, never a secret.

`PROVISION_DIR/credentials.json` (mode 0600) holds, per broker user, its role,
site, `$7$` hash, generation and when it was created, rotated or revoked.
Revoked users are kept (who had access until when is an audit question), and
left out of the broker's password file and ACL.

Why a file and not a database table: the broker's password file is generated
from it on the broker's host, often before PostgreSQL exists, and it belongs
next to the CA key that signs the broker's certificate; one directory to back
up and protect, and provisioning works without a database. Writers hold an
exclusive `flock` on `credentials.lock` and replace the file atomically, so two
installers provisioning at once cannot lose each other's nodes. Must not keep
or log a secret.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from hubsense.provision.acl import Role
from hubsense.provision.passwords import mosquitto_hash, new_secret
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hubsense.errors import ConfigError, HubsenseError

STORE_FILE = "credentials.json"


class CredentialError(HubsenseError):
    """A provisioning step does not fit the node's credential state (e.g. rotate a revoked node)."""


class Credential(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    site: str | None = None
    hash: str
    generation: int = Field(ge=1)
    created_at: dt.datetime
    rotated_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    users: dict[str, Credential] = Field(default_factory=dict)

    def active_hashes(self) -> dict[str, str]:
        return {name: cred.hash for name, cred in self.users.items() if cred.active}

    def issue(self, username: str, role: Role, site: str | None, now: dt.datetime) -> str:
        """New credentials for a user never seen or revoked; a live user must be rotated instead."""
        current = self.users.get(username)
        if current is not None and current.active:
            raise CredentialError(
                f"{username}: already has credentials (generation {current.generation}); "
                f"use `hubsense provision rotate {username}` for a new secret"
            )
        secret = new_secret()
        self.users[username] = Credential(
            role=role,
            site=site,
            hash=mosquitto_hash(secret),
            generation=1 if current is None else current.generation + 1,
            created_at=now,
        )
        return secret

    def rotate(self, username: str, now: dt.datetime) -> str:
        """A new secret for a live user; the old one stops working at the next broker reload."""
        current = self._existing(username)
        if not current.active:
            raise CredentialError(
                f"{username}: revoked at {current.revoked_at:%Y-%m-%d %H:%M}Z; "
                f"provision it again with `hubsense provision node {username}`"
            )
        secret = new_secret()
        current.hash = mosquitto_hash(secret)
        current.generation += 1
        current.rotated_at = now
        return secret

    def revoke(self, username: str, now: dt.datetime) -> bool:
        """Revoke a user; False when it was revoked already (nothing changes)."""
        current = self._existing(username)
        if not current.active:
            return False
        current.revoked_at = now
        return True

    def _existing(self, username: str) -> Credential:
        try:
            return self.users[username]
        except KeyError:
            raise CredentialError(
                f"{username}: has no credentials; provision it with `hubsense provision node`"
            ) from None


class CredentialStore:
    """The store file of one provision directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / STORE_FILE

    def read(self) -> Credentials:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return Credentials()
        except OSError as error:
            raise ConfigError(f"{self.path}: unreadable: {error.strerror}") from error
        try:
            return Credentials.model_validate_json(text)
        except ValidationError as error:
            raise ConfigError(f"{self.path}: not a hubsense credential store: {error}") from error

    @contextlib.contextmanager
    def update(self) -> Iterator[Credentials]:
        """Read, let the caller change, write back atomically; all under an exclusive lock."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.directory / "credentials.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            credentials = self.read()
            yield credentials
            self._write(credentials)

    def _write(self, credentials: Credentials) -> None:
        tmp = self.path.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(credentials.model_dump_json(indent=2) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
