"""`hubsense simulate --to-csv`: SPEC §10 files, parseable, byte-identical for a seed."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from hubsense.inventory.file import load_inventory
from hubsense.wire import EVENTS_ADAPTER

EXAMPLE = Path(__file__).parents[2] / "firmware-config" / "examples" / "inventory.yaml"
HUBSENSE = Path(sys.executable).parent / "hubsense"


def _simulate(out: Path, *args: str) -> str:
    result = subprocess.run(
        [str(HUBSENSE), "simulate", "-i", str(EXAMPLE), "--to-csv", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_csv_columns_parse_back_and_are_deterministic(tmp_path: Path) -> None:
    period = ("--from", "2026-03-02", "--to", "2026-03-05")
    stdout = _simulate(tmp_path / "a", "--seed", "5", *period)
    _simulate(tmp_path / "b", "--seed", "5", *period)
    _simulate(tmp_path / "c", "--seed", "6", *period)
    for name in ("events.csv", "bookings.csv", "daypasses.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()
    inventory = load_inventory(EXAMPLE)

    with (tmp_path / "a" / "events.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["node", "seq", "ts", "type", "desk", "source", "state"]
        rows = list(reader)
    by_node: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        event: dict[str, object] = {
            "seq": int(row["seq"]),
            "ts": int(row["ts"]),
            "type": row["type"],
        }
        if row["type"] == "desk":
            event |= {"desk": row["desk"], "source": row["source"], "state": row["state"]}
            assert inventory.node_of_desk[row["desk"]] == row["node"]
        else:
            assert row["desk"] == row["source"] == row["state"] == ""
        by_node.setdefault(row["node"], []).append(event)
    assert set(by_node) == set(inventory.node_by_id)
    for node, events in by_node.items():
        message = EVENTS_ADAPTER.validate_json(
            json.dumps({"node": node, "events": events[:10_000]})
        )
        assert [e.seq for e in message.events] == list(range(min(len(events), 10_000)))
        site = inventory.site_by_id[inventory.site_of_node[node]]
        first = dt.datetime(2026, 3, 2, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        assert events[0]["ts"] == int(first.timestamp() * 1000), site.id
        last = dt.datetime(2026, 3, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
        assert max(int(str(e["ts"])) for e in events) < int(last.timestamp() * 1000)

    with (tmp_path / "a" / "bookings.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["booking_id", "site", "desk", "start", "end"]
        bookings = list(reader)
    assert len(bookings) > 100  # three workdays of a 120-desk office and nine hubs
    assert len({b["booking_id"] for b in bookings}) == len(bookings)
    for booking in bookings:
        start = dt.datetime.fromisoformat(booking["start"])
        end = dt.datetime.fromisoformat(booking["end"])
        assert booking["start"].endswith("+01:00") and start.utcoffset() is not None
        assert start < end and start.date() == end.date()
        assert dt.date(2026, 3, 2) <= start.date() < dt.date(2026, 3, 5)
        assert inventory.site_of_desk[booking["desk"]] == booking["site"]
    # daypasses.csv is what `hubsense daypasses import` reads: coworking sites, open days only.
    from hubsense.daypasses import read_csv

    kinds = {s.id: s.kind.value for s in inventory.sites}
    text = (tmp_path / "a" / "daypasses.csv").read_text(encoding="utf-8")
    passes = read_csv(text, "daypasses.csv", kinds)
    assert text.startswith("pass_id,site,date\n") and len(passes) > 0
    assert {p.day for p in passes} == {dt.date(2026, 3, d) for d in (2, 3, 4)}
    for day_pass in passes:
        site = inventory.site_by_id[day_pass.site]
        assert site.kind.value == "coworking" and site.is_open_on(day_pass.day)
    assert stdout.startswith(
        f"simulated 17 nodes: {len(rows)} events in 0 messages, {len(bookings)} bookings, "
        f"{len(passes)} day passes"
    )


def test_csv_needs_a_period(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(HUBSENSE), "simulate", "-i", str(EXAMPLE), "--to-csv", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "hubsense: error: --to-csv: give the period with --from/--to or --backfill"
    )
    assert not (tmp_path / "events.csv").exists()
