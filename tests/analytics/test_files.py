"""`hubsense analytics compute` (SPEC §10): outputs, malformed rows, nothing half-written."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import reference
from harness import ms
from hubsense.analytics.arrays import Layout
from hubsense.analytics.io.csv_read import (
    _fast_events,
    read_bookings,
    read_events,
    read_events_by_row,
)

from hubsense.errors import InputError
from hubsense.inventory.file import load_inventory

# The installed console script, beside the interpreter running the tests.
HUBSENSE = [str(Path(sys.executable).parent / "hubsense")]
INVENTORY = """\
organisation: Test
sites:
  - id: hq
    name: Main office
    kind: office
    timezone: Europe/Stockholm
    opening_hours: {mon: ["08:00-17:00"], tue: ["08:00-17:00"]}
    desks: [{id: d1}, {id: d2}]
    nodes:
      - id: n1
        heartbeat_s: 3600
        sensors:
          - {type: gpio_pir, pin: 17, desk: d1}
          - {type: gpio_pir, pin: 18, desk: d2}
  - id: hub
    name: Village hub
    kind: hub
    timezone: America/New_York
    opening_hours: {mon: ["00:00-24:00"]}
    desks: [{id: h1}]
    nodes:
      - id: n2
        sensors: [{type: bthome, address: "A4:C1:38:00:00:01", desk: h1}]
