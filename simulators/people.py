"""Simulated people and their days: who goes where, when they sit at a desk.

Pure: no I/O, no clock; randomness comes from `random.Random` instances seeded
from (seed, date), so a day's plan does not depend on the window it is
generated for (a backfill and a later live run agree on the same day).

The model follows the pilot of README.md: people work about half remotely. Each
person has a home office and, when the organisation has hubs, a local hub; on a
workday they go to the office, to their hub or stay home, with personal
propensities. Most visits are booked ahead, some are walk-ins, and some people
book and never come (no-shows). Present time is one block from arrival to
leaving, minus lunch, meetings and short breaks, inside the site's opening hours.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from enum import StrEnum

from hubsense.inventory.model import Inventory, Site, SiteKind
from hubsense.site_time import clip_to_spans, open_spans_s, wall_ms

# Local wall-clock windows in seconds since midnight (issue text: arrivals ~07:30-09:30,
# lunch ~11:30-13:00 for 30-60 min, leaving ~15:30-17:30).
ARRIVE_S = (7 * 3600 + 1800, 9 * 3600 + 1800)
LEAVE_S = (15 * 3600 + 1800, 17 * 3600 + 1800)
LUNCH_START_S = (11 * 3600 + 1800, 13 * 3600)
LUNCH_S = (30 * 60, 60 * 60)
MEETING_S = (20 * 60, 90 * 60)
BREAK_S = (3 * 60, 12 * 60)


class DayKind(StrEnum):
    OFFICE = "office"
    HUB = "hub"
    HOME = "home"


@dataclass(frozen=True, slots=True)
class Behaviour:
    """Population-level knobs; the defaults give ~50% remote work and ~15% no-shows."""

    people_per_office_desk: float = 1.6
    office_share: tuple[float, float] = (0.25, 0.65)  # per person, drawn once
    # Hubs see light use (README.md): on a workday about this share of hub desks is used,
    # spread over everyone as personal hub propensities.
    hub_use: float = 0.3
    weekend_factor: float = 0.03
    book_office: float = 0.85
    book_hub: float = 0.6
    no_show: float = 0.15
    # Of the people working from home on a workday, this share buys a co-working day pass.
    day_pass: float = 0.05


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    office: str | None
    hub: str | None
    office_share: float
    hub_share: float


@dataclass(frozen=True, slots=True)
class Visit:
    """One person's day at one desk; `presence` is empty for a no-show."""

    person: str
    site: str
    desk: str
    day: dt.date
    booked: bool
    no_show: bool
    # Planned arrival and leaving in UTC ms (the booking is made from these).
    planned_ms: tuple[int, int]
    presence_ms: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class DayPlan:
    day: dt.date
    kinds: dict[str, DayKind] = field(default_factory=dict)
    visits: tuple[Visit, ...] = ()


def population(inventory: Inventory, seed: int, behaviour: Behaviour = Behaviour()) -> list[Person]:
    """The organisation's people, derived from its desks; the same for the same seed."""
    rng = random.Random(f"{seed}:population")
    offices = [s for s in inventory.sites if s.kind is SiteKind.OFFICE and s.desks]
    hubs = [s for s in inventory.sites if s.kind is SiteKind.HUB and s.desks]
    office_desks = sum(len(s.desks) for s in offices)
    # Without an office everyone is a hub user; hubs then get ~3 people a desk.
    count = math.ceil(
        office_desks * behaviour.people_per_office_desk
        if offices
        else 3 * sum(len(s.desks) for s in hubs)
    )
    hub_desks = sum(len(s.desks) for s in hubs)
    hub_mean = min(0.3, behaviour.hub_use * hub_desks / count) if count else 0.0
    people: list[Person] = []
    for i in range(count):
        office = rng.choices(offices, [len(s.desks) for s in offices])[0].id if offices else None
        hub = rng.choices(hubs, [len(s.desks) for s in hubs])[0].id if hubs else None
        people.append(
            Person(
                id=f"p{i:05d}",
                office=office,
                hub=hub,
                office_share=rng.uniform(*behaviour.office_share) if office else 0.0,
                hub_share=rng.uniform(0.0, 2 * hub_mean) if hub else 0.0,
            )
        )
    return people


def choose_day(person: Person, day: dt.date, rng: random.Random, behaviour: Behaviour) -> DayKind:
    """Office, hub or home for one person and day."""
    factor = behaviour.weekend_factor if day.weekday() >= 5 else 1.0
    draw = rng.random()
    if draw < person.office_share * factor:
        return DayKind.OFFICE
    if draw < (person.office_share + person.hub_share) * factor:
        return DayKind.HUB
    return DayKind.HOME


