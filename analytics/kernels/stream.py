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
def desk_counts(kind, desk, keep, n_desks):  # type: ignore[no-untyped-def]
    counts = np.zeros(n_desks, dtype=np.int64)
    for i in range(kind.shape[0]):
        if keep[i] and kind[i] == KIND_DESK:
            counts[desk[i]] += 1
    return counts


@kernel
def _grown(buffer, size):  # type: ignore[no-untyped-def]
    bigger = np.empty(size, dtype=buffer.dtype)
    bigger[: buffer.shape[0]] = buffer
    return bigger


@kernel
def stream_sets(kind, desk, node, ts, state, keep, counts, heartbeat_ms, n_desks, n_nodes):  # type: ignore[no-untyped-def]
    """(o_tog, o_off, c_tog, c_off) from ordered events; `counts` = desk events per desk."""
    # A desk with n events has at most n + 1 toggles (see occupied_sets).
    base = np.zeros(n_desks + 1, dtype=np.int64)
    for d in range(n_desks):
        base[d + 1] = base[d] + counts[d] + 1
    o_buf = np.empty(base[n_desks] + 2, dtype=np.int64)
    fill = base[:-1].copy()
    open_at = np.full(n_desks, -1, dtype=np.int64)
    pending = np.full(n_nodes, -1, dtype=np.int64)
    c_last = np.full(n_nodes, -1, dtype=np.int64)
    c_buf = np.empty(2 * n_nodes + 64, dtype=np.int64)
    c_node = np.empty(n_nodes + 32, dtype=np.int32)  # node of each C interval in c_buf
    n_c = 0
    for i in range(kind.shape[0]):
        if not keep[i]:
            continue
        t = ts[i]
        if kind[i] == KIND_DESK:
            d = desk[i]
            if state[i] == STATE_OCCUPIED:
                if open_at[d] < 0:
                    open_at[d] = t
            elif open_at[d] >= 0:
                fill[d] = emit(o_buf, base[d], fill[d], open_at[d], t)
                open_at[d] = -1
        else:
            k = node[i]
            h = pending[k]
            pending[k] = t if kind[i] == KIND_ALIVE else -1
            if h < 0:
                continue
            end = min(h + HEARTBEATS_COVERED * heartbeat_ms[k], t)
            if end <= h:
                continue
            j = c_last[k]
            if j >= 0 and c_buf[2 * j + 1] >= h:
                # The usual case: an alive's cover runs into the next alive; extend.
                if end > c_buf[2 * j + 1]:
                    c_buf[2 * j + 1] = end
                continue
            if 2 * n_c + 2 > c_buf.shape[0]:
                c_buf = _grown(c_buf, 2 * c_buf.shape[0])
                c_node = _grown(c_node, c_buf.shape[0] // 2)
            c_buf[2 * n_c] = h
            c_buf[2 * n_c + 1] = end
            c_node[n_c] = k
            c_last[k] = n_c
            n_c += 1
    for d in range(n_desks):
        if open_at[d] >= 0:
            fill[d] = emit(o_buf, base[d], fill[d], open_at[d], FOREVER_MS)
    for k in range(n_nodes):
        h = pending[k]
        if h < 0:
            continue
        end = h + HEARTBEATS_COVERED * heartbeat_ms[k]
        j = c_last[k]
        if j >= 0 and c_buf[2 * j + 1] >= h:
            c_buf[2 * j + 1] = max(c_buf[2 * j + 1], end)
            continue
        if 2 * n_c + 2 > c_buf.shape[0]:
            c_buf = _grown(c_buf, 2 * c_buf.shape[0])
            c_node = _grown(c_node, c_buf.shape[0] // 2)
        c_buf[2 * n_c] = h
        c_buf[2 * n_c + 1] = end
        c_node[n_c] = k
        c_last[k] = n_c
        n_c += 1
    # Compact O's slots in place (moving down only), and regroup C by node (few intervals).
    o_off = np.zeros(n_desks + 1, dtype=np.int64)
    for d in range(n_desks):
        size = fill[d] - base[d]
        start = o_off[d]
        for j in range(size):
            o_buf[start + j] = o_buf[base[d] + j]
        o_off[d + 1] = start + size
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
    return o_buf[: o_off[n_desks]].copy(), o_off, c_tog, c_off
