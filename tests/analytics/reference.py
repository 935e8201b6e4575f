"""A slow, plain-Python reference of SPEC §6 and §10, written apart from the kernels.

Sets of time are lists of half-open [start, end) integer-millisecond pairs combined
by union and intersection; points are tested for membership directly. Nothing here
imports hubsense.analytics: calendars are built with datetime arithmetic of their
own, so the tests compare two independent readings of the spec.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from fractions import Fraction
from zoneinfo import ZoneInfo

from hubsense.inventory.model import Inventory, Site

UTC = dt.UTC
INFINITY = 2**63
Spans = list[tuple[int, int]]


# ----------------------------------------------------------------- interval arithmetic
def union(spans: Spans) -> Spans:
    out: Spans = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def intersect(a: Spans, b: Spans) -> Spans:
    out: Spans = []
    for s1, e1 in a:
        for s2, e2 in b:
            start, end = max(s1, s2), min(e1, e2)
            if end > start:
                out.append((start, end))
    return union(out)


def intersect_all(*sets: Spans) -> Spans:
    result = sets[0]
    for other in sets[1:]:
        result = intersect(result, other)
    return result


def minus(a: Spans, b: Spans) -> Spans:
    """a without b: each span of a cut by every span of b that overlaps it."""
    out: Spans = []
    for start, end in union(a):
        pieces = [(start, end)]
        for s2, e2 in union(b):
            pieces = [
                piece
                for s1, e1 in pieces
                for piece in ((s1, min(e1, s2)), (max(s1, e2), e1))
                if piece[1] > piece[0]
            ]
        out.extend(pieces)
    return union(out)


def size(spans: Spans) -> int:
    return sum(end - start for start, end in union(spans))


def contains(spans: Spans, t: int) -> bool:
    return any(start <= t < end for start, end in spans)


# ----------------------------------------------------------------- local time
def to_utc_ms(day: dt.date, hour: int, minute: int, zone: ZoneInfo) -> int:
    """Local wall time → UTC ms; fold=0 is datetime's default (RFC 5545 rule)."""
    if hour == 24:
        day, hour = day + dt.timedelta(days=1), 0
    local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    utc = local.astimezone(UTC)
    return int(utc.timestamp()) * 1000


def iso(ms: int, zone: ZoneInfo) -> str:
    seconds, millis = divmod(ms, 1000)
    local = dt.datetime.fromtimestamp(seconds, tz=zone)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += f".{millis:03d}"
    offset = local.strftime("%z")
    return f"{text}{offset[:3]}:{offset[3:]}"


def dates(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days)]


def day_is_open(site: Site, day: dt.date) -> bool:
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
    spans = {k.value: v for k, v in site.opening_hours.items()}.get(weekday, [])
    return len(spans) > 0 and day not in site.closed_dates


