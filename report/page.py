"""Lay the report out as one self-contained HTML page: inline CSS, charts as `data:` PNGs.

Nothing is fetched when the page opens (no scripts, fonts, styles or images from
elsewhere), so it can be mailed, archived and printed as is. Pure: figures in, text out.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from hubsense.report import charts
from hubsense.report.conclusion import conclude, hours, number, percent
from hubsense.report.decision import DecisionInputs
from hubsense.report.decision_page import decision_section
from hubsense.report.model import SiteFigures

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2733;
       max-width: 980px; margin: 2rem auto; padding: 0 1.2rem; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.3rem; margin-top: 2.4rem; border-bottom: 2px solid #2f6db5;
     padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .3rem; }
.meta { color: #5b6775; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .6rem 0 1rem; }
th, td { padding: .35rem .5rem; border-bottom: 1px solid #e1e5ea; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f5f8; font-weight: 600; }
.conclusion { background: #eef4fb; border-left: 4px solid #2f6db5; padding: .7rem 1rem;
              margin: .8rem 0; }
.kpis { display: flex; flex-wrap: wrap; gap: .6rem; margin: .6rem 0; }
.kpi { background: #f6f7f9; border-radius: 6px; padding: .45rem .8rem; min-width: 8.5rem; }
.kpi b { display: block; font-size: 1.25rem; }
.kpi span { color: #5b6775; font-size: .8rem; }
img { max-width: 100%; height: auto; display: block; margin: .4rem 0; }
.note { color: #5b6775; font-size: .85rem; }
.quality { background: #fff6e5; border-left: 4px solid #e07b24; padding: .5rem 1rem; }
code { font-size: .85em; background: #f3f5f8; padding: 0 .2em; }
@media print { h2 { page-break-before: always; } h2.first { page-break-before: avoid; } }
"""


def _money(value: float | None) -> str:
    return "\u2013" if value is None else number(value)


def _area(value: float | None) -> str:
    return "\u2013" if value is None else f"{number(value)}\u202fm²"


def _summary_table(sites: list[SiteFigures]) -> str:
    head = (
        "<tr><th>Site</th><th>Kind</th><th>Desks today</th><th>Desks needed</th><th>Surplus</th>"
        "<th>Area freed</th><th>Saving / month</th><th>Occupancy rate</th>"
        "<th>True utilisation</th><th>No-shows</th></tr>"
    )
    none = "\u2013"
    rows = "".join(
        f"<tr><td>{escape(s.name)}</td><td>{escape(s.kind)}</td><td>{s.capacity}</td>"
        # No sensor data: no desks needed, surplus or saving (a blind period is not a saving).
        + (f"<td>no sensor data</td><td>{none}</td><td>{none}</td><td>{none}</td>"
           if s.no_sensor_data else
           f"<td>{s.desks_needed}</td><td>{s.surplus}</td><td>{_area(s.area_freed_m2)}</td>"
           f"<td>{_money(s.saving_per_month)}</td>")
        + f"<td>{percent(s.occupancy_rate)}</td>"
        f"<td>{percent(s.true_utilisation)}</td><td>{percent(s.no_show_rate)}</td></tr>"
        for s in sites
    )  # fmt: skip
    seen = [s for s in sites if not s.no_sensor_data]
    total_surplus = sum(max(s.surplus, 0) for s in seen)
    freed = sum(s.area_freed_m2 or 0 for s in seen)
    saving = sum(s.saving_per_month or 0 for s in seen)
    total = (
        f"<tr><th>All sites</th><th></th><th>{sum(s.capacity for s in sites)}</th>"
        f"<th>{sum(s.desks_needed for s in seen)}</th><th>{total_surplus}</th>"
        f"<th>{_area(freed or None)}</th><th>{_money(saving or None)}</th>"
        "<th></th><th></th><th></th></tr>"
    )
    return f"<table>{head}{rows}{total}</table>"


def _kpi(value: str, label: str) -> str:
    return f'<div class="kpi"><b>{value}</b><span>{escape(label)}</span></div>'


