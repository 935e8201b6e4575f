"""Fixtures of the edge tests (helpers live in edge_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from edge_helpers import Collector


@pytest.fixture
def collector(mqtt_broker: Any) -> Iterator[Collector]:
    c = Collector(mqtt_broker.url)
    yield c
    c.close()
