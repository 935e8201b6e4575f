"""Running clocks of the sweep: per node |C ∩ H| and |C|, per site |H| and desks in O ∩ C.

A node's clocks (A, A') and a site's (G, the desk count behind peaks and co-presence)
run at a constant rate between calendar changes (an opening-hours toggle, a bucket bound,
a local midnight) and coverage changes; these helpers bring them to a time, record their
values at bucket bounds, and move signed shares between bucket cells. The tables are
int64 rows, one per node (N_*) and per site (S_*). Called from `sweep._walk` per event,
so `loop`/`loop_step` (no reference counting). Pure: arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import numpy as np
from hubsense.analytics.kernels.jit import FOREVER_MS, kernel, loop, loop_step

# Node table columns: its clocks, coverage and cursors over its site's calendar.
N_COVERED = 0  # 1 while the last alive covers now
N_END = 1  # when the last alive's cover runs out (if no alive or stop comes first)
N_A = 2  # A_k (|C ∩ H|) at N_T
N_A2 = 3  # A'_k (|C|) at N_T
N_T = 4
N_OPEN = 5  # the site is open at N_T
N_IH = 6  # next opening-hours toggle (index into h_tog)
N_IB = 7  # next bucket bound (index into b_bounds)
N_NEXT = 8  # min of those two: before it, the clocks run at a constant rate
N_OCC = 9  # the node's desks now in O
N_SEQ = 10  # last seq read
N_LO_B = 11  # its site's first bucket bound (index into b_bounds)
N_COLS = 12
# Site table columns: the desks-in-O-∩-C count, the day's peak sweep and the G clock.
S_COUNT = 0  # desks in O ∩ C (opening hours not applied)
S_HELD = 1  # count inside opening hours, held since S_SINCE
S_SINCE = 2
S_BEST = 3
S_BEST_AT = 4
S_TOGETHER = 5
S_OPEN = 6
S_G = 7  # G_s at S_T
S_T = 8
S_IH = 9
S_ID = 10  # next day bound (index into d_bounds)
S_IB = 11
S_NEXT = 12
S_ALONE = 13  # the day's time with exactly one desk in O ∩ C ∩ H
S_COLS = 14


@loop_step
def unsigned(i):  # type: ignore[no-untyped-def]
    """An index known not to be negative, as unsigned: numba then skips the wraparound."""
    return np.uint64(i)


@loop_step
def bucket_share(out, cell, stride, n_buckets, clock, at, j0, v0, j1, v1):  # type: ignore[no-untyped-def]
    """Add a clock's growth from (bucket j0, value v0) to (bucket j1, value v1) to a desk's
    cells of those buckets (bucket j at out[cell + j * stride]: time-major, see `sweep`);
    clock[at + i] is its value at bucket bound i. Bucket -1 is before the period,
    n_buckets after it (neither has a cell)."""
    if j0 == j1:
        if 0 <= j0 < n_buckets:
            out[cell + j0 * stride] += v1 - v0
        return
    if 0 <= j0 < n_buckets:
        out[cell + j0 * stride] += clock[at + j0 + 1] - v0
    for j in range(max(j0 + 1, 0), min(j1, n_buckets)):
        out[cell + j * stride] += clock[at + j + 1] - clock[at + j]
    if 0 <= j1 < n_buckets:
        out[cell + j1 * stride] += v1 - clock[at + j1]


@loop_step
def cross(out, cell0, stride, clock, at, j0, j1):  # type: ignore[no-untyped-def]
    """A signed stretch from bucket j0 to bucket j1 crossed bounds j0 + 1 .. j1: the clock
    there closes one bucket's share and opens the next one's. Cells -1 and n_buckets are
    padding (before and after the period), so no bound needs a test."""
    for bound in range(j0 + 1, j1 + 1):
        v = clock[at + bound]
        out[cell0 + (bound - 1) * stride] += v
        out[cell0 + bound * stride] -= v


@loop
def node_advance(nd, k, t, lo_b, hi_b, b_bounds, lo_h, hi_h, h_tog, na, na_row):  # type: ignore[no-untyped-def]
    """Run node k's clocks over the calendar changes up to t, storing A at each bucket bound."""
    while nd[unsigned(k), N_NEXT] <= t and nd[unsigned(k), N_NEXT] < FOREVER_MS:
        x = nd[unsigned(k), N_NEXT]
        if nd[unsigned(k), N_COVERED]:
            if nd[unsigned(k), N_OPEN]:
                nd[unsigned(k), N_A] += x - nd[unsigned(k), N_T]
            nd[unsigned(k), N_A2] += x - nd[unsigned(k), N_T]
        nd[unsigned(k), N_T] = x
        ih = nd[unsigned(k), N_IH]
        if ih < hi_h and h_tog[ih] == x:
            nd[unsigned(k), N_OPEN] ^= 1
            nd[unsigned(k), N_IH] = ih + 1
        ib = nd[unsigned(k), N_IB]
        if ib < hi_b and b_bounds[ib] == x:
            na[na_row + ib - lo_b] = nd[unsigned(k), N_A]
            nd[unsigned(k), N_IB] = ib + 1
        ih = nd[unsigned(k), N_IH]
        ib = nd[unsigned(k), N_IB]
        nxt = FOREVER_MS
        if ih < hi_h:
            nxt = h_tog[ih]
        if ib < hi_b:
            nxt = min(nxt, b_bounds[ib])
        nd[unsigned(k), N_NEXT] = nxt


