"""Synthetic organisations for the analytics benchmark: inventory, events and bookings as arrays.

Offices of `desks_per_site` desks and a booking for about half the desk-days, in one of
two shapes (`Shape`):
- KERNEL (the default; the kernels' and baselines' benchmark): two nodes a site, each
  watching half the desks, heartbeat 300 s, 16 state changes a desk and working day;
- SIMULATOR (the database path's benchmark, shaped like `hubsense simulate`'s data and the
  demo database): 10 desks a node, one alive a node a minute, 2.6 desk changes a desk and
  working day on average (2 or 4), so alives are ~98 % of the rows.
Nodes are alive all the time, state changes fall in opening hours. Events come out sorted
by (ts, seq) as ingest stores them; `shuffle_late` makes an unsorted, late copy.
Deterministic for a seed. Not part of the installed package.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from hubsense.analytics.arrays import BookingArrays, EventArrays, Layout
from hubsense.analytics.calendar import Period, day_bounds

from hubsense.inventory.model import Inventory

HEARTBEAT_S = 300
CHANGES_PER_DAY = 16


@dataclass(frozen=True)
class Shape:
    heartbeat_s: int
    desks_per_node: int  # a site's desks split over its nodes, this many each
    changes_per_day: float  # mean state changes a desk and working day (even counts)


KERNEL = Shape(heartbeat_s=HEARTBEAT_S, desks_per_node=25, changes_per_day=CHANGES_PER_DAY)
SIMULATOR = Shape(heartbeat_s=60, desks_per_node=10, changes_per_day=2.6)
OPEN_MIN, CLOSE_MIN = 7 * 60, 18 * 60
TIMEZONE = "Europe/Stockholm"


@dataclass(frozen=True)
class Synthetic:
    inventory: Inventory
    layout: Layout
    events: EventArrays
    bookings: BookingArrays
    period: Period


def _address(n: int) -> str:
    return "A4:C1:" + ":".join(f"{(n >> shift) & 0xFF:02X}" for shift in (24, 16, 8, 0))


def organisation(n_desks: int, desks_per_site: int = 50, shape: Shape = KERNEL) -> Inventory:
    sites = []
    per_node = shape.desks_per_node
    for s in range(n_desks // desks_per_site):
        desks = [f"s{s}-d{d}" for d in range(desks_per_site)]
        sites.append(
            {
                "id": f"s{s}",
                "name": f"Site {s}",
                "kind": "office" if s % 4 == 0 else "hub",
                "timezone": TIMEZONE,
                "opening_hours": {
                    day: ["07:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")
                },
                "closed_dates": [
                    "2026-04-03",
                    "2026-04-06",
                    "2026-05-01",
                    "2026-06-19",
                    "2026-12-24",
                ],
                "desks": [{"id": d} for d in desks],
                "nodes": [
                    {
                        "id": f"s{s}-n{k}",
                        "heartbeat_s": shape.heartbeat_s,
                        "sensors": [
                            {
                                "type": "bthome",
                                "address": _address(s * desks_per_site + k * per_node + i),
                                "desk": d,
                            }
                            for i, d in enumerate(part)
                        ],
                    }
                    for k, part in enumerate(
                        desks[i : i + per_node] for i in range(0, desks_per_site, per_node)
                    )
                ],
            }
        )
    return Inventory.model_validate({"organisation": "Synthetic region", "sites": sites})


def generate(
    n_desks: int,
    start: dt.date,
    days: int,
    seed: int = 7,
    shape: Shape = KERNEL,
    alives: bool = True,
) -> Synthetic:
    """The organisation's events for the period; `alives=False` leaves the alive rows out
    (a database whose raw heartbeats have aged out; its coverage is loaded on its own)."""
    inventory = organisation(n_desks, shape=shape)
    layout = Layout.from_inventory(inventory)
    period = Period(start, start + dt.timedelta(days=days))
    rng = np.random.default_rng(seed)
    n_nodes = len(layout.node_ids)
    midnights = day_bounds(ZoneInfo(TIMEZONE), period)
    desk_node = layout.desk_node.astype(np.int32)
    weekdays = sum(1 for day in period.days() if day.weekday() < 5)
    beat_ms = shape.heartbeat_s * 1000
    beats_total = alives * sum(
        len(range(0, int(midnights[i + 1] - midnights[i]), beat_ms)) for i in range(days)
    )
    # Each desk-day has k_low or k_low + 2 changes (even: occupied/vacant pairs).
    k_low = 2 * int(shape.changes_per_day // 2)
    p_high = (shape.changes_per_day - k_low) / 2
    k_max = k_low + (2 if p_high > 0 else 0)
    total = n_nodes * beats_total + weekdays * n_desks * k_max  # an upper bound: trimmed
    # Written in place, day by day, so the input costs its own size and no more.
    node = np.empty(total, np.int32)
    ts_all = np.empty(total, np.int64)
    kind = np.empty(total, np.int8)
    desk = np.empty(total, np.int32)
    state = np.empty(total, np.int8)
    b_desk, b_start, b_end = [], [], []
    at = 0
    for i, day in enumerate(period.days()):
        t0 = int(midnights[i])
        span = int(midnights[i + 1]) - t0
        # Alives: every node, every heartbeat, a little jitter.
        a_ts = (
            t0
            + np.arange(0, span if alives else 0, beat_ms)[None, :]
            + rng.integers(0, 1000, (n_nodes, 1))
        ).ravel()
        a_node = np.repeat(np.arange(n_nodes, dtype=np.int32), a_ts.shape[0] // n_nodes)
        ts_parts, node_parts, kind_parts = [a_ts], [a_node], [np.ones(a_ts.shape[0], np.int8)]
        desk_parts, state_parts = (
            [np.full(a_ts.shape[0], -1, np.int32)],
            [np.zeros(a_ts.shape[0], np.int8)],
        )
        if day.weekday() < 5:
            window = (CLOSE_MIN - OPEN_MIN) * 60_000
            offs = np.sort(rng.integers(0, window, (n_desks, k_max)), axis=1)
            if p_high > 0:
                counts = k_low + 2 * (rng.random(n_desks) < p_high)
                keep = np.arange(k_max)[None, :] < counts[:, None]
            else:
                keep = np.ones((n_desks, k_max), bool)
            d_ts = (t0 + OPEN_MIN * 60_000 + offs)[keep]
            desks = np.repeat(np.arange(n_desks, dtype=np.int32)[:, None], k_max, axis=1)[keep]
            pattern = np.tile(np.array([1, 0], np.int8), (n_desks, k_max // 2))
            ts_parts.append(d_ts)
            node_parts.append(desk_node[desks])
            kind_parts.append(np.zeros(d_ts.shape[0], np.int8))
            desk_parts.append(desks)
            state_parts.append(pattern[keep])
            booked = np.flatnonzero(rng.random(n_desks) < 0.5)
            b_desk.append(booked.astype(np.int32))
            b_start.append(np.full(booked.shape[0], t0 + 8 * 3_600_000, np.int64))
            b_end.append(np.full(booked.shape[0], t0 + 17 * 3_600_000, np.int64))
        day_ts = np.concatenate(ts_parts)
        order = np.argsort(day_ts, kind="stable")
        m = day_ts.shape[0]
        ts_all[at : at + m] = day_ts[order]
        node[at : at + m] = np.concatenate(node_parts)[order]
        kind[at : at + m] = np.concatenate(kind_parts)[order]
        desk[at : at + m] = np.concatenate(desk_parts)[order]
        state[at : at + m] = np.concatenate(state_parts)[order]
        at += m
    node, ts_all, kind, desk, state = (a[:at] for a in (node, ts_all, kind, desk, state))
    total = at
    # seq: one per event per node, in (ts) order, like an edge agent's counter.
    seq = np.empty(total, dtype=np.int64)
    _number_per_node(node, seq, n_nodes)
    events = EventArrays(node=node, seq=seq, ts=ts_all, kind=kind, desk=desk, state=state)
    bookings = BookingArrays(
        booking_id=[],
        desk=np.concatenate(b_desk) if b_desk else np.zeros(0, np.int32),
        start_ms=np.concatenate(b_start) if b_start else np.zeros(0, np.int64),
        end_ms=np.concatenate(b_end) if b_end else np.zeros(0, np.int64),
    )
    return Synthetic(inventory, layout, events, bookings, period)


def _number_per_node(node: np.ndarray, seq: np.ndarray, n_nodes: int) -> None:
    from numba import njit

    @njit(cache=False)
    def number(node, seq, n_nodes):  # type: ignore[no-untyped-def]
        nxt = np.zeros(n_nodes, dtype=np.int64)
        for i in range(node.shape[0]):
            seq[i] = nxt[node[i]]
            nxt[node[i]] += 1

    number(node, seq, n_nodes)


def shuffle_late(events: EventArrays, seed: int = 11) -> EventArrays:
    """An unsorted copy: every event moved to a random place (late, out-of-order arrival)."""
    order = np.random.default_rng(seed).permutation(events.ts.shape[0])
    return EventArrays(
        node=events.node[order],
        seq=events.seq[order],
        ts=events.ts[order],
        kind=events.kind[order],
        desk=events.desk[order],
        state=events.state[order],
    )