"""
EVENTS = [
    ("n1", 1, ms("2026-03-02T08:00:00+01:00"), "alive", "", "", ""),
    ("n1", 2, ms("2026-03-02T09:00:00+01:00"), "alive", "", "", ""),
    ("n1", 3, ms("2026-03-02T08:30:00+01:00"), "desk", "d1", "pir", "occupied"),
    ("n1", 4, ms("2026-03-02T10:00:00+01:00"), "desk", "d1", "pir", "vacant"),
    ("n1", 5, ms("2026-03-02T09:00:00+01:00"), "desk", "d2", "fused", "occupied"),
    ("n1", 3, ms("2026-03-02T08:45:00+01:00"), "desk", "d1", "pir", "vacant"),  # duplicate: ignored
    ("n2", 1, ms("2026-03-02T12:00:00-05:00"), "alive", "", "", ""),
    ("n2", 2, ms("2026-03-02T12:00:00-05:00"), "desk", "h1", "ble", "occupied"),
]
BOOKINGS = [
    ("b1", "hq", "d1", "2026-03-02T08:00:00+01:00", "2026-03-02T10:00:00+01:00"),
    ("b2", "hq", "d2", "2026-03-02T14:00:00Z", "2026-03-02T15:00:00Z"),
    (
        "b3",
        "hub",
        "h1",
        "2027-01-01T12:00:00-05:00",
        "2027-01-01T13:00:00-05:00",
    ),  # outside the period
]


def write_csv(path: Path, header: str, rows: list[tuple[object, ...]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header.split(","))
        writer.writerows(rows)
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    return {
        "inventory": tmp_path / "inventory.yaml",
        "events": write_csv(tmp_path / "events.csv", "node,seq,ts,type,desk,source,state", EVENTS),
        "bookings": write_csv(
            tmp_path / "bookings.csv", "booking_id,site,desk,start,end", BOOKINGS
        ),
    }


def compute_cli(
    inputs: dict[str, Path], out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    args = [
        "analytics",
        "compute",
        "--inventory",
        str(inputs["inventory"]),
        "--events",
        str(inputs["events"]),
        "--bookings",
        str(inputs["bookings"]),
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-04",
        "--bucket",
        "day",
        "--out",
        str(out),
        *extra,
    ]
    return subprocess.run(
        [*HUBSENSE, *args], capture_output=True, text=True, timeout=120, check=False
    )


def read(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def test_compute_writes_the_four_files(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = compute_cli(inputs, out)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "booking_outcomes.csv",
        "desk_metrics.csv",
        "site_daily.csv",
        "site_summary.csv",
    ]
    desk = read(out / "desk_metrics.csv")
    assert desk[0] == [
        "site",
        "desk",
        "bucket_start",
        "observed_s",
        "occupied_s",
        "booked_s",
        "booked_observed_s",
        "booked_occupied_s",
        "unbooked_occupied_s",
    ]
    # d1: observed 08:00-09:00 (cut by the next alive) + 09:00-12:00 (3 x 3600 s) = 14400 s
    # inside 08-17; occupied 08:30-10:00 = 5400 (the duplicate seq 3 "vacant" is ignored);
    # booked 08-10 = 7200, booked occupied 5400, unbooked 0.
    # Tuesday: nothing observed, though open 08-17.
    assert desk[1:3] == [
        ["hq", "d1", "2026-03-02T00:00:00+01:00", "14400", "5400", "7200", "7200", "5400", "0"],
        ["hq", "d1", "2026-03-03T00:00:00+01:00", "0", "0", "0", "0", "0", "0"],
    ]
    # d2 occupied from 09:00 while observed until 12:00: 10800 s; b2 (15-16 local) is not observed.
    assert desk[3][3:] == ["14400", "10800", "3600", "0", "0", "10800"]
    # The New York hub, open Monday 00:00-24:00: one alive at 12:00 with the default heartbeat
    # of 60 s covers 3 x 60 = 180 s, occupied from 12:00: 180 s, all of it unbooked.
    assert desk[5] == ["hub", "h1", "2026-03-02T00:00:00-05:00", "180", "180", "0", "0", "0", "180"]
    assert read(out / "booking_outcomes.csv") == [
        ["booking_id", "site", "desk", "observed_s", "occupied_s", "outcome"],
        ["b1", "hq", "d1", "7200", "5400", "attended"],
        ["b2", "hq", "d2", "0", "0", "unknown"],
        ["b3", "hub", "h1", "0", "0", "unknown"],
    ]
    assert read(out / "site_daily.csv") == [
        ["site", "date", "open", "peak", "peak_at", "copresence_s", "alone_s", "desks_used"],
        # d1 and d2 together 09:00-10:00 = 3600 s, peak 2 first at 09:00; alone 08:30-09:00 (d1)
        # + 10:00-12:00 (d2) = 9000 s; both desks used (5400 s and 10800 s >= 1800 s).
        ["hq", "2026-03-02", "true", "2", "2026-03-02T09:00:00+01:00", "3600", "9000", "2"],
        ["hq", "2026-03-03", "true", "0", "", "0", "0", "0"],
        # h1 alone its 180 s, not used (180 < 1800).
        ["hub", "2026-03-02", "true", "1", "2026-03-02T12:00:00-05:00", "0", "180", "0"],
        ["hub", "2026-03-03", "false", "0", "", "0", "0", "0"],
    ]
    # hq: peaks [0, 2], ⌈0.95 x 2⌉ = 2nd = 2; hub: one open day with peak 1.
    assert read(out / "site_summary.csv") == [
        ["site", "days_open", "capacity", "desks_needed", "surplus"],
        ["hq", "2", "2", "2", "0"],
        ["hub", "1", "1", "1", "0"],
    ]
    # The same through the reference, from the same rows.
    inv = load_inventory(inputs["inventory"])
    events = [reference.Event(n, s, t, k, d, st) for n, s, t, k, d, _src, st in EVENTS]
    bookings = [reference.Booking(i, s, d, ms(a), ms(b)) for i, s, d, a, b in BOOKINGS]
    expected = reference.compute(
        inv, events, bookings, dt.date(2026, 3, 2), dt.date(2026, 3, 4), "day"
    )
    assert [[str(v) for v in row] for row in expected["desk_metrics"]] == desk[1:]


def test_percentile_and_noshow_options(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = compute_cli(inputs, out, "--percentile", "50", "--noshow-min-s", "5401")
    assert done.returncode == 0, done.stderr
    # hq peaks [0, 2]: ⌈0.5 x 2⌉ = 1st = 0 desks needed, surplus 2.
    assert read(out / "site_summary.csv")[1] == ["hq", "2", "2", "0", "2"]
    # b1 occupied 5400 s < min(5401, 3600)? No: 5400 >= 3600 → still attended.
    assert read(out / "booking_outcomes.csv")[1][-1] == "attended"


def test_malformed_row_exits_2_and_writes_nothing(inputs: dict[str, Path], tmp_path: Path) -> None:
    rows = [*EVENTS[:3], ("n1", "7x", "1", "alive", "", "", "")]
    write_csv(inputs["events"], "node,seq,ts,type,desk,source,state", rows)
    out = tmp_path / "results"
    done = compute_cli(inputs, out)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"hubsense: error: {inputs['events']}:5: seq: '7x' is not a non-negative integer"
    )
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_rerun_replaces_outputs_and_keeps_other_files(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "results"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "site_summary.csv").write_text("stale")
    assert compute_cli(inputs, out).returncode == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert read(out / "site_summary.csv")[1] == ["hq", "2", "2", "2", "0"]


EVENT_HEADER = "node,seq,ts,type,desk,source,state"
BAD_EVENTS = [
    (("", "1", "5", "alive", "", "", ""), "node: missing"),
    (("n9", "1", "5", "alive", "", "", ""), "node: unknown node 'n9' (not in the inventory)"),
    (("n1", "", "5", "alive", "", "", ""), "seq: missing"),
    (("n1", "1.0", "5", "alive", "", "", ""), "seq: '1.0' is not a non-negative integer"),
    (("n1", "1", "", "alive", "", "", ""), "ts: missing"),
    (("n1", "1", "-5", "alive", "", "", ""), "ts: '-5' is not a non-negative integer"),
    (("n1", "1", "5", "boot", "", "", ""), "type: unknown type 'boot' (one of desk, alive, stop)"),
    (("n1", "1", "5", "desk", "", "pir", "occupied"), "desk: missing"),
    (
        ("n1", "1", "5", "desk", "d9", "pir", "occupied"),
        "desk: unknown desk 'd9' (not in the inventory)",
    ),
    (
        ("n1", "1", "5", "desk", "d1", "pir", "busy"),
        "state: unknown state 'busy' (one of occupied, vacant, unknown)",
    ),
    (("n1", "1", "5", "desk", "d1", "pir", ""), "state: missing for a desk event"),
    (
        ("n1", "1", "5", "desk", "d1", "radar", "vacant"),
        "source: unknown source 'radar' (one of pir, ble, fused)",
    ),
    (("n1", "1", "5", "alive", "d1", "", ""), "desk: must be empty for a alive event"),
]


@pytest.mark.parametrize(("row", "message"), BAD_EVENTS)
def test_malformed_events(tmp_path: Path, row: tuple[str, ...], message: str) -> None:
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    layout = Layout.from_inventory(load_inventory(tmp_path / "inventory.yaml"))
    path = write_csv(tmp_path / "events.csv", EVENT_HEADER, [EVENTS[0], row])
    with pytest.raises(InputError) as caught:
        read_events(path, layout)
    assert str(caught.value) == f"{path}:3: {message}"
    assert caught.value.exit_code == 2


BOOKING_HEADER = "booking_id,site,desk,start,end"
OK_START, OK_END = "2026-03-02T08:00:00+01:00", "2026-03-02T09:00:00+01:00"
BAD_BOOKINGS = [
    (
        ("b2", "nowhere", "d1", OK_START, OK_END),
        "site: unknown site 'nowhere' (not in the inventory)",
    ),
    (("b2", "hq", "d9", OK_START, OK_END), "desk: unknown desk 'd9' (not in the inventory)"),
    (("b2", "hub", "d1", OK_START, OK_END), "desk: desk 'd1' belongs to site 'hq', not 'hub'"),
    (
        ("b2", "hq", "d1", "2026-03-02T08:00:00", OK_END),
        "start: instant '2026-03-02T08:00:00' has no offset (add Z or +HH:MM)",
    ),
    (
        ("b2", "hq", "d1", OK_START, "2026-03-02"),
        "end: instant '2026-03-02' has no offset (add Z or +HH:MM)",
    ),
    (("b2", "hq", "d1", OK_START, "tomorrow"), "end: 'tomorrow' is not an ISO-8601 instant"),
    (
        ("b2", "hq", "d1", OK_START, OK_START),
        f"end: {OK_START} is at or before the start {OK_START}",
    ),
    (("b2", "hq", "d1", OK_END, OK_START), f"end: {OK_START} is at or before the start {OK_END}"),
    (("b1", "hq", "d1", OK_START, OK_END), "booking_id: duplicate 'b1' (first on line 2)"),
    (("", "hq", "d1", OK_START, OK_END), "booking_id: missing"),
]


@pytest.mark.parametrize(("row", "message"), BAD_BOOKINGS)
def test_malformed_bookings(tmp_path: Path, row: tuple[str, ...], message: str) -> None:
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    layout = Layout.from_inventory(load_inventory(tmp_path / "inventory.yaml"))
    path = write_csv(tmp_path / "bookings.csv", BOOKING_HEADER, [BOOKINGS[0], row])
    with pytest.raises(InputError) as caught:
        read_bookings(path, layout)
    assert str(caught.value) == f"{path}:3: {message}"


def test_header_and_width_errors(tmp_path: Path) -> None:
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    layout = Layout.from_inventory(load_inventory(tmp_path / "inventory.yaml"))
    path = write_csv(tmp_path / "events.csv", "node,seq,ts,type", [])
    with pytest.raises(
        InputError, match=r"events.csv:1: header: missing column\(s\) desk, source, state$"
    ):
        read_events(path, layout)
    path.write_text("node,seq,ts,type,desk,source,state\nn1,1,5,alive,,\n")
    with pytest.raises(InputError, match=r"events.csv:2: row: has 6 fields, the header has 7$"):
        read_events(path, layout)
    # Columns in another order are fine; the timestamp keeps milliseconds.
    path.write_text("type,ts,seq,node,state,source,desk\nalive,1772438400123,9,n1,,,\n")
    events = read_events(path, layout)
    assert (events.ts.tolist(), events.seq.tolist(), events.kind.tolist()) == (
        [1772438400123],
        [9],
        [1],
    )


def test_column_reader_equals_row_reader(inputs: dict[str, Path]) -> None:
    layout = Layout.from_inventory(load_inventory(inputs["inventory"]))
    fast = _fast_events(inputs["events"], layout)
    slow = read_events_by_row(inputs["events"], layout)
    assert fast is not None  # the valid file takes the column-wise path
    for column in ("node", "seq", "ts", "kind", "desk", "state"):
        assert getattr(fast, column).tolist() == getattr(slow, column).tolist(), column
        assert getattr(fast, column).dtype == getattr(slow, column).dtype, column
    assert slow.kind.tolist() == [1, 1, 0, 0, 0, 0, 1, 0]
    assert slow.desk.tolist() == [-1, -1, 0, 0, 1, 0, -1, 2]


@pytest.mark.parametrize(
    "booking_id",
    ['=HYPERLINK("http://evil.example","x")', "@SUM(1+1)"],
)
def test_booking_ids_that_look_like_formulas_are_written_inert(
    inputs: dict[str, Path], tmp_path: Path, booking_id: str
) -> None:
    """A booking tool's id reaches booking_outcomes.csv, which people open in spreadsheets:
    a cell starting with = + - @ TAB or CR gets an apostrophe so it stays text."""
    rows = [(booking_id, *BOOKINGS[0][1:]), *BOOKINGS[1:]]
    inputs["bookings"] = write_csv(tmp_path / "evil.csv", "booking_id,site,desk,start,end", rows)
    out = tmp_path / "results"
    done = compute_cli(inputs, out)
    assert done.returncode == 0, done.stderr
    assert read(out / "booking_outcomes.csv")[1] == [
        "'" + booking_id,
        "hq",
        "d1",
        "7200",
        "5400",
        "attended",
    ]


def test_inert_cell_covers_every_formula_start_and_leaves_numbers() -> None:
    from hubsense.csv_cells import inert_cell

    for text in ("=1+1", "+1", "-1+1", "@A1", "\t=1", "\r=1"):
        assert inert_cell(text) == "'" + text
    assert [inert_cell(v) for v in ("b1", "2026-03-02T08:00:00+01:00", -3, 0, "")] == [
        "b1",
        "2026-03-02T08:00:00+01:00",
        -3,
        0,
        "",
    ]
