"""Rebuild node coverage from the raw alive/stop rows (migration 0010's SQL function).

For migrations, for proof, and for anything that writes alive/stop rows without ingest
(bulk loads, benchmarks, tests): ingest keeps coverage up to date on its own.
Must not compute metrics.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hubsense.db.connect import connect
from hubsense.errors import ConfigError


def rebuild_coverage(
    conn: Any,
    node: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> int:
    """Recompute coverage (of one node, within [start, end) when given) on this connection.

    Returns the number of coverage rows written (whole history) or of (site, node) pairs
    recomputed (a window). The caller commits.
    """
    if start is not None and end is not None and end <= start:
        raise ConfigError(f"--to {end.isoformat()}: must be after --from {start.isoformat()}")
    row = conn.execute(
        "SELECT hubsense_rebuild_coverage(%s, %s, %s)", (node, start, end)
    ).fetchone()
    return int(row[0])


def rebuild_coverage_dsn(
    dsn: str,
    node: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> int:
    """`rebuild_coverage` in one transaction of its own."""
    with connect(dsn) as conn, conn.transaction():
        return rebuild_coverage(conn, node, start, end)
