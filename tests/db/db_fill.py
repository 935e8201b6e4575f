"""Fill a hubsense database with awkward rows and snapshot every table (backup, upgrade tests).

A uniquely named module (not conftest) so `from db_fill import …` never collides with
another folder's helpers. The rows carry what dumps and migrations get wrong: NULLs,
non-ASCII text, jsonb, arrays, bytea with NUL and 0xff, millisecond timestamps, enum
values, a retired row, and a bigserial that must continue where it stopped.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from hubsense.db.coverage import rebuild_coverage

SITES = ("ostersund-hq", "hub-are")
NODES_PER_SITE = 3
DESKS_PER_NODE = 4
EVENTS_PER_NODE = 400
TS0_MS = 1_764_000_000_123


def existing_tables(conn: psycopg.Connection[Any]) -> set[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}


def fill(dsn: str) -> dict[str, int]:
    """Insert rows into every core table that exists; returns rows inserted per table."""
    counts: dict[str, int] = {}
    with psycopg.connect(dsn, autocommit=False) as conn:
        tables = existing_tables(conn)
        for i, site in enumerate(SITES):
            conn.execute(
                "INSERT INTO sites (id, name, kind, municipality, timezone, opening_hours,"
                " closed_dates, area_m2, cost_per_desk_month, retired_at)"
                " VALUES (%s, %s, %s, %s, 'Europe/Stockholm', %s, %s, %s, %s, %s)",
                (
                    site,
                    f"Site {site} / Åre-Östersund ✓",
                    "office" if i == 0 else "hub",
                    "Östersund" if i == 0 else None,
                    psycopg.types.json.Jsonb({"mon": ["07:00-12:00", "13:00-18:00"], "sat": []}),
                    ["2026-12-24", "2026-12-25"] if i == 0 else [],
                    1200.5 if i == 0 else None,
                    3_100.0 if i == 0 else None,
                    None if i == 0 else "2026-03-01 10:00:00.123+00",
                ),
            )
        desk_rows, node_rows, sensor_rows, event_rows = [], [], [], []
        for site in SITES:
            for n in range(NODES_PER_SITE):
                node = f"pi-{site[:3]}-{n}"
                node_rows.append((node, site, 30 + n))
                for d in range(DESKS_PER_NODE):
                    desk = f"{node}-d{d}"
                    desk_rows.append((desk, site, f"floor-{d % 2}" if d else None))
                    sensor_rows.append(
                        (
                            node,
                            f"gpio:{17 + d}",
                            "gpio_pir",
                            desk,
                            psycopg.types.json.Jsonb({"hold_s": 600 + d}),
                        )
                    )
                for seq in range(EVENTS_PER_NODE):
                    ts_ms = TS0_MS + seq * 1_001
                    if seq % 5 == 0:
                        event_rows.append((node, seq, ts_ms, site, "alive", None, None, None))
                    else:
                        event_rows.append(
                            (
                                node,
                                seq,
                                ts_ms,
                                site,
                                "desk",
                                f"{node}-d{seq % 4}",
                                ("pir", "ble", "fused")[seq % 3],
                                "occupied" if seq % 2 else "vacant",
                            )
                        )
        conn.cursor().executemany(
            "INSERT INTO nodes (id, site_id, heartbeat_s) VALUES (%s, %s, %s)", node_rows
        )
        conn.cursor().executemany(
            "INSERT INTO desks (id, site_id, zone) VALUES (%s, %s, %s)", desk_rows
        )
        conn.cursor().executemany(
            "INSERT INTO sensors (node_id, key, type, desk_id, config) VALUES (%s, %s, %s, %s, %s)",
            sensor_rows,
        )
        with conn.cursor().copy(
            "COPY events (node_id, seq, ts, site_id, type, desk_id, source, state) FROM STDIN"
        ) as copy:
            for node, seq, ts_ms, site, kind, desk, source, state in event_rows:
                copy.write_row((node, seq, _ts(ts_ms), site, kind, desk, source, state))
        # Written beside ingest: coverage from the raw rows, on a schema that has it yet
        # (the migration test fills databases stopped at every earlier migration).
        if conn.execute("SELECT to_regclass('coverage')").fetchone()[0] is not None:
            rebuild_coverage(conn)
        conn.execute(
            "INSERT INTO node_status (node_id, site_id, online, version, uptime_s, outbox_depth,"
            " last_reading_age_s, cpu_temp_c, clock_synced, disk_full, reported_at)"
            " VALUES ('pi-ost-0', 'ostersund-hq', true, '0.1.0', 12.5, 0, %s, 48.3, true, false,"
            " '2026-03-02 08:00:00.250+00'),"
            " ('pi-ost-1', 'ostersund-hq', false, NULL, NULL, NULL, '{}', NULL, NULL, NULL, NULL)",
            (psycopg.types.json.Jsonb({"gpio:17": 1.5, "ble:A4:C1:38:00:00:01": None}),),
        )
        booking_rows = [
            (
                f"bk-{i}",
                SITES[i % 2],
                f"pi-{SITES[i % 2][:3]}-0-d{i % 4}",
                _ts(TS0_MS + i * 3_600_000),
                _ts(TS0_MS + i * 3_600_000 + 1_800_000),
                None if i % 3 else f"{i:064x}",
                ("csv", "ical", "api")[i % 3],
                _ts(TS0_MS + i * 3_600_000 + 900_000) if i % 7 == 0 else None,
            )
            for i in range(50)
        ]
        conn.cursor().executemany(
            "INSERT INTO bookings (booking_id, site_id, desk_id, start_at, end_at, booker_hash,"
            " origin, released_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            booking_rows,
        )
        dead_rows = [
            (
                "hubsense/v1/hq/pi-a/events",
                b"\x00\xff{bad" + bytes([i]),
                "invalid_json",
                f"case {i}: ünïcode ✓",
            )
            for i in range(20)
        ]
        conn.cursor().executemany(
            "INSERT INTO dead_letters (topic, payload, reason, detail) VALUES (%s, %s, %s, %s)",
            dead_rows,
        )
        if "api_keys" in tables:
            conn.execute(
                "INSERT INTO api_keys (key_id, secret_hash, role, sites, name)"
                " VALUES ('k1', repeat('a', 64), 'hub_manager', ARRAY['hub-are'], 'hub key')"
            )
            counts["api_keys"] = 1
        conn.commit()
    counts |= {
        "sites": len(SITES),
        "nodes": len(node_rows),
        "desks": len(desk_rows),
        "sensors": len(sensor_rows),
        "events": len(event_rows),
        "node_status": 2,
        "bookings": len(booking_rows),
        "dead_letters": len(dead_rows),
    }
    return counts


def _ts(ts_ms: int) -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)


def columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
        " AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [r[0] for r in rows]


Rows = dict[str, list[tuple[Any, ...]]]


def snapshot(dsn: str, only: dict[str, list[str]] | None = None) -> Rows:
    """Every row of every public table (or of `only`: table -> columns), as text, sorted."""
    out: Rows = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        tables = only or {t: columns(conn, t) for t in sorted(existing_tables(conn))}
        for table, cols in tables.items():
            query = sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in cols),
                sql.Identifier(table),
            )
            out[table] = sorted(conn.execute(query).fetchall(), key=repr)
    return out


def schema_columns(dsn: str) -> dict[str, list[str]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return {t: columns(conn, t) for t in sorted(existing_tables(conn))}
