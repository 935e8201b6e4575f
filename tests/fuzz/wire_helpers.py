"""End-to-end fuzz helpers: the fuzz inventory in PostgreSQL (the publisher and ingest runner
are in `support`). A uniquely named module (not conftest) so imports never collide."""

from __future__ import annotations

import psycopg
from fuzz_cases import INVENTORY
from support.database import insert_node


def insert_inventory(dsn: str) -> None:
    """The same organisation as fuzz_cases.INVENTORY, with pi-old retired."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for site in ("hq", "hub-1"):
            conn.execute(
                "INSERT INTO sites (id, name, kind, timezone)"
                " VALUES (%s, %s, 'office', 'Europe/Stockholm')",
                (site, site),
            )
        nodes = {**{n: s for n, s in INVENTORY.node_site.items()}, "pi-old": "hq"}
        for node, site in nodes.items():
            desks = dict.fromkeys(sorted(INVENTORY.node_desks.get(node, ())))
            retired_at = "2026-01-01T00:00:00Z" if node == "pi-old" else None
            insert_node(conn, site, node, desks, retired_at)
