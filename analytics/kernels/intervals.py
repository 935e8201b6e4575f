"""Interval sets as sorted toggle arrays, and the occupied (O) and observed (C) sets.

An interval set is a sorted int64 array [s0, e0, s1, e1, …] of disjoint, non-empty,
non-touching half-open intervals [s, e) in UTC milliseconds: a time t is inside
when the number of toggles <= t is odd. Per-entity sets are stored CSR-style: one
flat toggle array and offsets (always even).

docs/metrics.md: O = union of [t_i, t_i+1) over a desk's occupied events in (ts, seq) order,
the last one open-ended; C = each `alive` at h covers [h, min(h + 3 x heartbeat,
the node's next alive or stop)). Pure: arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import numpy as np
from hubsense.analytics.kernels.jit import FOREVER_MS, kernel, step
from hubsense.analytics.kernels.order import KIND_ALIVE

STATE_VACANT = 0
STATE_OCCUPIED = 1
# docs/metrics.md: neither occupied nor observed (C = N - U); the kernels see it as not occupied
# and `compute` takes U out of the observed measures.
STATE_UNKNOWN = 2
# docs/metrics.md: an alive covers three heartbeats unless the node's next alive/stop comes first.
HEARTBEATS_COVERED = 3


@step
def emit(out, lo, n, start, end):  # type: ignore[no-untyped-def]
    """Append [start, end) to the set out[lo:n] (starts ascending), merging overlap; new n."""
    if end <= start:
        return n
    if n > lo and out[n - 1] >= start:
        if end > out[n - 1]:
            out[n - 1] = end
        return n
    out[n] = start
    out[n + 1] = end
    return n + 2


@kernel
def occupied_sets(g_ts, g_flag, offsets, n_desks):  # type: ignore[no-untyped-def]
    """O per desk from its grouped desk events (segments 0..n_desks-1 of `group_events`)."""
    # Each interval needs an occupied event to open it and a vacant one (or the end) to close
    # it, so a desk with n events has at most (n + 1) / 2 intervals: n + 1 toggles.
    out = np.empty(offsets[n_desks] + n_desks + 2, dtype=np.int64)
    o_off = np.zeros(n_desks + 1, dtype=np.int64)
    n = 0
    for d in range(n_desks):
        start = -1
        for j in range(offsets[d], offsets[d + 1]):
            if g_flag[j] == STATE_OCCUPIED:
                if start < 0:
                    start = g_ts[j]
            elif start >= 0:
                n = emit(out, o_off[d], n, start, g_ts[j])
                start = -1
        if start >= 0:
            n = emit(out, o_off[d], n, start, FOREVER_MS)
        o_off[d + 1] = n
    return out[:n], o_off


@kernel
def _observed_count(g_ts, g_flag, lo, hi, cover):  # type: ignore[no-untyped-def]
    """How many merged intervals a node's alive/stop segment gives (alives mostly touch)."""
    count = 0
    last_end = -1
    for j in range(lo, hi):
        if g_flag[j] != KIND_ALIVE:
            continue
        end = g_ts[j] + cover
        if j + 1 < hi and g_ts[j + 1] < end:
            end = g_ts[j + 1]
        if end <= g_ts[j]:
            continue
        if count > 0 and last_end >= g_ts[j]:
            last_end = max(last_end, end)
        else:
            count += 1
            last_end = end
    return count


@kernel
def observed_sets(g_ts, g_flag, offsets, heartbeat_ms, n_desks, n_nodes):  # type: ignore[no-untyped-def]
    """C per node from its grouped alive/stop events (segments n_desks + k of `group_events`)."""
    total = 0
    for k in range(n_nodes):
        cover = HEARTBEATS_COVERED * heartbeat_ms[k]
        total += _observed_count(
            g_ts, g_flag, offsets[n_desks + k], offsets[n_desks + k + 1], cover
        )
    # Counted first: a year of alives is tens of millions of events but few merged intervals.
    out = np.empty(2 * total + 2, dtype=np.int64)
    c_off = np.zeros(n_nodes + 1, dtype=np.int64)
    n = 0
    for k in range(n_nodes):
        lo = offsets[n_desks + k]
        hi = offsets[n_desks + k + 1]
        cover = HEARTBEATS_COVERED * heartbeat_ms[k]
        for j in range(lo, hi):
            if g_flag[j] != KIND_ALIVE:
                continue
            end = g_ts[j] + cover
            if j + 1 < hi and g_ts[j + 1] < end:
                end = g_ts[j + 1]
            n = emit(out, c_off[k], n, g_ts[j], end)
        c_off[k + 1] = n
    return out[:n].copy(), c_off


@kernel
def booking_order(b_desk, b_start, n_desks):  # type: ignore[no-untyped-def]
    """Booking rows by (desk, start): a stable counting sort by desk, then sorts of the
    (rare) desks whose bookings are not already by start."""
    m = b_desk.shape[0]
    offsets = np.zeros(n_desks + 1, dtype=np.int64)
    for b in range(m):
        offsets[b_desk[b] + 1] += 1
    for d in range(n_desks):
        offsets[d + 1] += offsets[d]
    fill = offsets[:-1].copy()
    order = np.empty(m, dtype=np.int64)
    for b in range(m):
        d = b_desk[b]
        order[fill[d]] = b
        fill[d] += 1
    for d in range(n_desks):
        lo = offsets[d]
        hi = offsets[d + 1]
        for j in range(lo + 1, hi):
            if b_start[order[j]] < b_start[order[j - 1]]:
                seg = order[lo:hi].copy()
                order[lo:hi] = seg[np.argsort(b_start[seg], kind="mergesort")]
                break
    return order


@kernel
def booked_sets(by_desk, b_desk, b_start, b_end, n_desks):  # type: ignore[no-untyped-def]
    """K per desk: the union of the desk's bookings, visited in `booking_order`."""
    m = b_desk.shape[0]
    out = np.empty(2 * m + 2, dtype=np.int64)
    k_off = np.zeros(n_desks + 1, dtype=np.int64)
    n = 0
    j = 0
    for d in range(n_desks):
        while j < m and b_desk[by_desk[j]] == d:
            b = by_desk[j]
            n = emit(out, k_off[d], n, b_start[b], b_end[b])
            j += 1
        k_off[d + 1] = n
    return out[:n].copy(), k_off


@step
def gallop_toggle_after(toggles, lo, hi, t):  # type: ignore[no-untyped-def]
    """Like first_toggle_after, for a t near lo: doubling steps first, so the cost is the log
    of the distance travelled, not of the whole range (bookings of a desk come in order)."""
    step = 1
    while lo + step < hi and toggles[lo + step] <= t:
        lo += step
        step *= 2
    end = min(lo + step, hi)
    while lo < end:
        mid = (lo + end) >> 1
        if toggles[mid] <= t:
            lo = mid + 1
        else:
            end = mid
    return lo


@step
def first_toggle_after(toggles, lo, hi, t):  # type: ignore[no-untyped-def]
    """Index of the first toggle in toggles[lo:hi] that is > t (binary search)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if toggles[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo
