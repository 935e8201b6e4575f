"""What the demo says on its console: the ready block, the closing summary, where to look.

Text only, apart from the summary's one read; `demo.py` orchestrates and calls these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def ready_block(
    base: str,
    inv: Any,
    dsn: str,
    key: str,
    options: Any,
    clock_line: str | None,
    live_start_s: float,
) -> str:
    """Everything to open or run while the demo runs, in one place."""
    import datetime as dt

    today = dt.date.today()
    start = dt.date.fromtimestamp(live_start_s - options.backfill_s)
    end = today + dt.timedelta(days=1)
    width = max(len(site.id) for site in inv.sites)
    pages = "\n".join(
        f"    {site.id:<{width}}  {base}/hubs/{site.id}"
        for site in sorted(inv.sites, key=lambda site: (site.kind != "office", site.id))
    )
    return (
        "\n[bold]ready[/]: the demo runs until Ctrl-C\n"
        f"  sites      {base}/\n"
        f"  API docs   {base}/docs  (or {base}/redoc)\n"
        + (f"  clock      {clock_line}; the hub pages follow it\n" if clock_line else "")
        + f"  hub pages\n{pages}\n"
        f"  report     hubsense report --from {start} --to {end} --out report.html --dsn '{dsn}'\n"
        f"  decision   hubsense analytics decision --from {start} --to {end} --dsn '{dsn}'\n"
        "             (with the day passes the simulated people buy at the coworking sites)\n"
        f"  API key    {key}  (facilities: Authorization: Bearer KEY, or Sign in on a hub page)\n"
        f"  logs       {options.log_file}\n"
        "  Ctrl-C stops: the simulated nodes send `stop`, ingest stores the rest, servers stop\n"
    )


def print_summary(console: Any, dsn: str, backfill_s: int) -> None:
    import datetime as dt
    from fractions import Fraction

    from hubsense.analytics.summary import summarize

    from hubsense.db.connect import connect

    today = dt.date.today()
    start = today - dt.timedelta(days=max(1, backfill_s // 86400))
    with connect(dsn) as conn:
        rows = summarize(conn, start, today + dt.timedelta(days=1), Fraction(95))
    from hubsense.analytics.summary_tables import summary_tables

    console.print(f"right-sizing {start} .. {today} (p95 of daily peaks):")
    for table in summary_tables(rows):
        console.print(table)


def print_where_to_look(dsn: str, mqtt_url: str, state_dir: Path) -> None:
    typer.echo(
        "\nWhere to look:\n"
        f"  database   psql '{dsn}'\n"
        "             (tables events, node_status, bookings, day_passes, dead_letters)\n"
        f"  broker     mosquitto_sub -L '{mqtt_url}/hubsense/v1/#' -v\n"
        f"  state      {state_dir}/services.json\n"
        f"  stop with  hubsense services down --state-dir {state_dir}\n"
    )
