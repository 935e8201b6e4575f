"""The credential store: state transitions, hashes only, file mode, concurrent writers."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import stat
from pathlib import Path

import pytest
from hubsense.provision.acl import Role
from hubsense.provision.passwords import matches
from hubsense.provision.store import CredentialError, CredentialStore

T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=1)


def test_issue_rotate_revoke_reissue(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    with store.update() as creds:
        first = creds.issue("pi-a", Role.NODE, "hq", T0)
    text = store.path.read_text()
    assert first not in text  # only the hash is stored
    stored = store.read().users["pi-a"]
    assert (stored.role, stored.site, stored.generation, stored.created_at) == (
        Role.NODE,
        "hq",
        1,
        T0,
    )
    assert matches(first, stored.hash) and stored.active

    with pytest.raises(CredentialError, match="already has credentials"), store.update() as creds:
        creds.issue("pi-a", Role.NODE, "hq", T1)
    assert store.read().users["pi-a"].generation == 1

    with store.update() as creds:
        second = creds.rotate("pi-a", T1)
    stored = store.read().users["pi-a"]
    assert stored.generation == 2 and stored.rotated_at == T1
    assert matches(second, stored.hash) and not matches(first, stored.hash)

    with store.update() as creds:
        assert creds.revoke("pi-a", T1) is True
        assert creds.revoke("pi-a", T1) is False
    assert store.read().active_hashes() == {}
    with (
        pytest.raises(CredentialError, match="revoked at 2026-03-03 08:00Z"),
        store.update() as creds,
    ):
        creds.rotate("pi-a", T1)

    # A replacement Pi at the same place: provisioned again, a new generation.
    with store.update() as creds:
        third = creds.issue("pi-a", Role.NODE, "hq", T1)
    stored = store.read().users["pi-a"]
    assert stored.generation == 3 and stored.revoked_at is None and matches(third, stored.hash)


def test_unknown_user_cannot_be_rotated_or_revoked(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path)
    for action in ("rotate", "revoke"):
        with (
            pytest.raises(CredentialError, match="pi-x: has no credentials"),
            store.update() as creds,
        ):
            getattr(creds, action)("pi-x", T0)
    assert not store.path.exists()  # a failed step writes nothing


def test_store_file_is_private(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "prov")
    with store.update() as creds:
        creds.issue("pi-a", Role.NODE, "hq", T0)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    data = json.loads(store.path.read_text())
    assert set(data["users"]["pi-a"]) == {
        "role",
        "site",
        "hash",
        "generation",
        "created_at",
        "rotated_at",
        "revoked_at",
    }


def _issue_many(directory: str, prefix: str) -> None:
    store = CredentialStore(Path(directory))
    for i in range(15):
        with store.update() as creds:
            creds.issue(f"{prefix}-{i}", Role.NODE, "hq", T0)


def test_concurrent_provisioning_loses_nobody(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_issue_many, args=(str(tmp_path), f"n{w}")) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    users = CredentialStore(tmp_path).read().users
    assert len(users) == 45 and {f"n2-{i}" for i in range(15)} <= set(users)
