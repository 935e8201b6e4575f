"""Pure: the report's numbers of one site and period, and what follows from them.

Derived money and area follow the inventory: area per desk = area_m2 / capacity, area freed =
surplus x area per desk, saving = surplus x cost_per_desk_month (docs/metrics.md). Filled from
the rollups (`rollups.py`) or from a computation (`figures.py`); read by the page and charts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from hubsense.analytics.decision import ProfileCell

_MS_PER_S = 1000


@dataclass(frozen=True)
class Day:
    date: dt.date
    open: bool
    peak: int
    copresence_s: int
    alone_s: int = 0
    desks_used: int = 0


@dataclass(frozen=True)
class Week:
    start: dt.date  # the Monday
    observed_s: int
    occupied_s: int
    booked_observed_s: int
    booked_occupied_s: int
    copresence_s: int

    @property
    def occupancy_rate(self) -> float | None:
        return self.occupied_s / self.observed_s if self.observed_s else None

    @property
    def true_utilisation(self) -> float | None:
        return self.booked_occupied_s / self.booked_observed_s if self.booked_observed_s else None


@dataclass(frozen=True)
class SiteFigures:
    id: str
    name: str
    kind: str
    municipality: str | None
    capacity: int
    days_open: int
    desks_needed: int
    area_m2: float | None
    cost_per_desk_month: float | None
    observed_s: int
    occupied_s: int
    booked_observed_s: int
    booked_occupied_s: int
    unbooked_occupied_s: int
    open_s: int  # seconds of opening hours x desks in the period: what full observation would be
    bookings: int
    attended: int
    no_shows: int
    days: list[Day] = field(default_factory=list)
    weeks: list[Week] = field(default_factory=list)
    profile: list[ProfileCell] = field(default_factory=list)  # weekday x hour, open days
    source: str = "computed from the raw events"

    @property
    def surplus(self) -> int:
        return self.capacity - self.desks_needed

    @property
    def max_peak(self) -> int:
        return max((d.peak for d in self.days if d.open), default=0)

    @property
    def area_per_desk_m2(self) -> float | None:
        return self.area_m2 / self.capacity if self.area_m2 and self.capacity else None

    @property
    def area_freed_m2(self) -> float | None:
        per_desk = self.area_per_desk_m2
        return self.surplus * per_desk if per_desk is not None and self.surplus > 0 else None

    @property
    def saving_per_month(self) -> float | None:
        if self.cost_per_desk_month is None or self.surplus <= 0:
            return None
        return self.surplus * self.cost_per_desk_month

    @property
    def occupancy_rate(self) -> float | None:
        return self.occupied_s / self.observed_s if self.observed_s else None

    @property
    def true_utilisation(self) -> float | None:
        return self.booked_occupied_s / self.booked_observed_s if self.booked_observed_s else None

    @property
    def no_show_rate(self) -> float | None:
        decided = self.attended + self.no_shows
        return self.no_shows / decided if decided else None

    @property
    def observed_share(self) -> float | None:
        """Share of the opening hours the sensors saw: below ~1 the numbers carry less weight."""
        return self.observed_s / self.open_s if self.open_s else None

    @property
    def no_sensor_data(self) -> bool:
        """Open days but nothing observed: no desks needed, surplus or saving to show."""
        return self.days_open > 0 and self.observed_s == 0

    @property
    def copresence_s(self) -> int:
        return sum(d.copresence_s for d in self.days)

    @property
    def days_with_copresence(self) -> int:
        return sum(1 for d in self.days if d.open and d.copresence_s > 0)


def open_seconds(toggles: np.ndarray) -> int:
    """Seconds of opening hours in a site's toggle array [open, close, open, close, …]."""
    spans = toggles.reshape(-1, 2)
    return int((spans[:, 1] - spans[:, 0]).sum()) // _MS_PER_S