@loop_step
def node_sync(nd, k, t, s, b_off, b_bounds, h_off, h_tog, na, na_off):  # type: ignore[no-untyped-def]
    """Bring node k (of site s) to t; returns its bucket at t. The calendar is read only
    when t passed its next change: per event, the node's row is all that is touched."""
    if t >= nd[unsigned(k), N_NEXT]:
        node_advance(
            nd, k, t, b_off[s], b_off[s + 1], b_bounds, h_off[s], h_off[s + 1], h_tog, na, na_off[k]
        )
    span = (t - nd[unsigned(k), N_T]) * nd[unsigned(k), N_COVERED]
    nd[unsigned(k), N_A] += span * nd[unsigned(k), N_OPEN]
    nd[unsigned(k), N_A2] += span
    nd[unsigned(k), N_T] = t
    return nd[unsigned(k), N_IB] - nd[unsigned(k), N_LO_B] - 1


@loop_step
def _site_close(st, s, x):  # type: ignore[no-untyped-def]
    """The held count lasted [S_SINCE, x): the day's peak, co-presence and alone time learn it."""
    since = st[unsigned(s), S_SINCE]
    if x > since:
        held = st[unsigned(s), S_HELD]
        best = st[unsigned(s), S_BEST]
        better = held > best
        st[unsigned(s), S_BEST] = held if better else best
        st[unsigned(s), S_BEST_AT] = since if better else st[unsigned(s), S_BEST_AT]
        st[unsigned(s), S_TOGETHER] += (x - since) if held >= 2 else 0
        st[unsigned(s), S_ALONE] += (x - since) if held == 1 else 0
        st[unsigned(s), S_SINCE] = x


@loop
def site_advance(  # type: ignore[no-untyped-def]
    st,
    s,
    t,
    lo_b,
    hi_b,
    b_bounds,
    lo_h,
    hi_h,
    h_tog,
    lo_d,
    hi_d,
    d_bounds,
    ng,
    peak,
    peak_at,
    together,
):
    """Run site s over its calendar changes up to t: opening hours, midnights, bucket bounds.

    `together` has two halves: per site-day row the co-presence, then the alone time."""
    while st[unsigned(s), S_NEXT] <= t and st[unsigned(s), S_NEXT] < FOREVER_MS:
        x = st[unsigned(s), S_NEXT]
        _site_close(st, s, x)
        if st[unsigned(s), S_OPEN]:
            st[unsigned(s), S_G] += x - st[unsigned(s), S_T]
        st[unsigned(s), S_T] = x
        i = st[unsigned(s), S_ID]
        if i < hi_d and d_bounds[i] == x:
            if i > lo_d:
                row = i - s - 1
                peak[row] = st[unsigned(s), S_BEST]
                peak_at[row] = st[unsigned(s), S_BEST_AT]
                together[row] = st[unsigned(s), S_TOGETHER]
                # `together` holds co-presence rows, then as many alone rows (see sweep).
                together[(together.shape[0] >> 1) + row] = st[unsigned(s), S_ALONE]
            st[unsigned(s), S_BEST] = 0
            st[unsigned(s), S_BEST_AT] = -1
            st[unsigned(s), S_TOGETHER] = 0
            st[unsigned(s), S_ALONE] = 0
            st[unsigned(s), S_ID] = i + 1
        i = st[unsigned(s), S_IH]
        if i < hi_h and h_tog[i] == x:
            st[unsigned(s), S_OPEN] ^= 1
            st[unsigned(s), S_HELD] = st[unsigned(s), S_COUNT] if st[unsigned(s), S_OPEN] else 0
            st[unsigned(s), S_IH] = i + 1
        i = st[unsigned(s), S_IB]
        if i < hi_b and b_bounds[i] == x:
            ng[i] = st[unsigned(s), S_G]
            st[unsigned(s), S_IB] = i + 1
        nxt = FOREVER_MS
        if st[unsigned(s), S_ID] < hi_d:
            nxt = d_bounds[st[unsigned(s), S_ID]]
        if st[unsigned(s), S_IH] < hi_h:
            nxt = min(nxt, h_tog[st[unsigned(s), S_IH]])
        if st[unsigned(s), S_IB] < hi_b:
            nxt = min(nxt, b_bounds[st[unsigned(s), S_IB]])
        st[unsigned(s), S_NEXT] = nxt


