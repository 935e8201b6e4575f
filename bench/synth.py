"""Synthetic organisations for the analytics benchmark: inventory, events and bookings as arrays.

Offices of `desks_per_site` desks, two nodes per site (each watching half the desks,
heartbeat 300 s, alive all year), working days with ~16 state changes per desk in
opening hours, and a booking for about half the desk-days. Events come out sorted
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


def organisation(n_desks: int, desks_per_site: int = 50) -> Inventory:
    sites = []
    half = desks_per_site // 2
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
                        "heartbeat_s": HEARTBEAT_S,
                        "sensors": [
                            {
                                "type": "bthome",
                                "address": _address(s * desks_per_site + k * half + i),
                                "desk": d,
                            }
                            for i, d in enumerate(part)
                        ],
                    }
                    for k, part in enumerate((desks[:half], desks[half:]))
                ],
            }
        )
    return Inventory.model_validate({"organisation": "Synthetic region", "sites": sites})


def generate(n_desks: int, start: dt.date, days: int, seed: int = 7) -> Synthetic:
    inventory = organisation(n_desks)
    layout = Layout.from_inventory(inventory)
    period = Period(start, start + dt.timedelta(days=days))
    rng = np.random.default_rng(seed)
    n_nodes = len(layout.node_ids)
    midnights = day_bounds(ZoneInfo(TIMEZONE), period)
    desk_node = layout.desk_node.astype(np.int32)
    weekdays = sum(1 for day in period.days() if day.weekday() < 5)
    beats_total = sum(
        len(range(0, int(midnights[i + 1] - midnights[i]), HEARTBEAT_S * 1000)) for i in range(days)
    )
    total = n_nodes * beats_total + weekdays * n_desks * CHANGES_PER_DAY
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
            + np.arange(0, span, HEARTBEAT_S * 1000)[None, :]
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
            offs = np.sort(rng.integers(0, window, (n_desks, CHANGES_PER_DAY)), axis=1)
            d_ts = (t0 + OPEN_MIN * 60_000 + offs).ravel()
            desks = np.repeat(np.arange(n_desks, dtype=np.int32), CHANGES_PER_DAY)
            ts_parts.append(d_ts)
            node_parts.append(desk_node[desks])
            kind_parts.append(np.zeros(d_ts.shape[0], np.int8))
            desk_parts.append(desks)
            state_parts.append(np.tile(np.array([1, 0], np.int8), d_ts.shape[0] // 2))
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
    assert at == total
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
