"""Simulated time for live runs: the demo's clock, which the simulator and the API both follow.

`SimClock` runs from a start instant at `speed` times real time once started, and never
passes the wall clock (ingest rejects events stamped too far in the future): having caught
up, it is the wall clock. `working_morning` picks where the demo's live day starts, so a
demo run at night or on a weekend still shows a hub filling up. Time sources are
parameters, so both are tested without waiting.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from hubsense.inventory.model import Inventory, Site
from hubsense.site_time import wall_ms, zone

# The demo's live day starts when people arrive, and needs a whole working day behind the
# wall clock so that at 60x there are at least ten real minutes of it to watch.
MORNING_S = 8 * 3600
WORKDAY_S = 10 * 3600
# How far back to look for an open day (a long holiday closes the main office for weeks).
SEARCH_DAYS = 60


class SimClock:
    """Simulated instants: `start_ms` until `start()`, then `speed` times real time, capped by
    the wall clock."""

    def __init__(
        self,
        start_ms: int,
        speed: float,
        *,
        catch_up: bool = True,
        wall_ms_now: Callable[[], int] = lambda: int(time.time() * 1000),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.start_ms = start_ms
        self.speed = speed
        self.catch_up = catch_up
        self._wall_ms = wall_ms_now
        self._monotonic = monotonic
        self._origin: float | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Let simulated time run from now on (again calling it changes nothing)."""
        with self._lock:
            if self._origin is None:
                self._origin = self._monotonic()

    def now_ms(self) -> int:
        origin = self._origin
        if origin is None:
            return self.start_ms
        sim = self.start_ms + int((self._monotonic() - origin) * self.speed * 1000)
        return min(sim, self._wall_ms()) if self.catch_up else sim

    def now(self) -> dt.datetime:
        """The simulated instant as an aware UTC datetime (what the API's clock returns)."""
        return dt.datetime.fromtimestamp(self.now_ms() / 1000, dt.UTC)

    def real_s_to_catch_up(self) -> float:
        """Real seconds from start until the simulated clock reaches the wall clock."""
        lag_ms = self._wall_ms() - self.start_ms
        return max(0.0, lag_ms / 1000 / (self.speed - 1)) if self.speed > 1 else 0.0


def clock_site(inventory: Inventory) -> Site:
    """The site whose days the demo follows: the main office, else the first office, else any."""
    by_id = {site.id: site for site in inventory.sites}
    if inventory.main_office in by_id:
        return by_id[inventory.main_office]
    offices = [site for site in inventory.sites if site.kind == "office"]
    return (offices or inventory.sites)[0]


def working_morning(site: Site, now_ms: int) -> int:
    """UTC ms of 08:00 on the latest day the site is open whose working day (to 18:00) is over.

    Skips weekends and closed dates through the site's own hours; a site never open in
    the last SEARCH_DAYS days falls back to yesterday 08:00.
    """
    tz = zone(site.timezone)
    today = dt.datetime.fromtimestamp(now_ms / 1000, tz).date()
    for back in range(SEARCH_DAYS):
        day = today - dt.timedelta(days=back)
        morning = wall_ms(day, MORNING_S, tz)
        if site.spans_on(day) and morning + WORKDAY_S * 1000 <= now_ms:
            return morning
    return wall_ms(today - dt.timedelta(days=1), MORNING_S, tz)


def describe(site: Site, start_ms: int, speed: float) -> str:
    """'simulated Tuesday 08:00, 60x real time', local 24 h (with a times sign)."""
    local = dt.datetime.fromtimestamp(start_ms / 1000, zone(site.timezone))
    return f"simulated {local:%A %H:%M}, {speed:g}× real time"  # noqa: RUF001
