"""The ACL file from the inventory: exact text, active users only, no name clash with services."""

from __future__ import annotations

import re
from pathlib import Path

from hubsense.provision.acl import (
    API_USER,
    INGEST_USER,
    Access,
    Grant,
    acl_file_text,
    acl_grants,
)
from hubsense.provision.passwords import check_username

from hubsense.broker_identity import credential_owner, doctor_username
from hubsense.inventory.file import load_inventory
from hubsense.wire import ID_PATTERN

INVENTORY = Path(__file__).parent / "inventory.yaml"


def test_acl_text_for_the_test_inventory() -> None:
    inventory = load_inventory(INVENTORY)
    grants = acl_grants(inventory, ["pi-a", "pi-h", INGEST_USER, API_USER])
    assert acl_file_text(grants).splitlines()[2:] == [
        "",
        "user hubsense_api",
        "topic write hubsense/v1/+/+/config",
        "topic write hubsense/v1/+/bookings",
        "",
        "user hubsense_ingest",
        "topic read hubsense/v1/+/+/events",
        "topic read hubsense/v1/+/+/status",
        "",
        "user pi-a",
        "topic write hubsense/v1/hq/pi-a/events",
        "topic write hubsense/v1/hq/pi-a/status",
        "topic read hubsense/v1/hq/pi-a/config",
        "",
        "user pi-a.doctor",
        "topic write hubsense/v1/hq/pi-a/events",
        "topic write hubsense/v1/hq/pi-a/status",
        "topic read hubsense/v1/hq/pi-a/config",
        "",
        "user pi-h",
        "topic write hubsense/v1/hub-1/pi-h/events",
        "topic write hubsense/v1/hub-1/pi-h/status",
        "topic read hubsense/v1/hub-1/pi-h/config",
        "",
        "user pi-h.doctor",
        "topic write hubsense/v1/hub-1/pi-h/events",
        "topic write hubsense/v1/hub-1/pi-h/status",
        "topic read hubsense/v1/hub-1/pi-h/config",
    ]


def test_nodes_without_active_credentials_and_unknown_users_get_nothing() -> None:
    inventory = load_inventory(INVENTORY)
    # pi-b never provisioned; "pi-gone" has credentials but left the inventory.
    grants = acl_grants(inventory, ["pi-a", "pi-gone"])
    assert list(grants) == ["pi-a", "pi-a.doctor"]
    assert grants["pi-a"][0] == Grant(Access.WRITE, "hubsense/v1/hq/pi-a/events")


def test_no_line_before_the_first_user_so_anonymous_gets_nothing() -> None:
    text = acl_file_text(acl_grants(load_inventory(INVENTORY), ["pi-a"]))
    before_first_user = text.split("\nuser ", 1)[0]
    assert [
        line for line in before_first_user.splitlines() if not line.startswith("#") and line
    ] == []


def test_service_users_can_never_be_node_ids() -> None:
    for user in (INGEST_USER, API_USER):
        assert not re.match(ID_PATTERN, user)


def test_doctor_logins_are_never_node_or_service_names() -> None:
    longest = "n" + "-" * 62  # the longest node id wire.ID_PATTERN allows
    doctor = doctor_username(longest)
    assert not re.fullmatch(ID_PATTERN.strip("^$"), doctor)
    assert doctor not in (INGEST_USER, API_USER)
    assert check_username(doctor) == doctor  # fits the password file
    assert credential_owner(doctor) == longest and credential_owner(INGEST_USER) == INGEST_USER
