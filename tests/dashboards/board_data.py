"""Data for the boards' and the report's tests: a hand-made organisation with known answers,
simulated demo data, and the analytics rollups computed from either.

Everything goes into a real PostgreSQL through the real inventory sync and COPY. The
rollups are filled from `hubsense analytics compute` outputs (SPEC §10 files) into the
tables of the rollup migrations (0005, 0013: a desk-day row holds its hours as arrays).
"""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from hubsense.db.coverage import rebuild_coverage
from hubsense.db.inventory_sync import apply_inventory
from hubsense.inventory.file import load_inventory
from hubsense.inventory.model import Inventory

HERE = Path(__file__).parent
HUBSENSE = Path(sys.executable).parent / "hubsense"
STOCKHOLM = ZoneInfo("Europe/Stockholm")

HAND_INVENTORY = """\
organisation: Hand-made
sites:
  - id: office-a
    name: Office A
    kind: office
    municipality: Östersund
    timezone: Europe/Stockholm
    opening_hours: {mon: ["08:00-17:00"], tue: ["08:00-17:00"], wed: ["08:00-17:00"],
                    thu: ["08:00-17:00"], fri: ["08:00-17:00"]}
    area_m2: 100
    cost_per_desk_month: 1000
    desks:
      - {id: a1, zone: z1}
      - {id: a2, zone: z1}
      - {id: a3, zone: z2}
      - {id: a4, zone: z2}
    nodes:
      - id: n-a
        heartbeat_s: 60
        sensors:
          - {type: gpio_pir, pin: 17, desk: a1, hold_s: 600}
          - {type: gpio_pir, pin: 18, desk: a2, hold_s: 600}
          - {type: gpio_pir, pin: 22, desk: a3, hold_s: 600}
          - {type: gpio_pir, pin: 23, desk: a4, hold_s: 600}
  - id: hub-b
    name: Hub B
    kind: hub
    municipality: Brunflo
    timezone: Europe/Stockholm
    opening_hours: {mon: ["08:00-17:00"], tue: ["08:00-17:00"], wed: ["08:00-17:00"],
                    thu: ["08:00-17:00"], fri: ["08:00-17:00"]}
    desks:
      - {id: b1, zone: open}
      - {id: b2, zone: open}
    nodes:
      - id: n-b
        heartbeat_s: 60
        sensors:
          - {type: gpio_pir, pin: 17, desk: b1, hold_s: 600}
          - {type: gpio_pir, pin: 18, desk: b2, hold_s: 600}
"""

DECISION_ORG = """\
organisation: Hand-made
currency: SEK
main_office: office-a
day_pass_price: 200
day_pass_budget_month: 5000
co2_kg_per_km: 0.12
together_min_s: 7200
"""
DECISION_HUB = "    commute_km: 15\n    cost_per_desk_month: 4500\n"
DECISION_COWORK = """\
  - id: cowork-c
    name: Cowork C
    kind: coworking
    timezone: Europe/Stockholm
    opening_hours: {mon: ["08:00-17:00"], tue: ["08:00-17:00"], wed: ["08:00-17:00"],
                    thu: ["08:00-17:00"], fri: ["08:00-17:00"]}
    commute_km: 50
"""


def decision_inventory() -> str:
    """The hand-made organisation with the decision fields (docs/decisions.md) set: SEK, main
    office Office A, 200 a pass, Hub B 15 km at 4500 a desk-month, Cowork C 50 km, together
    needs 2 h."""
    text = HAND_INVENTORY.replace("organisation: Hand-made\n", DECISION_ORG)
    hub_at = text.index("    desks:\n", text.index("  - id: hub-b"))
    return text[:hub_at] + DECISION_HUB + text[hub_at:] + DECISION_COWORK


# Day passes at Cowork C: three in the hand period, one a year earlier (commute comparison).
DECISION_PASSES = """INSERT INTO day_passes (pass_id, site_id, day) VALUES
   ('p1', 'cowork-c', '2026-03-02'), ('p2', 'cowork-c', '2026-03-02'),
   ('p3', 'cowork-c', '2026-03-03'), ('p0', 'cowork-c', '2025-03-03')"""

