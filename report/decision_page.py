"""The report's opening *Decision* section in plain language (docs/decisions.md figures).

Area to give up at the main office and what it funds in day passes, each hub's verdict
(keep, grow, cheaper as day passes, gather people), lone hubs with their ISO weeks, the
community day, commuting and CO₂ avoided per month against a year earlier, the data
quality, and every assumption with the inventory field that sets it. A missing input reads
"not set" with what to set, never 0. Pure: figures in, HTML out.
"""

from __future__ import annotations

from html import escape

from hubsense.analytics.decision import SiteDecision
from hubsense.report.conclusion import LOW_OBSERVATION, number, percent
from hubsense.report.decision import DecisionInputs
from hubsense.report.model import SiteFigures

NB = "\u202f"
DASH = "\u2013"
NOT_MEASURED = "not measured"
DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
             "fri": "Friday", "sat": "Saturday", "sun": "Sunday"}  # fmt: skip


def money(value: float, currency: str | None) -> str:
    """A sum with its currency; without one, says so (docs/decisions.md: `currency`)."""
    return (
        f"{number(value)}{NB}{escape(currency)}"
        if currency
        else (f"{number(value)} (currency not set: set <code>currency</code> in the inventory)")
    )


def not_set(field: str, where: str = "the inventory") -> str:
    return f"not set (set <code>{escape(field)}</code> in {escape(where)})"


def verdict(site: SiteFigures | None, figures: SiteDecision) -> str:
    """A hub's recommendation: a lone hub gathers people (never fewer desks), then cheaper
    as day passes, grow when its busy days used every desk, else keep."""
    if figures.not_measured or (site is not None and site.no_sensor_data):
        return "no sensor data: measure before deciding"
    if figures.lone_weeks:
        day = DAY_NAMES.get(figures.community_day or "")
        return "gather people" + (f" on {day}s" if day else "") + ", keep the desks"
    if figures.cheaper_as_day_passes:
        return "cheaper as day passes"
    if site is not None and site.days_open and site.desks_needed >= site.capacity:
        return "grow"
    return "keep"


def quality(sites: list[SiteFigures], inputs: DecisionInputs) -> str:
    """The headline's data quality: observed share of opening hours and nodes offline."""
    open_s = sum(s.open_s for s in sites)
    observed = sum(s.observed_s for s in sites) / open_s if open_s else None
    offline = inputs.nodes_offline
    nodes = f"{len(offline)} of {inputs.nodes} nodes offline now" + (
        f" ({escape(', '.join(offline))})" if offline else ""
    )
    text = f"Data quality: the sensors saw {percent(observed)} of the opening hours; {nodes}."
    blind = [s.name for s in sites if s.no_sensor_data]
    if blind:
        text += (
            f" No sensor data in this period for {escape(', '.join(blind))}: no desks needed, "
            "area or saving is presented for " + ("it." if len(blind) == 1 else "them.")
        )
    elif observed is not None and observed < LOW_OBSERVATION:
        text += " Measure longer before acting on these numbers."
    return f'<p class="quality">{text}</p>'


