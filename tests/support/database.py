"""Reads and inventory rows for tests against the real PostgreSQL the fixtures start."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

# The GPIO pin of a node's first PIR; the rest follow (17, 18, ...), as in the examples.
FIRST_PIN = 17


def query(dsn: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement on its own autocommit connection; its rows ([] when it has none).

    A fresh connection per call sees everything committed by ingest or the API so far.
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def insert_node(
    conn: psycopg.Connection[Any],
    site: str,
    node: str,
    desks: Mapping[str, str | None],
    retired_at: str | None = None,
) -> None:
    """Insert a node, its desks (desk -> zone) and one PIR sensor per desk on pins 17, 18...

    Ingest accepts a desk event only for a sensor the inventory maps to that desk, so
    every folder that publishes events needs exactly these rows.
    """
    conn.execute(
        "INSERT INTO nodes (id, site_id, heartbeat_s, retired_at) VALUES (%s, %s, 60, %s)",
        (node, site, retired_at),
    )
    for pin, (desk, zone) in enumerate(desks.items(), start=FIRST_PIN):
        conn.execute(
            "INSERT INTO desks (id, site_id, zone) VALUES (%s, %s, %s)", (desk, site, zone)
        )
        conn.execute(
            "INSERT INTO sensors (node_id, key, type, desk_id) VALUES (%s, %s, 'gpio_pir', %s)",
            (node, f"gpio:{pin}", desk),
        )
