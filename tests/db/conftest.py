"""The TimescaleDB lane fixtures `timescale_lane` and `timescale_dsn` (the lane: timescale_lane.py).

When the npm packages are missing the fixture fails, naming `.ci/timescale-setup`:
a lane that quietly skips would let the TimescaleDB path rot.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from timescale_lane import LaneMissingError, TimescaleLane, cached_template, start_lane


@pytest.fixture(scope="session")
def timescale_template() -> Path:
    """An empty lane data dir (cached in node_modules); `start_lane(dir, template=…)` copies it."""
    missing = None
    try:
        return cached_template()
    except LaneMissingError as error:
        missing = str(error)
    # Outside the except block, so the report is this one line, not a chained traceback.
    pytest.fail(missing, pytrace=False)


@pytest.fixture(scope="session")
def timescale_lane(
    tmp_path_factory: pytest.TempPathFactory, timescale_template: Path
) -> Iterator[TimescaleLane]:
    """A private PGlite+TimescaleDB server for the session (fails if the lane is not set up)."""
    lane = start_lane(tmp_path_factory.mktemp("timescale-lane"), template=timescale_template)
    try:
        yield lane
    finally:
        lane.stop()


@pytest.fixture(scope="session")
def timescale_dsn(timescale_lane: TimescaleLane) -> str:
    """DSN of the session's lane: `postgresql://postgres:postgres@127.0.0.1:PORT/postgres`."""
    return timescale_lane.dsn