HAND_FROM = dt.date(2026, 3, 2)  # a Monday; Stockholm is UTC+1 in early March
HAND_TO = dt.date(2026, 3, 4)
NODE_SITE = {"n-a": "office-a", "n-b": "hub-b"}


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=STOCKHOLM)


def _ms(instant: dt.datetime) -> int:
    return int(instant.timestamp() * 1000)


# (local day, local hour from, local hour to) of each desk's occupied spans.
HAND_OCCUPIED = {
    "a1": [(2, 8, 12)],
    "a2": [(2, 9, 10)],
    "a3": [(3, 13, 15)],
    "b1": [(2, 10, 12)],
    "b2": [(2, 11, 13)],
}
HAND_BOOKINGS = [
    ("k1", "office-a", "a1", local(2, 8), local(2, 12)),  # attended, 4 h
    ("k2", "office-a", "a3", local(2, 9), local(2, 11)),  # no-show
    ("k3", "office-a", "a3", local(3, 13), local(3, 17)),  # attended (2 h of 4)
    ("k4", "office-a", "a4", local(3, 8), local(3, 10)),  # no-show
]
# After the period: the hub's desk b2 is occupied "now" (the Hub board's live count).
HAND_LATE = ("n-b", "b2", local(5, 9))


def hand_events() -> list[tuple[str, int, str, str, str]]:
    """(node, ts_ms, type, desk, state) rows, each node sensing 07:55-17:05 local both days."""
    rows: list[tuple[str, int, str, str, str]] = []
    desks = {"n-a": ["a1", "a2", "a3", "a4"], "n-b": ["b1", "b2"]}
    for day in (2, 3):
        for node, node_desks in desks.items():
            start, end = local(day, 7, 55), local(day, 17, 5)
            t = start
            while t <= end:
                rows.append((node, _ms(t), "alive", "", ""))
                t += dt.timedelta(seconds=60)
            rows.append((node, _ms(end) + 1, "stop", "", ""))
            for desk in node_desks:
                rows.append((node, _ms(start), "desk", desk, "vacant"))
                for span_day, h_from, h_to in HAND_OCCUPIED.get(desk, []):
                    if span_day == day:
                        rows.append((node, _ms(local(day, h_from)), "desk", desk, "occupied"))
                        rows.append((node, _ms(local(day, h_to)), "desk", desk, "vacant"))
    node, desk, at = HAND_LATE
    rows.append((node, _ms(at), "alive", "", ""))
    rows.append((node, _ms(at), "desk", desk, "occupied"))
    return rows


def write_hand_csvs(directory: Path) -> tuple[Path, Path, Path]:
    """inventory.yaml, events.csv and bookings.csv of the hand-made organisation."""
    directory.mkdir(parents=True, exist_ok=True)
    inventory = directory / "inventory.yaml"
    inventory.write_text(HAND_INVENTORY, encoding="utf-8")
    events = directory / "events.csv"
    seq = {node: 0 for node in NODE_SITE}
    ordered = sorted(hand_events(), key=lambda r: (r[0], r[1], r[2] != "alive"))
    with events.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["node", "seq", "ts", "type", "desk", "source", "state"])
        for node, ts, kind, desk, state in ordered:
            writer.writerow([node, seq[node], ts, kind, desk, "pir" if desk else "", state])
            seq[node] += 1
    bookings = directory / "bookings.csv"
    with bookings.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["booking_id", "site", "desk", "start", "end"])
        for booking_id, site, desk, start, end in HAND_BOOKINGS:
            writer.writerow([booking_id, site, desk, start.isoformat(), end.isoformat()])
    return inventory, events, bookings


