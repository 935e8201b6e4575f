"""One plain-language paragraph per site, and the number formats the report uses.

Written for people who decide on office area, not for analysts: what was measured, how
many desks are really needed, what could be given up, and how much to trust it. Pure:
figures in, text out.
"""

from __future__ import annotations

import datetime as dt

from hubsense.report.model import SiteFigures

# Below this share of opening hours observed, the paragraph advises measuring longer.
LOW_OBSERVATION = 0.8
# A hub where people meet on fewer than half its open days gives a poor social environment.
LOW_COPRESENCE_DAYS = 0.5
# A hub is a place to meet: recommendations never take one below two desks.
MIN_HUB_DESKS = 2


def number(value: float, decimals: int = 0) -> str:
    """1234567.8 → "1 234 568": thin spaces as thousands separators, no locale."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u202f")


def percent(value: float | None) -> str:
    return "\u2013" if value is None else f"{value * 100:.0f}\u202f%"


def hours(seconds: int) -> str:
    return f"{seconds / 3600:.1f}\u202fh"


def _span(start: dt.date, end: dt.date) -> str:
    last = end - dt.timedelta(days=1)
    return f"{start:%-d %B %Y} to {last:%-d %B %Y}"


def conclude(site: SiteFigures, start: dt.date, end: dt.date, percentile: int) -> str:
    """The paragraph for one site over [start, end)."""
    if site.days_open == 0:
        return (
            f"{site.name} was not open on any day from {_span(start, end)}, so nothing can be "
            "concluded about its desks for this period."
        )
    parts = [
        f"From {_span(start, end)}, {site.name} was open on {site.days_open} days. "
        f"At the busiest moment {site.max_peak} of its {site.capacity} desks were in use at "
        f"the same time; on {percentile}\u202f% of the open days no more than "
        f"{site.desks_needed} were."
    ]
    lonely = site.kind == "hub" and site.days_with_copresence / site.days_open < LOW_COPRESENCE_DAYS
    # A hub is for meeting: never below two desks, and a lone hub is told to gather people.
    keep = max(site.desks_needed, MIN_HUB_DESKS) if site.kind == "hub" else site.desks_needed
    fewer = site.capacity - keep
    if site.observed_share is not None and site.observed_share == 0:
        parts.append(
            " The sensors saw none of its opening hours in this period, so no saving is shown."
        )
    elif fewer > 0 and lonely:
        parts.append(
            " Do not cut desks here yet: people rarely meet at this hub, and fewer desks would "
            "not change that."
        )
    elif fewer > 0:
        text = (
            f" {keep} desks would therefore be enough: {fewer} fewer than "
            f"today ({percent(fewer / site.capacity)} of the desks)"
        )
        if site.area_per_desk_m2 is not None:
            text += f", which frees about {number(fewer * site.area_per_desk_m2)}\u202fm²"
        if site.cost_per_desk_month is not None:
            saving = fewer * site.cost_per_desk_month
            text += (
                f" and about {number(saving)} a month ({number(12 * saving)} a year) in desk costs"
            )
        parts.append(text + ".")
    elif site.kind == "hub" and site.surplus > 0:
        parts.append(
            f" Keep its {site.capacity} desks: fewer were in use at once, but a hub needs at "
            "least two to meet at."
        )
    else:
        parts.append(
            " On busy days every desk was needed, so the site should keep its current desks."
        )
    if site.kind == "hub":
        share = site.days_with_copresence / site.days_open
        parts.append(
            f" People worked there together (two or more at once) on {site.days_with_copresence} "
            f"of the {site.days_open} open days, {hours(site.copresence_s)} in all."
        )
        if share < LOW_COPRESENCE_DAYS:
            parts.append(
                " That is too seldom for a good social work environment: agree fixed hub days "
                "for the teams living nearby, or consider sharing the hub with a neighbouring one."
            )
    if site.bookings:
        parts.append(
            f" Of {site.bookings} bookings, {site.no_shows} were no-shows "
            f"({percent(site.no_show_rate)}), and booked desks were really used "
            f"{percent(site.true_utilisation)} of the booked time."
        )
    observed = site.observed_share
    if observed is not None and observed < LOW_OBSERVATION:
        parts.append(
            f" The sensors saw only {percent(observed)} of the opening hours, so measure "
            "longer before acting on these numbers."
        )
    return "".join(parts)