def _office(sites: dict[str, SiteFigures], inputs: DecisionInputs, n_days: int) -> str:
    inv, d = inputs.inventory, inputs.decision
    cur = d.currency
    main_id = inv.main_office
    if main_id is None:
        return f"<p>Main office: {not_set('main_office')}, so no area to give up is shown.</p>"
    main = sites.get(main_id)
    if main is None:
        return (f"<p>The main office ({escape(main_id)}) is not among this report's sites, "
                "so no area to give up is shown.</p>")  # fmt: skip
    name = escape(main.name)
    if main.no_sensor_data or main.days_open == 0:
        why = "the sensors saw nothing" if main.no_sensor_data else "it was not open"
        return (f"<p>No area to give up at {name} is presented: {why} in this period, "
                "so there is nothing to base a saving on.</p>")  # fmt: skip
    if main.surplus <= 0:
        return (f"<p>Keep all {main.capacity} desks at {name}: on busy days every desk "
                "was needed.</p>")  # fmt: skip
    parts = [f"Give up {main.surplus} of the {main.capacity} desks at {name}"]
    area = main.area_freed_m2
    parts.append(
        f" (about {number(area)}{NB}m²)" if area is not None
        else f" (area: {not_set('area_m2', 'the inventory for ' + main_id)})"
    )  # fmt: skip
    saving = main.saving_per_month
    if saving is None:
        parts.append(f"; saving: {not_set('cost_per_desk_month', 'the inventory for ' + main_id)}.")
    else:
        parts.append(f", saving {money(saving, cur)} a month ({money(12 * saving, cur)} a year).")
    price = inv.day_pass_price
    freed = d.freed_passes_per_month
    if price is None:
        parts.append(f" What that funds in day passes: {not_set('day_pass_price')}.")
    elif freed is not None:
        parts.append(
            f" That funds {number(freed)} co-working day passes a month ({number(12 * freed)} "
            f"a year) at {money(price, cur)} each"
        )
        budget = d.day_pass_budget_month
        if budget is None:
            parts.append(f"; the day-pass budget is {not_set('day_pass_budget_month')}")
        else:
            parts.append(
                f", against a day-pass budget of {money(budget, cur)} a month "
                f"({number(budget / price) if price else DASH} passes)"
            )
        bought = d.day_passes_bought
        per_month = bought * 30 / n_days if n_days else 0
        parts.append(
            f"; {bought} day passes were bought in the period (about {number(per_month)} a month)."
        )
    return f"<p>{''.join(parts)}</p>"


def _hubs(sites: dict[str, SiteFigures], inputs: DecisionInputs) -> str:
    cur = inputs.decision.currency
    hubs = [s for s in inputs.decision.sites if s.kind == "hub" and s.site in sites]
    if not hubs:
        return "<p>No hubs in the inventory.</p>"

    def cash(value: float | None, field: str) -> str:
        return not_set(field) if value is None else money(value, cur)

    rows = []
    for h in hubs:
        site = sites.get(h.site)
        name = escape(site.name if site else h.site)
        per_day = (
            DASH  # nobody came: no cost per use
            if h.cost is not None and not h.desk_days_used
            else cash(h.cost_per_used_desk_day, "cost_per_desk_month")
        )
        # Nothing seen is not "nobody came": the use figures read "not measured".
        blind = h.not_measured is not None or (site is not None and site.no_sensor_data)
        used = NOT_MEASURED if blind else str(h.desk_days_used)
        passes = NOT_MEASURED if blind else cash(h.day_pass_equivalent, "day_pass_price")
        rows.append(
            f"<tr><td>{name}</td><td>{used}</td>"
            f"<td>{cash(h.cost, 'cost_per_desk_month')}</td>"
            f"<td>{NOT_MEASURED if blind else per_day}</td><td>{passes}</td>"
            f"<td>{escape(verdict(site, h))}</td>"
            f"<td>{escape(', '.join(h.lone_weeks)) or 'none'}</td>"
            f"<td>{escape(DAY_NAMES.get(h.community_day or '', 'not known'))}</td></tr>"
        )
    lone = [
        f"{escape(sites[h.site].name if h.site in sites else h.site)} "
        f"({escape(', '.join(h.lone_weeks))})"
        for h in hubs
        if h.lone_weeks
    ]
    lone_text = (
        "Lone hubs, where people came but mostly sat alone: " + "; ".join(lone) + ". Do not cut "
        "desks there: gather people on the hub's community day and agree fixed hub days."
        if lone
        else "No hub had a lone week: where people came, they usually met."
    )
    return (
        "<table><tr><th>Hub</th><th>Desk-days used</th><th>Cost</th>"
        "<th>Per used desk-day</th><th>As day passes</th><th>Recommendation</th>"
        f"<th>Lone weeks</th><th>Community day</th></tr>{''.join(rows)}</table>"
        f"<p>{lone_text} The community day is the weekday with the most desks used in the "
        "8 weeks before the period's end.</p>"
    )