@loop_step
def site_sync(  # type: ignore[no-untyped-def]
    st, s, t, b_off, b_bounds, h_off, h_tog, d_off, d_bounds, ng, peak, peak_at, together
):
    """Bring site s to t. The calendar is read only when t passed its next change."""
    if t >= st[unsigned(s), S_NEXT]:
        site_advance(
            st,
            s,
            t,
            b_off[s],
            b_off[s + 1],
            b_bounds,
            h_off[s],
            h_off[s + 1],
            h_tog,
            d_off[s],
            d_off[s + 1],
            d_bounds,
            ng,
            peak,
            peak_at,
            together,
        )


@loop_step
def site_change(  # type: ignore[no-untyped-def]
    st, s, t, delta, b_off, b_bounds, h_off, h_tog, d_off, d_bounds, ng, peak, peak_at, together
):
    """At t, delta more (or fewer) of site s's desks are in O ∩ C."""
    site_sync(st, s, t, b_off, b_bounds, h_off, h_tog, d_off, d_bounds, ng, peak, peak_at, together)
    _site_close(st, s, t)
    st[unsigned(s), S_COUNT] += delta
    st[unsigned(s), S_HELD] = st[unsigned(s), S_COUNT] * st[unsigned(s), S_OPEN]


@loop
def lapse(  # type: ignore[no-untyped-def]
    nd,
    t,
    cover_ms,
    node_site,
    b_off,
    b_bounds,
    h_off,
    h_tog,
    na,
    na_off,
    st,
    d_off,
    d_bounds,
    ng,
    peak,
    peak_at,
    together,
):
    """End, in time order, every cover that ran out by t; returns the next bound."""
    n_nodes = nd.shape[0]
    while True:
        first = -1
        soonest = FOREVER_MS
        for k in range(n_nodes):
            if nd[unsigned(k), N_COVERED] and nd[unsigned(k), N_END] < soonest:
                soonest = nd[unsigned(k), N_END]
                first = k
        if first < 0 or soonest > t:
            return soonest
        k = first
        s = node_site[k]
        node_sync(nd, k, soonest, s, b_off, b_bounds, h_off, h_tog, na, na_off)
        nd[unsigned(k), N_COVERED] = 0
        site_change(
            st,
            s,
            soonest,
            -nd[unsigned(k), N_OCC],
            b_off,
            b_bounds,
            h_off,
            h_tog,
            d_off,
            d_bounds,
            ng,
            peak,
            peak_at,
            together,
        )


@kernel
def clock_tables(  # type: ignore[no-untyped-def]
    node_site, b_off, b_bounds, h_off, h_tog, d_off, d_bounds
):
    """Fresh node and site tables (and where each node's clock values at bucket bounds go in
    na), every cursor at the start of its calendar."""
    n_nodes = node_site.shape[0]
    n_sites = b_off.shape[0] - 1
    nd = np.zeros((n_nodes, N_COLS), dtype=np.int64)
    na_off = np.zeros(n_nodes + 1, dtype=np.int64)
    for k in range(n_nodes):
        s = node_site[k]
        nd[unsigned(k), N_IH] = h_off[s]
        nd[unsigned(k), N_IB] = b_off[s]
        nd[unsigned(k), N_LO_B] = b_off[s]
        nxt = FOREVER_MS
        if h_off[s] < h_off[s + 1]:
            nxt = h_tog[h_off[s]]
        if b_off[s] < b_off[s + 1]:
            nxt = min(nxt, b_bounds[b_off[s]])
        nd[unsigned(k), N_NEXT] = nxt
        nd[unsigned(k), N_T] = -FOREVER_MS
        nd[unsigned(k), N_SEQ] = -FOREVER_MS
        na_off[k + 1] = na_off[k] + b_off[s + 1] - b_off[s]
    st = np.zeros((n_sites, S_COLS), dtype=np.int64)
    for s in range(n_sites):
        st[unsigned(s), S_BEST_AT] = -1
        st[unsigned(s), S_SINCE] = -FOREVER_MS
        st[unsigned(s), S_T] = -FOREVER_MS
        st[unsigned(s), S_IH] = h_off[s]
        st[unsigned(s), S_ID] = d_off[s]
        st[unsigned(s), S_IB] = b_off[s]
        nxt = FOREVER_MS
        if d_off[s] < d_off[s + 1]:
            nxt = d_bounds[d_off[s]]
        if h_off[s] < h_off[s + 1]:
            nxt = min(nxt, h_tog[h_off[s]])
        if b_off[s] < b_off[s + 1]:
            nxt = min(nxt, b_bounds[b_off[s]])
        st[unsigned(s), S_NEXT] = nxt
    return nd, na_off, st
