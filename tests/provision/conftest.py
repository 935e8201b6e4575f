"""Fixtures of the provisioning tests (helpers live in provision_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from provision_helpers import SecuredBroker, start_secured_broker


@pytest.fixture(scope="module")
def secured(services_basetemp: Path) -> Iterator[SecuredBroker]:
    """A broker secured for the test inventory, with credentials for pi-a, pi-b and pi-h."""
    broker = start_secured_broker(services_basetemp, ["pi-a", "pi-b", "pi-h"])
    yield broker
    broker.stop()