def _commute(sites: list[SiteFigures], inputs: DecisionInputs) -> str:
    rows = []
    for m in inputs.months:
        km = "not set" if m.km is None else f"{number(m.km)}{NB}km"
        co2 = "not set" if m.co2_kg is None else f"{number(m.co2_kg)}{NB}kg"
        if m.year_before_co2_kg is None:
            before, change = "no data", DASH
        else:
            before = f"{number(m.year_before_co2_kg)}{NB}kg"
            change = (
                f"{(m.co2_kg - m.year_before_co2_kg) / m.year_before_co2_kg * 100:+.0f}{NB}%"
                if m.co2_kg is not None and m.year_before_co2_kg
                else DASH
            )
        rows.append(
            f"<tr><td>{m.label}</td><td>{km}</td><td>{co2}</td><td>{before}</td>"
            f"<td>{change}</td></tr>"
        )
    names = {s.id: s.name for s in sites}
    blind = [
        names.get(s.site, s.site)
        for s in inputs.decision.sites
        if s.kind == "hub" and s.not_measured and s.site in names
    ]
    note = (
        f"<p>Commute avoided at {escape(', '.join(blind))}: not measured (no sensor data in "
        "the period), so it adds nothing here.</p>"
        if blind
        else ""
    )
    return note + (
        "<p>Each desk-day used at a hub or a co-working site is one return trip to the main "
        "office not driven. The region's target is \u221210\u202f% CO₂ a year.</p>"
        "<table><tr><th>Month</th><th>Commute avoided</th><th>CO₂ avoided</th>"
        f"<th>A year earlier</th><th>Change</th></tr>{''.join(rows)}</table>"
    )


def _assumptions(inputs: DecisionInputs, percentile: int) -> str:
    inv = inputs.inventory
    cur = inv.currency
    items = [
        f"{number(inv.co2_kg_per_km, 2)}{NB}kg CO₂/km, set in the inventory "
        "(<code>co2_kg_per_km</code>; 0.12 unless the region sets its own).",
        "Currency: " + (escape(cur) if cur else not_set("currency")) + ".",
        "Day-pass price: "
        + (money(inv.day_pass_price, cur) if inv.day_pass_price is not None
           else not_set("day_pass_price"))
        + " (a site's own <code>day_pass_price</code> overrides it).",
        "Day-pass budget a month: "
        + (money(inv.day_pass_budget_month, cur) if inv.day_pass_budget_month is not None
           else not_set("day_pass_budget_month")) + ".",
        f"A desk counts as used on a day when occupied at least {inv.used_min_s // 60} minutes "
        "(<code>used_min_s</code>); a week is lone when on half its days with people there they "
        f"were together less than {inv.together_min_s // 60} minutes "
        "(<code>together_min_s</code>).",
        f"Desks needed: the {percentile}th percentile of the open days' peaks; cost = "
        "<code>cost_per_desk_month</code> &times; desks &times; days / 30.",
    ]  # fmt: skip
    distances = []
    for site in inv.sites:
        if site.kind.value == "office" or not inputs.in_report(site.id, site.kind.value):
            continue
        km = "not set" if site.commute_km is None else f"{number(site.commute_km)}{NB}km"
        distances.append(f"{escape(site.name)} {km}")
    missing = [
        s.id
        for s in inv.sites
        if s.commute_km is None
        and s.kind.value != "office"
        and inputs.in_report(s.id, s.kind.value)
    ]
    text = "One-way road distance to the main office (<code>commute_km</code>): " + ", ".join(
        distances
    )
    if missing:
        text += f"; set <code>commute_km</code> for {escape(', '.join(missing))}"
    items.append(text + ".")
    return '<ul class="note">' + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def decision_section(
    sites: list[SiteFigures], inputs: DecisionInputs, percentile: int, n_days: int
) -> str:
    by_id = {s.id: s for s in sites}
    return "\n".join([
        '<section id="decision"><h2 class="first">Decision</h2>',
        quality(sites, inputs),
        "<h3>Office area and day passes</h3>",
        _office(by_id, inputs, n_days),
        "<h3>Hubs: keep, grow or buy day passes</h3>",
        _hubs(by_id, inputs),
        "<h3>Commuting and CO₂ avoided</h3>",
        _commute(sites, inputs),
        "<h3>Assumptions</h3>",
        _assumptions(inputs, percentile),
        "</section>",
    ])  # fmt: skip