def opening(site: Site, start: dt.date, end: dt.date) -> Spans:
    zone = ZoneInfo(site.timezone)
    out: Spans = []
    for day in dates(start, end):
        if not day_is_open(site, day):
            continue
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
        for span in {k.value: v for k, v in site.opening_hours.items()}[weekday]:
            a = to_utc_ms(day, span.start_min // 60, span.start_min % 60, zone)
            b = to_utc_ms(day, span.end_min // 60, span.end_min % 60, zone)
            out.append((a, b))
    return union(out)


def midnight(day: dt.date, zone: ZoneInfo) -> int:
    return to_utc_ms(day, 0, 0, zone)


def buckets(site: Site, start: dt.date, end: dt.date, kind: str) -> Spans:
    zone = ZoneInfo(site.timezone)
    days = dates(start, end)
    if kind == "hour":
        out: Spans = []
        for day in days:
            a, b = midnight(day, zone), midnight(day + dt.timedelta(days=1), zone)
            t = a
            while t < b:
                out.append((t, min(t + 3_600_000, b)))
                t += 3_600_000
        return out
    if kind == "day":
        firsts = days
    elif kind == "week":
        firsts = [d for d in days if d == start or d.isoweekday() == 1]
    else:
        firsts = [d for d in days if d == start or d.day == 1]
    edges = [midnight(d, zone) for d in firsts] + [midnight(end, zone)]
    return list(itertools.pairwise(edges))


# ----------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Event:
    node: str
    seq: int
    ts: int
    type: str
    desk: str = ""
    state: str = ""


@dataclass(frozen=True)
class Booking:
    booking_id: str
    site: str
    desk: str
    start: int
    end: int


def first_reads(events: list[Event]) -> list[Event]:
    seen: dict[tuple[str, int], Event] = {}
    for event in events:
        seen.setdefault((event.node, event.seq), event)
    return list(seen.values())


def state_set(events: list[Event], desk: str, state: str) -> Spans:
    """The union of [t_i, t_i+1) over the desk's events in `state` (O for occupied, U for
    unknown)."""
    mine = sorted(
        (e for e in events if e.type == "desk" and e.desk == desk), key=lambda e: (e.ts, e.seq)
    )
    spans: Spans = []
    for i, event in enumerate(mine):
        if event.state == state:
            nxt = mine[i + 1].ts if i + 1 < len(mine) else INFINITY
            spans.append((event.ts, nxt))
    return union(spans)


def observed_set(events: list[Event], node: str, heartbeat_s: int) -> Spans:
    mine = sorted(
        (e for e in events if e.node == node and e.type in ("alive", "stop")),
        key=lambda e: (e.ts, e.seq),
    )
    spans: Spans = []
    for i, event in enumerate(mine):
        if event.type == "alive":
            end = event.ts + 3 * heartbeat_s * 1000
            if i + 1 < len(mine):
                end = min(end, mine[i + 1].ts)
            spans.append((event.ts, end))
    return union(spans)


# ----------------------------------------------------------------- the four tables
def compute(
    inventory: Inventory,
    events: list[Event],
    bookings: list[Booking],
    start: dt.date,
    end: dt.date,
    bucket: str,
    noshow_min_s: int = 900,
    percentile: Fraction = Fraction(95),
    used_min_s: int = 1800,
) -> dict[str, list[list[object]]]:
    events = first_reads(events)
    node_of = {s.desk: n for site in inventory.sites for n in site.nodes for s in n.sensors}
    C = {
        n.id: observed_set(events, n.id, n.heartbeat_s)
        for site in inventory.sites
        for n in site.nodes
    }
    occupied_by: dict[str, Spans] = {}
    unknown_by: dict[str, Spans] = {}
    K: dict[str, Spans] = {}
    for site in inventory.sites:
        for desk in site.desks:
            occupied_by[desk.id] = state_set(events, desk.id, "occupied")
            unknown_by[desk.id] = state_set(events, desk.id, "unknown")
            K[desk.id] = union([(b.start, b.end) for b in bookings if b.desk == desk.id])

    def c_of(desk: str) -> Spans:
        """C = N of the desk's node minus U of the desk."""
        return minus(C[node_of[desk].id], unknown_by[desk]) if desk in node_of else []

    desk_rows: list[list[object]] = []
    daily_rows: list[list[object]] = []
    summary_rows: list[list[object]] = []
    for site in inventory.sites:
        zone = ZoneInfo(site.timezone)
        H = opening(site, start, end)
        for desk in site.desks:
            c, o, k = c_of(desk.id), occupied_by[desk.id], K[desk.id]
            for b0, b1 in buckets(site, start, end, bucket):
                B = [(b0, b1)]
                observed = size(intersect_all(B, H, c)) // 1000
                occupied = size(intersect_all(B, H, c, o)) // 1000
                booked_occupied = size(intersect_all(B, H, c, k, o)) // 1000
                desk_rows.append(
                    [
                        site.id,
                        desk.id,
                        iso(b0, zone),
                        observed,
                        occupied,
                        size(intersect_all(B, H, k)) // 1000,
                        size(intersect_all(B, H, c, k)) // 1000,
                        booked_occupied,
                        occupied - booked_occupied,
                    ]
                )
        present = {
            desk.id: intersect_all(H, c_of(desk.id), occupied_by[desk.id]) for desk in site.desks
        }
        open_peaks: list[int] = []
        for day in dates(start, end):
            d0, d1 = midnight(day, zone), midnight(day + dt.timedelta(days=1), zone)
            pieces = {name: intersect(spans, [(d0, d1)]) for name, spans in present.items()}
            instants = sorted({d0} | {a for spans in pieces.values() for a, _ in spans})
            best, best_at = 0, None
            for t in instants:
                n = sum(contains(spans, t) for spans in pieces.values())
                if n > best:
                    best, best_at = n, t
            edges = sorted(
                {d0, d1} | {x for spans in pieces.values() for span in spans for x in span}
            )
            together = sum(
                b - a
                for a, b in itertools.pairwise(edges)
                if sum(contains(spans, a) for spans in pieces.values()) >= 2
            )
            alone = sum(
                b - a
                for a, b in itertools.pairwise(edges)
                if sum(contains(spans, a) for spans in pieces.values()) == 1
            )
            # occupied_s of the day (floored seconds) against used_min_s, per desk.
            used = sum(1 for spans in pieces.values() if size(spans) // 1000 >= used_min_s)
            is_open = day_is_open(site, day)
            if is_open:
                open_peaks.append(best)
            daily_rows.append(
                [
                    site.id,
                    day.isoformat(),
                    "true" if is_open else "false",
                    best,
                    iso(best_at, zone) if best_at is not None else "",
                    together // 1000,
                    alone // 1000,
                    used,
                ]
            )
        needed = 0
        if open_peaks:
            ordered = sorted(open_peaks)
            rank = 1
            while Fraction(rank * 100) < percentile * len(ordered):
                rank += 1
            needed = ordered[rank - 1]
        capacity = len(site.desks)
        summary_rows.append([site.id, len(open_peaks), capacity, needed, capacity - needed])

    booking_rows: list[list[object]] = []
    site_of = {d.id: s.id for s in inventory.sites for d in s.desks}
    for b in bookings:
        span = [(b.start, b.end)]
        observed = size(intersect(span, c_of(b.desk)))
        occupied = size(intersect_all(span, c_of(b.desk), occupied_by[b.desk]))
        half = Fraction(b.end - b.start, 2)
        if observed < half:
            outcome = "unknown"
        elif occupied < min(noshow_min_s * 1000, half):
            outcome = "no_show"
        else:
            outcome = "attended"
        booking_rows.append(
            [b.booking_id, site_of[b.desk], b.desk, observed // 1000, occupied // 1000, outcome]
        )

    return {
        "desk_metrics": desk_rows,
        "booking_outcomes": booking_rows,
        "site_daily": daily_rows,
        "site_summary": summary_rows,
    }
