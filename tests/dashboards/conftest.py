"""Fixtures for the boards' tests: every board as Grafana JSON."""

from __future__ import annotations

from typing import Any

import pytest
from hubsense.dashboards.build import BOARDS, board_json


@pytest.fixture(scope="session")
def boards() -> dict[str, dict[str, Any]]:
    return {name: board_json(name) for name in BOARDS}
