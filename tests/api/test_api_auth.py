"""API keys and roles over HTTP: 401 without or with a wrong key, 403 for a wrong role or site."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from api_helpers import HUB, SITE, ApiServer, Keys
from hubsense.api.keys import Role, create_key, hash_secret, lookup, revoke_key, split_key
from support.database import query

from hubsense.errors import ConfigError, InputError

pytestmark = pytest.mark.service
HUBSENSE = str(Path(sys.executable).parent / "hubsense")


def test_keys_are_stored_hashed(api_dsn: str, keys: Keys) -> None:
    rows = query(api_dsn, "SELECT key_id, secret_hash, role, sites FROM api_keys ORDER BY name")
    assert [(r[2], r[3]) for r in rows] == [
        ("facilities", []),
        ("hub_manager", [HUB]),
        ("booking_tool", []),
    ]
    for key in (keys.facilities, keys.hub_manager, keys.booking_tool):
        key_id, secret = split_key(key)  # type: ignore[misc]
        stored = next(r for r in rows if r[0] == key_id)
        assert stored[1] == hash_secret(secret) and secret not in stored[1]
        assert len(stored[1]) == 64


@pytest.mark.parametrize(
    "path",
    [
        "/v1/sites",
        f"/v1/sites/{SITE}",
        f"/v1/sites/{SITE}/occupancy",
        "/v1/fleet",
        "/v1/bookings",
        f"/v1/sites/{SITE}/metrics?from=2026-03-02&to=2026-03-03",
    ],
)
def test_no_key_is_401(api: ApiServer, path: str) -> None:
    with api.client() as client:
        response = client.get(path)
    assert response.status_code == 401
    assert response.json() == {"detail": "missing API key"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_or_malformed_key_is_401(api: ApiServer, keys: Keys) -> None:
    tampered = keys.facilities[:-4] + ("AAAA" if not keys.facilities.endswith("AAAA") else "BBBB")
    for key in (tampered, "hsk_000000000000_" + "x" * 43, "nonsense"):
        with api.client(key) as client:
            response = client.get("/v1/sites")
        assert response.status_code == 401, key
        assert response.json() == {"detail": "invalid or revoked API key"}


def test_x_api_key_header_works(api: ApiServer, keys: Keys) -> None:
    with api.client() as client:
        response = client.get("/v1/sites", headers={"X-API-Key": keys.facilities})
    assert response.status_code == 200
    assert [s["id"] for s in response.json()] == [SITE, HUB]


def test_booking_tool_gets_403_outside_bookings(api: ApiServer, keys: Keys) -> None:
    with api.client(keys.booking_tool) as client:
        for path in (
            "/v1/sites",
            f"/v1/sites/{SITE}/occupancy",
            "/v1/fleet",
            "/v1/right-sizing?from=2026-03-02&to=2026-03-03",
        ):
            response = client.get(path)
            assert response.status_code == 403, path
            assert response.json() == {"detail": "the booking_tool role may not use this endpoint"}
        assert client.get("/v1/bookings").status_code == 200


def test_hub_manager_sees_only_its_sites(api: ApiServer, keys: Keys) -> None:
    with api.client(keys.hub_manager) as client:
        assert [s["id"] for s in client.get("/v1/sites").json()] == [HUB]
        assert client.get(f"/v1/sites/{HUB}").json()["capacity"] == 3
        for path in (
            f"/v1/sites/{SITE}",
            f"/v1/sites/{SITE}/desks",
            f"/v1/sites/{SITE}/occupancy",
            f"/v1/sites/{SITE}/fleet",
            f"/v1/bookings?site={SITE}",
        ):
            response = client.get(path)
            assert response.status_code == 403, path
            assert response.json() == {"detail": f"this key may not see site {SITE}"}
        assert [n["node"] for n in client.get("/v1/fleet").json()] == ["pi-h"]
        # An unknown site is 403 too, so a key cannot probe which sites exist.
        assert client.get("/v1/sites/nowhere").status_code == 403


def test_facilities_sees_everything_and_404_for_unknown(api: ApiServer, keys: Keys) -> None:
    with api.client(keys.facilities) as client:
        site = client.get(f"/v1/sites/{SITE}").json()
        assert site["capacity"] == 3 and site["zones"] == ["floor-3", "floor-4"]
        assert site["opening_hours"]["mon"] == ["00:00-24:00"]
        desks = client.get(f"/v1/sites/{SITE}/desks").json()
        assert [(d["id"], d["zone"], d["node"]) for d in desks] == [
            ("d-1", "floor-3", "pi-a"),
            ("d-2", "floor-3", "pi-a"),
            ("d-3", "floor-4", "pi-b"),
        ]
        assert [n["node"] for n in client.get("/v1/fleet").json()] == ["pi-a", "pi-b", "pi-h"]
        response = client.get("/v1/sites/nowhere")
        assert response.status_code == 404 and response.json() == {"detail": "no site nowhere"}


def test_revoked_key_is_401(api: ApiServer, api_dsn: str) -> None:
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        new = create_key(conn, Role.FACILITIES, name="temp")
        assert lookup(conn, new.key) is not None
    with api.client(new.key) as client:
        assert client.get("/v1/sites").status_code == 200
        with psycopg.connect(api_dsn, autocommit=True) as conn:
            assert revoke_key(conn, new.key_id) is True
            assert revoke_key(conn, new.key_id) is False
        assert client.get("/v1/sites").status_code == 401


def test_key_rules(api_dsn: str) -> None:
    with psycopg.connect(api_dsn, autocommit=True) as conn:
        with pytest.raises(ConfigError, match="hub_manager: name its sites"):
            create_key(conn, Role.HUB_MANAGER)
        with pytest.raises(ConfigError, match="only a hub_manager key"):
            create_key(conn, Role.FACILITIES, (SITE,))
        with pytest.raises(InputError, match="--site atlantis: no such site"):
            create_key(conn, Role.HUB_MANAGER, ("atlantis",))


def test_cli_key_create_list_revoke(api: ApiServer, api_dsn: str) -> None:
    created = subprocess.run(
        [
            HUBSENSE,
            "api",
            "key",
            "create",
            "--role",
            "hub_manager",
            "--site",
            HUB,
            "--name",
            "cli",
            "--dsn",
            api_dsn,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    key_id = split_key(key)[0]  # type: ignore[index]
    assert f"key id {key_id}, role hub_manager, sites {HUB}" in created.stderr
    with api.client(key) as client:
        assert [s["id"] for s in client.get("/v1/sites").json()] == [HUB]
    listed = subprocess.run(
        [HUBSENSE, "api", "key", "list", "--dsn", api_dsn],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f'"key_id": "{key_id}"' in listed.stdout and key.split("_")[-1] not in listed.stdout
    bad = subprocess.run(
        [HUBSENSE, "api", "key", "create", "--role", "boss", "--dsn", api_dsn],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "hubsense: error: --role 'boss': one of facilities, hub_manager, booking_tool"
    )
    revoked = subprocess.run(
        [HUBSENSE, "api", "key", "revoke", key_id, "--dsn", api_dsn],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert revoked.returncode == 0 and revoked.stdout.strip() == f"revoked {key_id}"
    with api.client(key) as client:
        assert client.get("/v1/sites").status_code == 401
