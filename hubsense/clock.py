"""What "now" is for the processes that show or act on the present: the API and the watcher.

In production it is the wall clock. The demo hands them the simulator's clock instead
(`hubsense.simulators.clock.SimClock.now`), so the hub page and the release of no-shows
follow the simulated day rather than the night outside.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def wall_clock() -> dt.datetime:
    """Now, as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)
