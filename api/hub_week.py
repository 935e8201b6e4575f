"""The hub page's week (docs/api.md "This week"): the site's current ISO week per day, the
next 7 days' booking counts and the day most people come.

Days before today come from the rollups (`analytics_site_day`): finished days. Today always
comes from the events so far (`today.read_desks_used`; its time together is put in from the
live `today` when the state is rendered): a rollup row of today covers only part of it, and
the page must not show two numbers for today. Later days carry no numbers. The booking
counts are `profile.upcoming_counts` (what `GET /v1/sites/{site}/upcoming` gives) and the
day is `analytics.decision.community_day`. `week_days` and `community` are pure;
`read_week` does the reads. Must not write.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from hubsense.analytics.decision import COMMUNITY_WINDOW_DAYS, SiteDay, community_day, iso_week
from hubsense.api import models
from hubsense.api.today import WEEKDAYS, opening_spans

from hubsense.logs import get_logger

if TYPE_CHECKING:
    from hubsense.inventory.model import Site

log = get_logger(__name__)

# A day is named only from this many ISO weeks with measured open days: one Tuesday is no habit.
COMMUNITY_MIN_WEEKS = 2
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NOT_ENOUGH = "Not enough weeks measured yet to say which day most people come"
NOBODY = "Too few people came in the last 8 weeks to say which day most people come"
NO_INVENTORY = "The stored inventory does not validate, so no day can be named yet"
NOT_IN_INVENTORY = "This site is not in the stored inventory, so no day can be named"


def week_days(
    today: dt.date,
    zone: ZoneInfo,
    hours: dict[str, list[str]],
    closed: set[dt.date],
    rows: list[SiteDay],
    used_today: int | None,
) -> list[models.WeekDay]:
    """Monday to Sunday of `today`'s ISO week: rollup rows before today, `used_today` today."""
    rolled = {d.day: d for d in rows}
    monday = today - dt.timedelta(days=today.weekday())
    days = []
    for k in range(7):
        day = monday + dt.timedelta(days=k)
        r = rolled.get(day) if day < today else None
        used: int | None
        if r is not None:
            source, used, together, is_open = "rollup", r.desks_used, r.copresence_s, r.open
        else:
            source = "live" if day == today else "not_measured" if day < today else "future"
            used = used_today if day == today else None
            together, is_open = None, bool(opening_spans(hours, closed, day, zone))
        days.append(
            models.WeekDay(
                date=day,
                weekday=WEEKDAYS[k],
                open=is_open,
                source=source,
                desks_used=used,
                copresence_s=together,
            )
        )
    return days


def community(
    site: Site | None, rows: list[SiteDay], today: dt.date, inventory_valid: bool = True
) -> tuple[str | None, int, str]:
    """(the day to name or None, ISO weeks measured in the 56 days before today, the line).

    `site` None: not in the stored inventory (or that did not validate): hours unknown."""
    first = today - dt.timedelta(days=COMMUNITY_WINDOW_DAYS)
    measured = [d for d in rows if d.open and first <= d.day < today]
    weeks = len({iso_week(d.day) for d in measured})
    best = community_day(site, rows, today) if site is not None else None
    # community_day picks the highest mean even when it is 0: nobody came is no community day.
    came = any(d.desks_used for d in measured if best and WEEKDAYS[d.day.weekday()] == best)
    if site is None:
        return None, weeks, NO_INVENTORY if not inventory_valid else NOT_IN_INVENTORY
    if weeks < COMMUNITY_MIN_WEEKS:
        return None, weeks, f"{NOT_ENOUGH} ({weeks} of {COMMUNITY_MIN_WEEKS} weeks)"
    if best is None or not came:
        return None, weeks, NOBODY
    return best, weeks, f"Most people come on {DAY_NAMES[WEEKDAYS.index(best)]}s"


def read_week(conn: Any, site: str, now: dt.datetime) -> models.HubWeek | None:
    """The site's week at `now` (the app's clock); None when there is no such site."""
    from hubsense.analytics.io.decision_read import site_days, stored_inventory
    from hubsense.api.profile import upcoming_counts
    from hubsense.api.today import read_desks_used

    from hubsense.inventory.model import DEFAULT_USED_MIN_S

    row = conn.execute(
        "SELECT timezone, opening_hours, closed_dates FROM sites WHERE id = %s", (site,)
    ).fetchone()
    if row is None:
        return None
    zone = ZoneInfo(row[0])
    today = now.astimezone(zone).date()
    try:
        inventory = stored_inventory(conn)
    except ValueError as error:  # stored by an older version, no longer valid
        log.warning("hub_week_inventory_invalid", site=site, error=str(error))
        inventory = None
    used_min_s = inventory.used_min_s if inventory is not None else DEFAULT_USED_MIN_S
    monday = today - dt.timedelta(days=today.weekday())
    # site_days(monday, today) also holds the 56 days before today (the community window).
    rows = [d for d in site_days(conn, monday, today) if d.site == site]
    used_today = read_desks_used(conn, site, now, used_min_s)
    site_of = inventory.site_by_id.get(site) if inventory is not None else None
    named, weeks, line = community(site_of, rows, today, inventory is not None)
    return models.HubWeek(
        week=iso_week(today),
        days=week_days(today, zone, row[1], set(row[2]), rows, used_today),
        upcoming=[
            models.UpcomingBookings(date=day, weekday=WEEKDAYS[day.weekday()], bookings=n)
            for day, n in upcoming_counts(conn, site, now)
        ],
        used_min_s=used_min_s,
        community_day=named,
        community_weeks=weeks,
        community_min_weeks=COMMUNITY_MIN_WEEKS,
        community_line=line,
    )
