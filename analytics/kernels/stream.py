"""O and C straight from events that are already in (ts, seq) order per desk and per node.

The fast path of `compute` for input as ingest stores it (sorted by time) or grouped per
entity: one pass keeps each desk's open interval and each node's pending alive in small
tables that stay in cache, writes O toggles into per-desk slots sized by `desk_counts`,
and appends C intervals (mostly merged, so few) to one buffer regrouped per node at the
end. Same results as `group_events` + `occupied_sets` + `observed_sets`, without moving
every event. Pure: arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import numpy as np
from hubsense.analytics.kernels.intervals import HEARTBEATS_COVERED, STATE_OCCUPIED, emit
from hubsense.analytics.kernels.jit import FOREVER_MS, kernel
from hubsense.analytics.kernels.order import KIND_ALIVE, KIND_DESK


@kernel
def _grown(buffer, size):  # type: ignore[no-untyped-def]
    bigger = np.empty(size, dtype=buffer.dtype)
    bigger[: buffer.shape[0]] = buffer
    return bigger


@kernel
def _occupied_pass(kind, desk, ts, state, keep, all_kept, base, fill):  # type: ignore[no-untyped-def]
    """O of every desk into its slot [base[d], …); returns the toggles buffer, fill = slot ends.

    `all_kept` skips reading `keep` (no duplicates possible).
    """
    n_desks = fill.shape[0]
    o_buf = np.empty(base[n_desks] + 2, dtype=np.int64)
    # A desk's open start, slot end, slot start and last end side by side: one cache line
    # per event instead of separate tables (a third faster with 10,000 desks).
    desk_row = np.empty((n_desks, 4), dtype=np.int64)
    for d in range(n_desks):
        desk_row[d, 0] = -1
        desk_row[d, 1] = fill[d]
        desk_row[d, 2] = base[d]
    for i in range(kind.shape[0]):
        if kind[i] != KIND_DESK or not (all_kept or keep[i]):
            continue
        d = desk[i]
        if state[i] == STATE_OCCUPIED:
            if desk_row[d, 0] < 0:
                desk_row[d, 0] = ts[i]
        elif desk_row[d, 0] >= 0:
            # emit(), written out: this is the hottest loop of the kernels.
            start = desk_row[d, 0]
            end = ts[i]
            n = desk_row[d, 1]
            if end > start:
                # The slot's last end is kept in the row too: reading it back from o_buf
                # would be a cache miss per interval with thousands of desks (the line was
                # written long ago); stores alone do not stall.
                if n > desk_row[d, 2] and desk_row[d, 3] >= start:
                    if end > desk_row[d, 3]:
                        o_buf[n - 1] = end
                        desk_row[d, 3] = end
                else:
                    o_buf[n] = start
                    o_buf[n + 1] = end
                    desk_row[d, 1] = n + 2
                    desk_row[d, 3] = end
            desk_row[d, 0] = -1
    for d in range(n_desks):
        if desk_row[d, 0] >= 0:
            desk_row[d, 1] = emit(o_buf, desk_row[d, 2], desk_row[d, 1], desk_row[d, 0], FOREVER_MS)
        fill[d] = desk_row[d, 1]
    return o_buf


@kernel
def _observed_pass(  # type: ignore[no-untyped-def]
    kind, node, ts, keep, all_kept, cover_ms, i, pending, c_last, c_buf, c_node, n_c
):
    """C intervals from event i on, appended to c_buf; returns early (at i) when c_buf is full."""
    n = kind.shape[0]
    capacity = c_buf.shape[0] // 2
    while i < n:
        if kind[i] == KIND_DESK or not (all_kept or keep[i]):
            i += 1
            continue
        k = node[i]
        h = pending[k]
        t = ts[i]
        if h >= 0:
            end = min(h + cover_ms[k], t)
            j = c_last[k]
            if end > h and j >= 0 and c_buf[2 * j + 1] >= h:
                # The usual case: an alive's cover runs into the next alive; extend.
                if end > c_buf[2 * j + 1]:
                    c_buf[2 * j + 1] = end
            elif end > h:
                if n_c == capacity:
                    return i, n_c
                c_buf[2 * n_c] = h
                c_buf[2 * n_c + 1] = end
                c_node[n_c] = k
                c_last[k] = n_c
                n_c += 1
        pending[k] = t if kind[i] == KIND_ALIVE else -1
        i += 1
    return i, n_c


@kernel
def stream_sets(  # type: ignore[no-untyped-def]
    kind, desk, node, ts, state, keep, all_kept, counts, heartbeat_ms, n_desks, n_nodes
):
    """(o_tog, o_start, o_end, c_tog, c_off) from ordered events; `counts` = desk events per desk;
    `all_kept` when `keep` is all true (its reads are skipped).

    Desk d's O toggles are o_tog[o_start[d]:o_end[d]], slots sized by the counts.
    """
    # A desk with n events has at most n + 1 toggles (see occupied_sets).
    base = np.zeros(n_desks + 1, dtype=np.int64)
    for d in range(n_desks):
        base[d + 1] = base[d] + counts[d] + 1
    fill = base[:-1].copy()
    o_buf = _occupied_pass(kind, desk, ts, state, keep, all_kept, base, fill)
    cover_ms = HEARTBEATS_COVERED * heartbeat_ms
    pending = np.full(n_nodes, -1, dtype=np.int64)
    c_last = np.full(n_nodes, -1, dtype=np.int64)
    c_buf = np.empty(2 * n_nodes + 64, dtype=np.int64)
    c_node = np.empty(n_nodes + 32, dtype=np.int32)  # node of each C interval in c_buf
    i = 0
    n_c = 0
    while True:
        i, n_c = _observed_pass(
            kind, node, ts, keep, all_kept, cover_ms, i, pending, c_last, c_buf, c_node, n_c
        )
        if i == kind.shape[0]:
            break
        c_buf = _grown(c_buf, 2 * c_buf.shape[0])
        c_node = _grown(c_node, 2 * c_node.shape[0])
    # Alives still pending at the end cover their three heartbeats.
    for k in range(n_nodes):
        h = pending[k]
        if h < 0:
            continue
        end = h + cover_ms[k]
        j = c_last[k]
        if j >= 0 and c_buf[2 * j + 1] >= h:
            c_buf[2 * j + 1] = max(c_buf[2 * j + 1], end)
            continue
        if n_c == c_buf.shape[0] // 2:
            c_buf = _grown(c_buf, 2 * c_buf.shape[0])
            c_node = _grown(c_node, 2 * c_node.shape[0])
        c_buf[2 * n_c] = h
        c_buf[2 * n_c + 1] = end
        c_node[n_c] = k
        c_last[k] = n_c
        n_c += 1
    # Regroup C by node (few intervals).
    c_off = np.zeros(n_nodes + 1, dtype=np.int64)
    for j in range(n_c):
        c_off[c_node[j] + 1] += 2
    for k in range(n_nodes):
        c_off[k + 1] += c_off[k]
    c_tog = np.empty(2 * n_c, dtype=np.int64)
    c_fill = c_off[:-1].copy()
    for j in range(n_c):
        k = c_node[j]
        c_tog[c_fill[k]] = c_buf[2 * j]
        c_tog[c_fill[k] + 1] = c_buf[2 * j + 1]
        c_fill[k] += 2
    return o_buf, base[:-1].copy(), fill, c_tog, c_off