def _site_section(site: SiteFigures, start: dt.date, end: dt.date, percentile: int) -> str:
    needed = "no sensor data" if site.no_sensor_data else str(site.desks_needed)
    kpis = [
        _kpi(str(site.capacity), "desks today"),
        _kpi(needed, f"desks needed (p{percentile} of daily peaks)"),
        _kpi("\u2013" if site.no_sensor_data else str(site.surplus), "surplus desks"),
        _kpi(str(site.max_peak), "highest peak"),
        _kpi(percent(site.occupancy_rate), "occupancy rate"),
        _kpi(percent(site.true_utilisation), "true utilisation"),
        _kpi(f"{site.no_shows} / {site.bookings}", "no-shows / bookings"),
    ]
    if site.area_m2:
        kpis.append(_kpi(_area(site.area_per_desk_m2), "area per desk"))
        freed = None if site.no_sensor_data else site.area_freed_m2
        kpis.append(_kpi(_area(freed), "area freed"))
    if site.kind == "hub":
        kpis.append(_kpi(hours(site.copresence_s), "co-presence"))
        kpis.append(_kpi(f"{site.days_with_copresence} / {site.days_open}", "days people met"))
    where = f" · {escape(site.municipality)}" if site.municipality else ""
    parts = [
        f'<section id="site-{escape(site.id)}">',
        f"<h2>{escape(site.name)}</h2>",
        f'<p class="meta">{escape(site.kind)}{where} · {escape(site.id)} · numbers '
        f"{escape(site.source)}</p>",
        f'<p class="conclusion">{escape(conclude(site, start, end, percentile))}</p>',
        f'<div class="kpis">{"".join(kpis)}</div>',
    ]
    if site.days_open:
        parts += [
            "<h3>Daily peak against capacity</h3>",
            f'<img alt="Daily peak of {escape(site.name)}" src="{charts.peaks_chart(site)}">',
            "<h3>Utilisation per week</h3>",
            f'<img alt="Weekly utilisation of {escape(site.name)}" '
            f'src="{charts.utilisation_chart(site)}">',
        ]
    if site.days_open and site.profile:
        parts += [
            "<h3>When in the week the desks are used</h3>",
            '<p class="note">Mean desks in use per weekday and hour (local time) over the '
            "open days of the period.</p>",
            f'<img alt="Day profile of {escape(site.name)}" src="{charts.profile_chart(site)}">',
        ]
    parts.append("</section>")
    return "\n".join(parts)


def _hubs_section(hubs: list[SiteFigures]) -> str:
    rows = "".join(
        f"<tr><td>{escape(h.name)}</td><td>{h.days_open}</td><td>{h.days_with_copresence}</td>"
        f"<td>{hours(h.copresence_s)}</td><td>{h.max_peak}</td><td>{percent(h.occupancy_rate)}</td></tr>"
        for h in hubs
    )
    return (
        '<section id="hubs"><h2>Hubs: working together</h2>'
        "<p>Co-presence is the time with at least two people at a hub at once: the remedy "
        "for isolation when working away from the main office.</p>"
        "<table><tr><th>Hub</th><th>Days open</th><th>Days people met</th><th>Co-presence</th>"
        f"<th>Highest peak</th><th>Occupancy rate</th></tr>{rows}</table>"
        f'<img alt="Co-presence per hub and week" src="{charts.copresence_chart(hubs)}">'
        "</section>"
    )


_METHOD = """
<section id="method"><h2>How the numbers are made</h2><ul class="note">
<li>Each desk has a presence sensor; a desk counts as <em>observed</em> while its sensor node
reports that it is sensing, and only opening hours count.</li>
<li><em>Occupancy rate</em>: occupied time / observed time. <em>True utilisation</em>: time a
booked desk was really occupied / booked time that was observed.</li>
<li><em>No-show</em>: a booking whose desk, while observed, was occupied less than 15 minutes
(or half the booking, if shorter). Bookings observed less than half their length are left out.</li>
<li><em>Peak</em>: most desks in use at the same instant on a day. <em>Desks needed</em>: the
{p}th percentile of the open days' peaks (nearest rank), so the site copes with all but the
busiest {q}&#8239;% of days. <em>Surplus</em> = desks today &minus; desks needed.</li>
<li><em>Area freed</em> = surplus &times; (site area / desks today); <em>saving</em> =
surplus &times; cost per desk and month, both as given in the inventory.</li>
</ul></section>
"""


def _decision(sites: list[SiteFigures], decision: DecisionInputs | None, start: dt.date,
              end: dt.date, percentile: int) -> list[str]:  # fmt: skip
    return (
        []
        if decision is None
        else [decision_section(sites, decision, percentile, (end - start).days)]
    )


def render(sites: list[SiteFigures], start: dt.date, end: dt.date, percentile: int,
           generated_at: dt.datetime, decision: DecisionInputs | None = None) -> str:  # fmt: skip
    """The whole report as one HTML document; it opens with the Decision section."""
    hubs = [s for s in sites if s.kind == "hub"]
    last = end - dt.timedelta(days=1)
    body = [
        "<header><h1>Desks and hubs: real use and what it means for office area</h1>",
        f'<p class="meta">Period {start:%-d %B %Y} \u2013 {last:%-d %B %Y} · '
        f"{len(sites)} site{'s' if len(sites) != 1 else ''} · "
        f"generated {generated_at:%Y-%m-%d %H:%M %Z}</p></header>",
        *_decision(sites, decision, start, end, percentile),
        "<h2>Summary</h2>" if decision else '<h2 class="first">Summary</h2>',
        _summary_table(sites),
        f'<img alt="Desks today and desks needed per site" src="{charts.capacity_chart(sites)}">',
        *(_site_section(s, start, end, percentile) for s in sites),
    ]
    if hubs:
        body.append(_hubs_section(hubs))
    body.append(_METHOD.format(p=percentile, q=100 - percentile))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>hubsense report {start.isoformat()} \u2013 {last.isoformat()}</title>"
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
