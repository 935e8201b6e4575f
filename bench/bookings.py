"""Benchmark booking imports and CalDAV sync on this machine (issue 14, docs/bookings.md).

Starts its own private PostgreSQL (hubsense.devstack) and a Radicale CalDAV server, then:
  1. imports 100,000 occurrences (a year of weekly bookings, Mondays and Wednesdays, on
     1,000 desks: 2,000 RRULE series) from one ICS file, beside a plain CSV import of the
     very same rows (the baseline); the target is the ICS import within 3x of the CSV;
  2. an incremental CalDAV sync of 100 changed events in calendars of 1,000 and of 10,000
     events: it should cost what changed, not the calendar's size (the full first sync of
     each is printed for orientation).
Each timing is the median of 3 runs; each import starts from an empty bookings table.

Run: .venv/bin/python bench/bookings.py [--desks 1000] [--sizes 1000,10000] [--skip-sync]
     [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
from hubsense.bookings.caldav_sync import Credentials, sync_caldav
from hubsense.bookings.ical import Window
from hubsense.bookings.importer import ImportOptions, import_file, read_inventory
from hubsense.bookings.imports import Limits
from hubsense.devstack.ports import free_port

from hubsense.db.migrate import migrate

WINDOW = Window(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
LIMITS = Limits(max_rows=1_000_000)


def desk(i: int) -> str:
    return f"desk-{i:05d}"


def inventory(conn: psycopg.Connection[Any], desks: int) -> None:
    conn.execute(
        "INSERT INTO sites (id, name, kind, timezone) VALUES"
        " ('bench', 'Bench', 'office', 'Europe/Stockholm') ON CONFLICT DO NOTHING"
    )
    with conn.cursor() as cursor, cursor.copy("COPY desks (id, site_id) FROM STDIN") as copy:
        for i in range(desks):
            copy.write_row((desk(i), "bench"))


def series_ics(desks: int) -> bytes:
    """Two weekly series a desk (Mondays and Wednesdays, 08:00-16:00 Stockholm) for 2026."""
    parts = ["BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"]
    for i in range(desks):
        for day, first in (("MO", "20260105"), ("WE", "20260107")):
            parts.append(
                f"BEGIN:VEVENT\r\nUID:s-{i}-{day}@bench\r\nDTSTAMP:20251201T000000Z\r\n"
                f"DTSTART;TZID=Europe/Stockholm:{first}T080000\r\n"
                f"DTEND;TZID=Europe/Stockholm:{first}T160000\r\n"
                f"RRULE:FREQ=WEEKLY;BYDAY={day};COUNT=50\r\nLOCATION:{desk(i)}\r\nEND:VEVENT\r\n"
            )
    parts.append("END:VCALENDAR\r\n")
    return "".join(parts).encode()


def rows_csv(conn: psycopg.Connection[Any]) -> bytes:
    out = io.StringIO()
    out.write("booking_id,site,desk,start,end\n")
    for booking_id, site, desk_id, start, end in conn.execute(
        "SELECT booking_id, site_id, desk_id, start_at, end_at FROM bookings ORDER BY booking_id"
    ):
        out.write(f"{booking_id},{site},{desk_id},{start.isoformat()},{end.isoformat()}\n")
    return out.getvalue().encode()


def timed_import(dsn: str, data: bytes, kind: str) -> tuple[float, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE bookings")
        inv = read_inventory(conn)
        options = ImportOptions(name=f"bench.{kind}", window=WINDOW, limits=LIMITS,
                                source=f"file:bench.{kind}")  # fmt: skip
        started = time.perf_counter()
        applied = import_file(conn, io.BytesIO(data), kind, inv, None, options)  # type: ignore[arg-type]
        return time.perf_counter() - started, len(applied.created)


def section_import(dsn: str, desks: int, out: dict[str, Any]) -> None:
    print(f"## import: {desks} desks x 2 weekly series x 50 weeks")
    ics = series_ics(desks)
    ics_runs = [timed_import(dsn, ics, "ical") for _ in range(3)]
    with psycopg.connect(dsn) as conn:
        csv = rows_csv(conn)
    csv_runs = [timed_import(dsn, csv, "csv") for _ in range(3)]
    n = ics_runs[0][1]
    assert n == csv_runs[0][1] == desks * 100, (n, csv_runs[0][1])
    ics_s = statistics.median(t for t, _ in ics_runs)
    csv_s = statistics.median(t for t, _ in csv_runs)
    print(
        f"ICS ({len(ics) / 1e6:.1f} MB, RRULE expanded): {ics_s:7.2f} s  {n / ics_s:9,.0f} bookings/s"
    )
    print(
        f"CSV ({len(csv) / 1e6:.1f} MB, baseline):       {csv_s:7.2f} s  {n / csv_s:9,.0f} bookings/s"
    )
    print(f"ratio ICS/CSV: {ics_s / csv_s:.2f}x (target <= 3x)")
    out["import"] = {"bookings": n, "ics_s": ics_s, "csv_s": csv_s, "ratio": ics_s / csv_s}


class Radicale:
    def __init__(self, storage: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--server-hosts", f"127.0.0.1:{self.port}",
             "--auth-type", "none", "--rights-type", "authenticated",
             "--storage-filesystem-folder", str(storage), "--logging-level", "error",
             "--server-max-content-length", "500000000"],
        )  # fmt: skip
        self.http = httpx.Client(base_url=self.url, timeout=600)
        for _ in range(300):
            try:
                self.http.options("/")
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("radicale did not start")

    def close(self) -> None:
        self.http.close()
        self.process.terminate()
        self.process.wait(30)


def event(i: int, desks: int, hour: int, size: int) -> str:
    day = dt.date(2026, 6, 1) + dt.timedelta(days=i // desks)
    return (
        f"BEGIN:VEVENT\r\nUID:e-{i}@bench-{size}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{day:%Y%m%d}T{hour:02d}0000Z\r\nDTEND:{day:%Y%m%d}T{hour + 2:02d}0000Z\r\n"
        f"LOCATION:{desk(i % desks)}\r\nEND:VEVENT\r\n"
    )


def section_sync(
    dsn: str, desks: int, sizes: list[int], storage: Path, out: dict[str, Any]
) -> None:
    print("## CalDAV sync (Radicale), 100 changed events")
    server = Radicale(storage)
    try:
        for size in sizes:
            path = f"/bench/cal-{size}/"
            server.http.request("MKCOL", "/bench/")
            body = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
            body += "".join(event(i, desks, 8, size) for i in range(size)) + "END:VCALENDAR\r\n"
            created = server.http.put(path, content=body.encode(),
                                      headers={"Content-Type": "text/calendar"})  # fmt: skip
            assert created.status_code in (201, 204), created.text
            listing = server.http.request("PROPFIND", path, headers={"Depth": "1"}).text
            with psycopg.connect(dsn, autocommit=True) as conn:
                inv = read_inventory(conn)

                def run(conn: Any = conn, url: str = server.url + path, inv: Any = inv) -> Any:
                    started = time.perf_counter()
                    (result,) = sync_caldav(conn, url, Credentials(), inv, None,
                                            WINDOW, LIMITS, 100_000)  # fmt: skip
                    return time.perf_counter() - started, result

                full_s, full = run()
                assert full.full and len(full.applied.created) == size
                times = []
                for round_ in range(3):
                    # 100 events moved by the calendar's users: fetch their object paths.
                    objects = _object_paths(listing, path)
                    for href in objects[round_ * 100 : round_ * 100 + 100]:
                        index = int(server.http.get(href).text.split("UID:e-")[1].split("@")[0])
                        ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
                               + event(index, desks, 10 + round_, size) + "END:VCALENDAR\r\n")  # fmt: skip
                        server.http.put(href, content=ics.encode(),
                                        headers={"Content-Type": "text/calendar"})  # fmt: skip
                    seconds, result = run()
                    assert not result.full and result.fetched == 100, result
                    assert len(result.applied.updated) == 100
                    times.append(seconds)
                inc_s = statistics.median(times)
                print(f"{size:6,} events: full first sync {full_s:6.2f} s;"
                      f" incremental (100 changed) {inc_s:6.3f} s")  # fmt: skip
                out.setdefault("sync", {})[size] = {"full_s": full_s, "incremental_s": inc_s}
    finally:
        server.close()


def _object_paths(listing: str, path: str) -> list[str]:
    import re

    return sorted(set(re.findall(rf"<D:href>({re.escape(path)}[^<]+\.ics)</D:href>", listing))
                  | set(re.findall(rf"<href>({re.escape(path)}[^<]+\.ics)</href>", listing)))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--desks", type=int, default=1000)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-sync", action="store_true", help="Only the import section.")
    args = parser.parse_args()
    from hubsense.devstack.postgres import PostgresServer

    from hubsense.logs import configure_logging

    configure_logging("warning")
    root = Path(tempfile.mkdtemp(prefix="hubsense-bench-bookings-"))
    server = PostgresServer(root / "pg", durable=False)
    server.start()
    out: dict[str, Any] = {}
    try:
        server.create_database("bench")
        dsn = server.dsn("bench")
        migrate(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            inventory(conn, args.desks)
        section_import(dsn, args.desks, out)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("TRUNCATE bookings")
        if not args.skip_sync:
            sizes = [int(s) for s in args.sizes.split(",")]
            section_sync(dsn, args.desks, sizes, root / "dav", out)
    finally:
        server.stop()
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
