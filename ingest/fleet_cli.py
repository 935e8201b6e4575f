"""`hubsense fleet`: per-node seq health from the stored events, so "nothing lost" is checkable.

`gaps` lists the seqs never received between a node's stored events (the SQL
function `hubsense_seq_gaps` of migration 0009; the Fleet board shows the same)
and the nodes whose seq conflict is still open. Imports only typer at module
level; psycopg loads inside the command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Check the fleet's data: seq gaps and conflicts per node.\n\n"
    "Example: `hubsense fleet gaps --since 2026-12-01T00:00Z`",
    no_args_is_help=True,
)

_GAPS = "SELECT * FROM hubsense_seq_gaps(%s, %s)"
_OPEN_CONFLICTS = """
SELECT node_id, site_id, first_at, last_at, last_seq, dead_letters FROM seq_conflicts
WHERE cleared_at IS NULL AND (%s::text IS NULL OR node_id = %s) ORDER BY node_id
"""


@app.command()
def gaps(
    node: Annotated[str | None, typer.Option("--node", help="Only this node.")] = None,
    since: Annotated[
        str,
        typer.Option("--since", help="ISO-8601 instant with offset; events from then on."),
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    dsn: Annotated[str | None, typer.Option("--dsn", help="PostgreSQL DSN.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Settings YAML file.")] = None,
) -> None:
    """List seqs never received per node (default: the last 24 hours) and open conflicts.

    Exits 1 when a gap or an open conflict is found, so a cron job can alert on it.
    Example: `hubsense fleet gaps --node pi-hq-1 --since 2026-12-01T00:00Z`
    """
    import datetime as dt

    from hubsense.addresses import resolve_dsn
    from hubsense.db.connect import connect
    from hubsense.errors import InputError
    from hubsense.settings import load_settings
    from hubsense.site_time import parse_instant_ms

    try:
        since_ms = (
            parse_instant_ms(since) if since else int(dt.datetime.now(dt.UTC).timestamp() * 1000)
        )
    except ValueError as error:
        raise InputError(f"--since: {error}") from None
    if not since:
        since_ms -= 86_400_000
    settings = load_settings(config)
    if dsn is not None:
        from pydantic import SecretStr

        settings = settings.model_copy(
            update={"db": settings.db.model_copy(update={"dsn": SecretStr(dsn)})}
        )
    moment = dt.datetime.fromtimestamp(since_ms / 1000, dt.UTC)
    with connect(resolve_dsn(settings), autocommit=True) as conn:
        found = conn.execute(_GAPS, (moment, node)).fetchall()
        conflicts = conn.execute(_OPEN_CONFLICTS, (node, node)).fetchall()
    report = gap_report(found, conflicts)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        for line in report_lines(report):
            typer.echo(line)
    if report["missing_total"] or report["conflicts"]:
        raise typer.Exit(1)


def gap_report(found: list[Any], conflicts: list[Any]) -> dict[str, Any]:
    """Rows of hubsense_seq_gaps and seq_conflicts as a JSON-able report."""
    gaps_out = [
        {
            "node": node,
            "site": site,
            "after_seq": after,
            "before_seq": before,
            "missing": missing,
            "after_ts": after_ts.isoformat(),
            "before_ts": before_ts.isoformat(),
            "new_outbox": fresh,
        }
        for node, site, after, before, missing, after_ts, before_ts, fresh in found
    ]
    return {
        "gaps": gaps_out,
        "missing_total": sum(g["missing"] or 0 for g in gaps_out),
        "conflicts": [
            {
                "node": node,
                "site": site,
                "since": first.isoformat(),
                "last": last.isoformat(),
                "last_seq": seq,
                "dead_letters": count,
            }
            for node, site, first, last, seq, count in conflicts
        ],
    }


def report_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for gap in report["gaps"]:
        what = (
            "new outbox (first start or wiped storage), nothing lost"
            if gap["new_outbox"]
            else f"{gap['missing']} seqs never received"
        )
        lines.append(
            f"{gap['node']}: after seq {gap['after_seq']} ({gap['after_ts']}) "
            f"next {gap['before_seq']} ({gap['before_ts']}): {what}"
        )
    for conflict in report["conflicts"]:
        lines.append(
            f"{conflict['node']}: seq conflict since {conflict['since']}, "
            f"{conflict['dead_letters']} dead letters, up to seq {conflict['last_seq']}"
        )
    lines.append(
        f"{report['missing_total']} seqs never received, "
        f"{len(report['conflicts'])} nodes in seq conflict"
    )
    return lines