def workday_s(rng: random.Random) -> tuple[int, int, list[tuple[int, int]]]:
    """Arrival, leaving and present intervals of one day, in local seconds since midnight."""
    arrive = rng.randint(*ARRIVE_S)
    leave = rng.randint(*LEAVE_S)
    lunch_start = rng.randint(*LUNCH_START_S)
    away = [(lunch_start, lunch_start + rng.randint(*LUNCH_S))]
    for _ in range(rng.randint(0, 3)):
        start = rng.randint(arrive, leave)
        away.append((start, start + rng.randint(*MEETING_S)))
    for _ in range(rng.randint(0, 3)):
        start = rng.randint(arrive, leave)
        away.append((start, start + rng.randint(*BREAK_S)))
    return arrive, leave, subtract([(arrive, leave)], sorted(away))


def subtract(
    intervals: list[tuple[int, int]], holes: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Sorted intervals minus sorted holes."""
    out: list[tuple[int, int]] = []
    for start, end in intervals:
        cursor = start
        for hole_start, hole_end in holes:
            if hole_end <= cursor or hole_start >= end:
                continue
            if hole_start > cursor:
                out.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
        if cursor < end:
            out.append((cursor, end))
    return out


def plan_day(
    inventory: Inventory,
    people: list[Person],
    day: dt.date,
    seed: int,
    behaviour: Behaviour = Behaviour(),
) -> DayPlan:
    """Everyone's plan for one local date (each site reads `day` in its own timezone)."""
    rng = random.Random(f"{seed}:day:{day.isoformat()}")
    kinds = {p.id: choose_day(p, day, rng, behaviour) for p in people}
    visitors: dict[str, list[str]] = {site.id: [] for site in inventory.sites}
    for person in people:
        target = {DayKind.OFFICE: person.office, DayKind.HUB: person.hub}.get(kinds[person.id])
        if target is not None:
            visitors[target].append(person.id)
    visits: list[Visit] = []
    for site in inventory.sites:
        site_rng = random.Random(f"{seed}:site:{site.id}:{day.isoformat()}")
        visits.extend(_site_visits(site, day, visitors[site.id], site_rng, behaviour))
    placed = {v.person for v in visits}
    for person_id, kind in list(kinds.items()):
        if kind is not DayKind.HOME and person_id not in placed:
            kinds[person_id] = DayKind.HOME  # closed site or no free desk: worked from home
    return DayPlan(day=day, kinds=kinds, visits=tuple(visits))


def _site_visits(
    site: Site, day: dt.date, person_ids: list[str], rng: random.Random, behaviour: Behaviour
) -> list[Visit]:
    spans = open_spans_s(site, day)
    if not site.is_open_on(day) or not site.desks:
        return []
    p_book = behaviour.book_office if site.kind is SiteKind.OFFICE else behaviour.book_hub
    intents = [(pid, rng.random() < p_book, rng.random() < behaviour.no_show) for pid in person_ids]
    # Bookers claim desks first (they booked ahead); walk-ins take what is left unbooked.
    intents.sort(key=lambda intent: not intent[1])
    free = [desk.id for desk in site.desks]
    rng.shuffle(free)
    visits: list[Visit] = []
    for person_id, booked, no_show in intents:
        if not free:
            break
        desk = free.pop()
        arrive, leave, present = workday_s(rng)
        clipped = clip_to_spans(present, spans)
        if not clipped:
            continue
        window = clip_to_spans([(arrive, leave)], [(spans[0][0], spans[-1][1])])[0]
        visits.append(
            Visit(
                person=person_id,
                site=site.id,
                desk=desk,
                day=day,
                booked=booked,
                no_show=booked and no_show,
                planned_ms=(
                    wall_ms(day, window[0], site.zoneinfo),
                    wall_ms(day, window[1], site.zoneinfo),
                ),
                presence_ms=()
                if booked and no_show
                else tuple(
                    (wall_ms(day, a, site.zoneinfo), wall_ms(day, b, site.zoneinfo))
                    for a, b in clipped
                ),
            )
        )
    return visits


def day_passes(
    inventory: Inventory, plan: DayPlan, seed: int, behaviour: Behaviour = Behaviour()
) -> list[tuple[str, str, dt.date]]:
    """Day passes bought on the plan's day as (pass_id, site, date): some of the people at
    home go to an open coworking site instead. Counts only: the pass id names the site,
    day and a running number, never the person."""
    sites = [s for s in inventory.sites if s.kind is SiteKind.COWORKING and s.is_open_on(plan.day)]
    if not sites:
        return []
    rng = random.Random(f"{seed}:daypasses:{plan.day.isoformat()}")
    bought: dict[str, int] = {}
    for person_id in sorted(plan.kinds):
        if plan.kinds[person_id] is DayKind.HOME and rng.random() < behaviour.day_pass:
            site = rng.choice(sites).id
            bought[site] = bought.get(site, 0) + 1
    return [
        (f"sim-{site}-{plan.day.isoformat()}-{n:04d}", site, plan.day)
        for site in sorted(bought)
        for n in range(bought[site])
    ]