def load_raw(dsn: str, inventory_path: Path, events: Path, bookings: Path) -> Inventory:
    """Inventory (real sync), events and bookings (COPY) into the database."""
    inventory = load_inventory(inventory_path)
    apply_inventory(dsn, inventory)
    node_site = {node.id: site.id for site in inventory.sites for node in site.nodes}
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with (
            cur.copy(
                "COPY events (node_id, seq, ts, site_id, type, desk_id, source, state) FROM STDIN"
            ) as copy,
            events.open(newline="") as handle,
        ):
            for row in csv.DictReader(handle):
                ts = dt.datetime.fromtimestamp(int(row["ts"]) / 1000, dt.UTC)
                copy.write_row([
                    row["node"], int(row["seq"]), ts, node_site[row["node"]], row["type"],
                    row["desk"] or None, row["source"] or None, row["state"] or None,
                ])  # fmt: skip
        rebuild_coverage(conn)  # written beside ingest: coverage from the raw rows
        with (
            cur.copy(
                "COPY bookings (booking_id, site_id, desk_id, start_at, end_at, origin) FROM STDIN"
            ) as copy,
            bookings.open(newline="") as handle,
        ):
            for row in csv.DictReader(handle):
                copy.write_row([
                    row["booking_id"], row["site"], row["desk"],
                    dt.datetime.fromisoformat(row["start"]), dt.datetime.fromisoformat(row["end"]),
                    "csv",
                ])  # fmt: skip
    return inventory


def _compute(inventory: Path, events: Path, bookings: Path, start: dt.date, end: dt.date,
             bucket: str, out: Path) -> Path:  # fmt: skip
    result = subprocess.run(
        [str(HUBSENSE), "analytics", "compute", "--inventory", str(inventory),
         "--events", str(events), "--bookings", str(bookings),
         "--from", start.isoformat(), "--to", end.isoformat(), "--bucket", bucket,
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def fill_rollups(dsn: str, inventory: Path, events: Path, bookings: Path,
                 start: dt.date, end: dt.date, work: Path) -> Path:  # fmt: skip
    """Compute day and hour buckets with the analytics and load them as the rollups.

    Returns the day run's output directory (its site_summary.csv is the reference)."""
    day = _compute(inventory, events, bookings, start, end, "day", work / "day")
    hour = _compute(inventory, events, bookings, start, end, "hour", work / "hour")
    with bookings.open(newline="") as handle:
        booking_start = {row["booking_id"]: row["start"] for row in csv.DictReader(handle)}
    measures = ("observed_s", "occupied_s", "booked_s", "booked_observed_s",
                "booked_occupied_s", "unbooked_occupied_s")  # fmt: skip
    hours: dict[tuple[str, str, str], list[list[str]]] = {}
    with (hour / "desk_metrics.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):  # each desk's hours in time order, local labels
            day_hours = hours.setdefault((row["site"], row["desk"], row["bucket_start"][:10]), [])
            day_hours.append([row[m] for m in measures[:5]])
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        # Every desk-day, also those with nothing measured (the writer stores only the
        # others): the boards must read both the same.
        with (
            cur.copy(
                "COPY analytics_desk_day (site_id, desk_id, day, bucket_start, "
                f"{', '.join(measures)}, {', '.join(f'hour_{m}' for m in measures[:5])})"
                " FROM STDIN"
            ) as copy,
            (day / "desk_metrics.csv").open(newline="") as handle,
        ):
            for row in csv.DictReader(handle):
                day_hours = hours[(row["site"], row["desk"], row["bucket_start"][:10])]
                arrays = [[int(h[i]) for h in day_hours] for i in range(5)]
                values = [row["site"], row["desk"], row["bucket_start"][:10], row["bucket_start"]]
                copy.write_row([*values, *(row[m] for m in measures), *arrays])
        with (
            cur.copy(
                "COPY analytics_booking_outcome (booking_id, site_id, desk_id, start_at,"
                " observed_s, occupied_s, outcome) FROM STDIN"
            ) as copy,
            (day / "booking_outcomes.csv").open(newline="") as handle,
        ):
            for row in csv.DictReader(handle):
                copy.write_row([row["booking_id"], row["site"], row["desk"],
                                booking_start[row["booking_id"]], row["observed_s"],
                                row["occupied_s"], row["outcome"]])  # fmt: skip
        with (
            cur.copy(
                "COPY analytics_site_day (site_id, day, open, peak, peak_at, copresence_s,"
                " alone_s, desks_used) FROM STDIN"
            ) as copy,
            (day / "site_daily.csv").open(newline="") as handle,
        ):
            for row in csv.DictReader(handle):
                copy.write_row([row["site"], row["date"], row["open"], row["peak"],
                                row["peak_at"] or None, row["copresence_s"],
                                row["alone_s"], row["desks_used"]])  # fmt: skip
    return day
