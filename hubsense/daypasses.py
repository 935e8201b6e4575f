"""Day passes bought at co-working sites (docs/decisions.md): parse and store `pass_id,site,date`.

A pass is a count, never a person: the rows carry no name, and a column other than the
three is refused. Import is idempotent by `pass_id` (a pass read again replaces itself)
and all or nothing: every row is checked against the stored sites (known, retired or not,
and of kind `coworking`) before one transaction writes them. Errors name file, line and
field, like the inventory's.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from hubsense.errors import ConfigError

COLUMNS = ("pass_id", "site", "date")
_MAX_ID = 200


@dataclass(frozen=True, slots=True)
class DayPass:
    pass_id: str
    site: str
    day: dt.date


def parse_rows(
    rows: list[dict[str, str]], source: str, site_kinds: dict[str, str], first_line: int = 2
) -> list[DayPass]:
    """Validated passes; a ConfigError listing `SOURCE:LINE: field: why` for every bad row."""
    problems: list[str] = []
    passes: list[DayPass] = []
    for line, row in enumerate(rows, start=first_line):
        pass_id = (row.get("pass_id") or "").strip()
        site = (row.get("site") or "").strip()
        text = (row.get("date") or "").strip()
        if not pass_id or len(pass_id) > _MAX_ID:
            problems.append(f"{source}:{line}: pass_id: must be 1..{_MAX_ID} characters")
        kind = site_kinds.get(site)
        if kind is None:
            problems.append(f"{source}:{line}: site: {site!r} is not a site of the inventory")
        elif kind != "coworking":
            problems.append(
                f"{source}:{line}: site: {site!r} is a {kind}, not a coworking site "
                "(day passes are bought at coworking sites)"
            )
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            problems.append(f"{source}:{line}: date: {text!r} is not a date (YYYY-MM-DD)")
            continue
        passes.append(DayPass(pass_id, site, day))
    if problems:
        raise ConfigError("\n".join(problems))
    return passes


def read_csv(text: str, source: str, site_kinds: dict[str, str]) -> list[DayPass]:
    """Passes of a CSV text with the header `pass_id,site,date` (in any order, no others)."""
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if sorted(header) != sorted(COLUMNS):
        raise ConfigError(
            f"{source}:1: header: expected the columns {','.join(COLUMNS)} (got {','.join(header)})"
        )
    return parse_rows(list(reader), source, site_kinds)


def site_kinds(conn: Any) -> dict[str, str]:
    """Every stored site's kind by id (active sites only)."""
    return {
        site_id: kind
        for site_id, kind in conn.execute("SELECT id, kind FROM sites WHERE retired_at IS NULL")
    }


def store(conn: Any, passes: list[DayPass]) -> dict[str, int]:
    """Insert or replace the passes in one transaction; counts of added and replaced."""
    with conn.transaction():
        known = {
            row[0]
            for row in conn.execute(
                "SELECT pass_id FROM day_passes WHERE pass_id = ANY(%s)",
                ([p.pass_id for p in passes],),
            )
        }
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO day_passes (pass_id, site_id, day) VALUES (%s, %s, %s) "
                "ON CONFLICT (pass_id) DO UPDATE "
                "SET site_id = EXCLUDED.site_id, day = EXCLUDED.day",
                [(p.pass_id, p.site, p.day) for p in passes],
            )
    unique = {p.pass_id for p in passes}
    return {"added": len(unique - known), "replaced": len(unique & known)}


def counts_by_site(conn: Any, start: dt.date, end: dt.date) -> dict[str, int]:
    """Day passes dated in [start, end) per coworking site."""
    return {
        site: int(n)
        for site, n in conn.execute(
            "SELECT site_id, count(*) FROM day_passes WHERE day >= %s AND day < %s "
            "GROUP BY site_id",
            (start, end),
        )
    }
