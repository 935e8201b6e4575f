"""The report's charts: matplotlib figures rendered to PNG and returned as `data:` URIs.

PNG rather than SVG keeps the HTML free of any URL (an SVG carries namespace and
generator URLs) and renders the same in every mail client. Labels stay ASCII: the
bundled DejaVu font lacks some typographic spaces. The only matplotlib user; figures
in, strings out.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from hubsense.report.model import SiteFigures

_BLUE, _GREY, _ORANGE, _GREEN = "#2f6db5", "#9aa5b1", "#e07b24", "#2e9d5b"
_DPI = 110


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    return plt


def _data_uri(fig: Any) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _text(name: str) -> str:
    """A name as literal chart text: matplotlib reads `$…$` as mathematics."""
    return name.replace("$", r"\$")


def _style(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e8eb", linewidth=0.8)
    ax.set_axisbelow(True)


def capacity_chart(sites: list[SiteFigures]) -> str:
    """Capacity against desks needed, one pair of bars per site."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.55 * len(sites)))
    rows = list(range(len(sites)))[::-1]
    ax.barh(
        [r + 0.2 for r in rows], [s.capacity for s in sites], 0.4, color=_GREY, label="desks today"
    )
    ax.barh(
        [r - 0.2 for r in rows],
        [s.desks_needed for s in sites],
        0.4,
        color=_BLUE,
        label="desks needed",
    )
    ax.set_yticks(rows, [_text(s.name) for s in sites])
    ax.set_xlabel("desks")
    ax.legend(loc="lower right", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", color="#e5e8eb", linewidth=0.8)
    ax.set_axisbelow(True)
    return _data_uri(fig)


def peaks_chart(site: SiteFigures) -> str:
    """Each open day's peak as a bar, with today's capacity and the desks needed as lines."""
    plt = _pyplot()
    days = [d for d in site.days if d.open]
    fig, ax = plt.subplots(figsize=(8, 2.8))
    ax.bar(
        [d.date for d in days], [d.peak for d in days], color=_BLUE, width=0.8, label="daily peak"
    )
    ax.axhline(site.capacity, color=_GREY, linewidth=2, label=f"capacity ({site.capacity})")
    ax.axhline(site.desks_needed, color=_ORANGE, linewidth=2, linestyle="--",
               label=f"desks needed ({site.desks_needed})")  # fmt: skip
    ax.set_ylim(0, max(site.capacity, site.max_peak) * 1.1 + 0.5)
    ax.set_ylabel("desks in use at once")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False, ncols=3, fontsize=8)
    fig.autofmt_xdate()
    _style(ax)
    return _data_uri(fig)


def utilisation_chart(site: SiteFigures) -> str:
    """Weekly occupancy rate and true utilisation, in percent."""
    plt = _pyplot()
    weeks = site.weeks
    fig, ax = plt.subplots(figsize=(8, 2.6))
    for values, colour, label in (
        ([w.occupancy_rate for w in weeks], _BLUE, "occupancy rate (occupied / observed)"),
        ([w.true_utilisation for w in weeks], _GREEN, "true utilisation (booked desks used)"),
    ):
        points = [(k, v * 100) for k, v in enumerate(values) if v is not None]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", color=colour, label=label)
    # One tick per ISO week, labelled by its Monday: a week is one point, not a date range.
    ax.set_xticks(range(len(weeks)), [f"week of {w.start:%d %b}" for w in weeks])
    ax.set_xlim(-0.5, len(weeks) - 0.5)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% per week")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False, fontsize=8, ncols=2)
    _style(ax)
    return _data_uri(fig)


def copresence_chart(hubs: list[SiteFigures]) -> str:
    """Hours with two or more people at once, per hub and week."""
    plt = _pyplot()
    weeks = sorted({w.start for h in hubs for w in h.weeks})
    fig, ax = plt.subplots(figsize=(8, 3))
    width = 0.8 / max(len(hubs), 1)
    for i, hub in enumerate(hubs):
        by_week = {w.start: w.copresence_s / 3600 for w in hub.weeks}
        xs = [k + i * width - 0.4 + width / 2 for k in range(len(weeks))]
        ax.bar(xs, [by_week.get(w, 0) for w in weeks], width, label=_text(hub.name))
    ax.set_xticks(range(len(weeks)), [f"week of {w:%d %b}" for w in weeks])
    ax.set_ylabel("co-presence hours")
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False, fontsize=8, ncols=4)
    _style(ax)
    return _data_uri(fig)


def profile_chart(site: SiteFigures) -> str:
    """Weekday x hour heatmap of the day profile: mean desks in use over the open days."""
    plt = _pyplot()
    weekdays = list(dict.fromkeys(c.weekday for c in site.profile))
    grid = [[0.0] * 24 for _ in weekdays]
    for cell in site.profile:
        grid[weekdays.index(cell.weekday)][cell.hour] = cell.desks
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.4 * len(weekdays)))
    image = ax.imshow(grid, aspect="auto", cmap="Blues", vmin=0, vmax=max(site.capacity, 1))
    ax.set_yticks(range(len(weekdays)), [w.capitalize() for w in weekdays])
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("hour of day (local)")
    fig.colorbar(image, ax=ax, label="desks in use", fraction=0.03, pad=0.01)
    return _data_uri(fig)
