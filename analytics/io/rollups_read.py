"""Do the analytics rollups cover a site's period? One answer for the API, report and summary.

`hubsense analytics run` writes a site's day, desk and booking rows of a period in one
transaction (analytics/io/rollups_write.py), so a period is covered when every local day of
it has an `analytics_site_day` row. Reads only.
"""

from __future__ import annotations

from typing import Any

from hubsense.analytics.calendar import Period


def rollups_exist(conn: Any) -> bool:
    """False on a database migrated before the rollup tables (or a bare one)."""
    row = conn.execute("SELECT to_regclass('analytics_site_day') IS NOT NULL").fetchone()
    return bool(row and row[0])


def days_covered(conn: Any, site_id: str, period: Period) -> int:
    row = conn.execute(
        "SELECT count(*) FROM analytics_site_day WHERE site_id = %s AND day >= %s AND day < %s",
        (site_id, period.start, period.end),
    ).fetchone()
    return int(row[0]) if row else 0


def covers(conn: Any, site_id: str, period: Period) -> bool:
    """Every day of the period has its rollups."""
    return days_covered(conn, site_id, period) == period.n_days
