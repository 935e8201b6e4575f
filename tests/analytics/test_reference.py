"""The kernels against the independent reference on random inventories, events and bookings.

Periods are drawn around the 2026 daylight-saving changes of Europe/Stockholm and
America/New_York, the half-hour change of Australia/Lord_Howe and month and ISO-week
boundaries; every bucket kind is drawn. Times sit on a coarse grid with occasional
odd milliseconds so ties (same ts, leave-at-arrive instants) happen often.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from fractions import Fraction

import reference
from harness import inventory, run, site
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ZONES = ["Europe/Stockholm", "America/New_York", "Australia/Lord_Howe", "UTC", "Asia/Kolkata"]
# Periods that contain a DST change, a month end or an ISO week start in some zone.
STARTS = [
    dt.date(2026, 3, 28),  # Stockholm springs forward on Sunday 29 March 02:00
    dt.date(2026, 10, 24),  # Stockholm falls back on Sunday 25 October 03:00
    dt.date(2026, 3, 7),  # New York springs forward on 8 March
    dt.date(2026, 10, 31),  # New York falls back on 1 November; a month boundary
    dt.date(2026, 4, 4),  # Lord Howe falls back half an hour on 5 April
    dt.date(2026, 2, 27),  # month boundary, non-leap February
]
DESK_NAMES = ["d1", "d2", "d3", "d4"]
MINUTES = [0, 60, 120, 150, 180, 420, 720, 1020, 1380, 1440]


@st.composite
def hours(draw: st.DrawFn) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]:
        if draw(st.integers(0, 3)) == 0:
            continue  # closed weekday
        if draw(st.booleans()):
            out[day] = ["00:00-24:00"]
            continue
        cuts = sorted(draw(st.lists(st.sampled_from(MINUTES), min_size=2, max_size=4, unique=True)))
        out[day] = [
            f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"
            for a, b in zip(cuts[::2], cuts[1::2], strict=False)
        ]
    return out


@st.composite
def scenario(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    start = draw(st.sampled_from(STARTS))
    end = start + dt.timedelta(days=draw(st.integers(1, 4)))
    sites = []
    for s in range(draw(st.integers(1, 2))):
        names = [f"s{s}-{d}" for d in DESK_NAMES[: draw(st.sampled_from([1, 2, 3, 4, 4]))]]
        split = draw(st.sampled_from([0, len(names) // 2, len(names), len(names)]))
        node_desks = {f"s{s}-n1": names[:split]}
        unobserved: list[str] = []
        if split < len(names):
            if draw(st.integers(0, 3)):
                node_desks[f"s{s}-n2"] = names[split:]
            else:
                unobserved = names[split:]
        closed = draw(
            st.lists(st.sampled_from(reference.dates(start, end)), unique=True, max_size=2)
        )
        sites.append(
            site(
                f"s{s}",
                node_desks,
                draw(hours()),
                timezone=draw(st.sampled_from(ZONES)),
                closed=closed,
                heartbeat_s=draw(st.sampled_from([60, 900, 3600])),
                unobserved=unobserved,
            )
        )
    inv = inventory(*sites)
    lo = reference.midnight(start, reference.ZoneInfo("UTC")) - 86_400_000
    hi = reference.midnight(end, reference.ZoneInfo("UTC")) + 86_400_000
    grid = st.integers(lo // 900_000, hi // 900_000).map(lambda q: q * 900_000)
    # Most activity near one focus instant, so sets overlap; some anywhere in the period ± 1 day.
    focus = draw(grid)
    near = st.integers((focus - 21_600_000) // 900_000, (focus + 21_600_000) // 900_000).map(
        lambda q: q * 900_000
    )
    instant = st.one_of(near, near, near, near, grid, st.integers(lo, hi))
    all_desks = [d["id"] for s in sites for d in s["desks"]]
    events: list[reference.Event] = []
    for s in sites:
        hb_ms = s["nodes"][0]["heartbeat_s"] * 1000
        for node in s["nodes"]:
            raw: list[tuple[int, str, str, str]] = []
            # Sensing sessions: alives every heartbeat (sometimes late), ended by a stop or silence.
            for _ in range(draw(st.integers(0, 3))):
                t = draw(st.one_of(near, instant)) - draw(
                    st.sampled_from([0, 3_600_000, 7_200_000])
                )
                for _ in range(draw(st.integers(1, 40))):
                    raw.append((t, "alive", "", ""))
                    t += hb_ms * draw(st.sampled_from([1, 1, 1, 2, 4])) + draw(
                        st.sampled_from([0, 0, 1, -1])
                    )
                if draw(st.booleans()):
                    raw.append((t - draw(st.sampled_from([0, hb_ms // 2])), "stop", "", ""))
            # Desk changes: mostly of this node's desks, sometimes of another desk.
            mine = [sn["desk"] for sn in node["sensors"]] or all_desks
            for _ in range(draw(st.integers(0, 12))):
                desk = draw(st.sampled_from(mine if draw(st.integers(0, 5)) else all_desks))
                raw.append(
                    (
                        draw(instant),
                        "desk",
                        desk,
                        draw(st.sampled_from(["occupied", "occupied", "vacant", "unknown"])),
                    )
                )
            scale = draw(st.sampled_from([1, 1, 1, 10**9]))  # 10**9: sparse seqs take the sort path
            for seq, (ts, kind, desk, state) in enumerate(raw):
                events.append(reference.Event(node["id"], seq * scale, ts, kind, desk, state))
            # Duplicates of (node, seq) with other content: whichever is read first wins.
            for _ in range(draw(st.integers(0, 3))):
                if raw:
                    seq = draw(st.integers(0, len(raw) - 1))
                    events.append(
                        reference.Event(
                            node["id"],
                            seq * scale,
                            draw(instant),
                            "desk",
                            draw(st.sampled_from(all_desks)),
                            draw(st.sampled_from(["occupied", "unknown"])),
                        )
                    )
    events = draw(st.permutations(events))
    if draw(st.booleans()):
        # As ingest stores them: by time (the kernels' streaming path), duplicates included.
        events.sort(key=lambda e: (e.ts, e.seq))
    bookings = []
    for i in range(draw(st.integers(0, 6))):
        desk = draw(st.sampled_from(all_desks))
        a = draw(near) - draw(st.sampled_from([0, 3_600_000]))
        b = a + draw(
            st.one_of(
                st.integers(1, 7_200_000), st.sampled_from([1_800_000, 3_600_000, 86_400_000])
            )
        )
        owner = next(s["id"] for s in sites if any(d["id"] == desk for d in s["desks"]))
        bookings.append(reference.Booking(f"b{i}", owner, desk, a, b))
    bucket = draw(st.sampled_from(["hour", "day", "week", "month"]))
    noshow = draw(st.sampled_from([0, 1, 900]))
    p = draw(
        st.sampled_from([Fraction(95), Fraction(50), Fraction(199, 2), Fraction(100), Fraction(1)])
    )
    return inv, events, bookings, start, end, bucket, noshow, p


def as_ingest_stores(events: list[reference.Event]) -> list[reference.Event]:
    """The same events without repeats (first read wins), by (ts, seq), seq renumbered in that
    order: what SPEC §6 makes of them is unchanged, and the kernels take the sweep path."""
    seen: set[tuple[str, int]] = set()
    kept = []
    for e in events:
        if (e.node, e.seq) not in seen:
            seen.add((e.node, e.seq))
            kept.append(e)
    kept.sort(key=lambda e: (e.ts, e.seq))
    return [dataclasses.replace(e, seq=i) for i, e in enumerate(kept)]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_kernels_match_reference(case) -> None:  # type: ignore[no-untyped-def]
    inv, events, bookings, start, end, bucket, noshow, p = case
    theirs = reference.compute(inv, events, bookings, start, end, bucket, noshow, p)
    _, ours = run(inv, events, bookings, start, end, bucket, noshow, p)
    for table in ("site_summary", "site_daily", "booking_outcomes", "desk_metrics"):
        assert ours[table] == theirs[table], table
    # The same facts as ingest stores them: the one-pass sweep must agree too.
    results, swept = run(inv, as_ingest_stores(events), bookings, start, end, bucket, noshow, p)
    assert results.path == "sweep"
    for table in ("site_summary", "site_daily", "booking_outcomes", "desk_metrics"):
        assert swept[table] == theirs[table], table
