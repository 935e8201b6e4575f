"""Every SPEC §6 measure in one pass over events in time order, as ingest stores them.

The fast path of `compute`: events sorted by (ts, seq), with seq rising per node (so no
(node, seq) can repeat), merged with the bookings' starts and ends in time order. Nothing
per event is stored: no occupied set O, no pieces. Instead, measures are differences of
running clocks that only change where the calendar or a node's coverage changes:

- per node k, A_k(t) = |(-∞, t) ∩ C_k ∩ H| and A'_k(t) = |(-∞, t) ∩ C_k|;
- per site s, G_s(t) = |(-∞, t) ∩ H|;
- each clock's value at every bucket bound of its site is kept (NA, NG), so a stretch
  [x, y) that crosses bounds is split exactly into its buckets.

A desk's occupied time in a bucket is then A(end) - A(start) summed over its O stretches,
split at bucket bounds; booked, booked-observed and booked-occupied use the stretches of
K and of O ∧ K, and a booking's occupied time is the desk's running |O ∩ C| at its end
minus at its start. Per site, the number of desks in O ∩ C (inside opening hours) changes
only at desk toggles and coverage changes, which come in time order, so peaks and
co-presence are a running sweep too, closed at every local midnight.

A node's coverage ends silently (three heartbeats without an alive): the earliest
possible end over all covered nodes is kept as a bound, and only when time passes it are
the nodes looked at, so the ends are applied in time order before anything later.

State per desk, node and site sits in small tables that stay in cache; events are read
once, front to back. Indices are trusted (the readers validate every node and desk), and
the hot ones are read unsigned (`_u`), which spares numba's negative-index wraparound.
Pure: arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import numpy as np
from hubsense.analytics.kernels.intervals import HEARTBEATS_COVERED, STATE_OCCUPIED
from hubsense.analytics.kernels.jit import FOREVER_MS, kernel, loop, loop_step
from hubsense.analytics.kernels.order import KIND_ALIVE, KIND_DESK

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
S_COLS = 13
# Desk table columns (one cache line): O, and where its current O and O ∧ K stretches began.
D_IN_O = 0
D_O_J = 1  # bucket where the O stretch began (-1 before the period)
D_Q = 2  # -A' at each entry into O, +A' at each exit: |O ∩ C| so far is D_Q + D_IN_O * A'
D_BOOKED = 3  # bookings in force now
D_OK_J = 4  # bucket where the O ∧ K stretch began
D_T = 5  # its last event's ts and seq: (ts, seq) order per desk
D_SEQ = 6
D_COLS = 8  # one cache line per desk
# Desk K columns: where the current K stretch began.
K_G = 0
K_A = 1
K_J = 2
K_COLS = 3
_RADIX_BITS = 11


@loop_step
def _u(i):  # type: ignore[no-untyped-def]
    """An index known not to be negative, as unsigned: numba then skips the wraparound."""
    return np.uint64(i)


@kernel
def booking_toggles(b_start, b_end):  # type: ignore[no-untyped-def]
    """Every booking's start and end in time order (starts before ends at one instant), as
    codes 2b (start of booking b) and 2b + 1 (its end): an LSD radix sort, linear."""
    m2 = 2 * b_start.shape[0]
    keys = np.empty(m2, dtype=np.int64)
    codes = np.arange(m2, dtype=np.int64)
    if m2 == 0:
        return codes
    low = min(b_start.min(), b_end.min())
    for b in range(m2 // 2):
        keys[2 * b] = 2 * (b_start[b] - low)
        keys[2 * b + 1] = 2 * (b_end[b] - low) + 1
    keys_to = np.empty_like(keys)
    codes_to = np.empty_like(codes)
    counts = np.zeros((1 << _RADIX_BITS) + 1, dtype=np.int64)
    mask = (1 << _RADIX_BITS) - 1
    top = keys.max()
    shift = 0
    while shift == 0 or (top >> shift) > 0:
        counts[:] = 0
        for i in range(m2):
            counts[((keys[i] >> shift) & mask) + 1] += 1
        for r in range(1 << _RADIX_BITS):
            counts[r + 1] += counts[r]
        for i in range(m2):
            digit = (keys[i] >> shift) & mask
            j = counts[digit]
            keys_to[j] = keys[i]
            codes_to[j] = codes[i]
            counts[digit] = j + 1
        keys, keys_to = keys_to, keys
        codes, codes_to = codes_to, codes
        shift += _RADIX_BITS
    return codes


@loop_step
def _bucket_share(out, cell, stride, n_buckets, clock, at, j0, v0, j1, v1):  # type: ignore[no-untyped-def]
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
def _cross(out, cell0, stride, clock, at, j0, j1):  # type: ignore[no-untyped-def]
    """A signed stretch from bucket j0 to bucket j1 crossed bounds j0 + 1 .. j1: the clock
    there closes one bucket's share and opens the next one's. Cells -1 and n_buckets are
    padding (before and after the period), so no bound needs a test."""
    for bound in range(j0 + 1, j1 + 1):
        v = clock[at + bound]
        out[cell0 + (bound - 1) * stride] += v
        out[cell0 + bound * stride] -= v


@loop
def _node_advance(nd, k, t, lo_b, hi_b, b_bounds, lo_h, hi_h, h_tog, na, na_row):  # type: ignore[no-untyped-def]
    """Run node k's clocks over the calendar changes up to t, storing A at each bucket bound."""
    while nd[_u(k), N_NEXT] <= t and nd[_u(k), N_NEXT] < FOREVER_MS:
        x = nd[_u(k), N_NEXT]
        if nd[_u(k), N_COVERED]:
            if nd[_u(k), N_OPEN]:
                nd[_u(k), N_A] += x - nd[_u(k), N_T]
            nd[_u(k), N_A2] += x - nd[_u(k), N_T]
        nd[_u(k), N_T] = x
        ih = nd[_u(k), N_IH]
        if ih < hi_h and h_tog[ih] == x:
            nd[_u(k), N_OPEN] ^= 1
            nd[_u(k), N_IH] = ih + 1
        ib = nd[_u(k), N_IB]
        if ib < hi_b and b_bounds[ib] == x:
            na[na_row + ib - lo_b] = nd[_u(k), N_A]
            nd[_u(k), N_IB] = ib + 1
        ih = nd[_u(k), N_IH]
        ib = nd[_u(k), N_IB]
        nxt = FOREVER_MS
        if ih < hi_h:
            nxt = h_tog[ih]
        if ib < hi_b:
            nxt = min(nxt, b_bounds[ib])
        nd[_u(k), N_NEXT] = nxt


@loop_step
def _node_sync(nd, k, t, s, b_off, b_bounds, h_off, h_tog, na, na_off):  # type: ignore[no-untyped-def]
    """Bring node k (of site s) to t; returns its bucket at t. The calendar is read only
    when t passed its next change: per event, the node's row is all that is touched."""
    if t >= nd[_u(k), N_NEXT]:
        _node_advance(
            nd, k, t, b_off[s], b_off[s + 1], b_bounds, h_off[s], h_off[s + 1], h_tog, na, na_off[k]
        )
    span = (t - nd[_u(k), N_T]) * nd[_u(k), N_COVERED]
    nd[_u(k), N_A] += span * nd[_u(k), N_OPEN]
    nd[_u(k), N_A2] += span
    nd[_u(k), N_T] = t
    return nd[_u(k), N_IB] - nd[_u(k), N_LO_B] - 1


@loop_step
def _site_close(st, s, x):  # type: ignore[no-untyped-def]
    """The held count lasted [S_SINCE, x): the day's peak and co-presence learn of it."""
    since = st[_u(s), S_SINCE]
    if x > since:
        held = st[_u(s), S_HELD]
        best = st[_u(s), S_BEST]
        better = held > best
        st[_u(s), S_BEST] = held if better else best
        st[_u(s), S_BEST_AT] = since if better else st[_u(s), S_BEST_AT]
        st[_u(s), S_TOGETHER] += (x - since) if held >= 2 else 0
        st[_u(s), S_SINCE] = x


@loop
def _site_advance(  # type: ignore[no-untyped-def]
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
    """Run site s over its calendar changes up to t: opening hours, midnights, bucket bounds."""
    while st[_u(s), S_NEXT] <= t and st[_u(s), S_NEXT] < FOREVER_MS:
        x = st[_u(s), S_NEXT]
        _site_close(st, s, x)
        if st[_u(s), S_OPEN]:
            st[_u(s), S_G] += x - st[_u(s), S_T]
        st[_u(s), S_T] = x
        i = st[_u(s), S_ID]
        if i < hi_d and d_bounds[i] == x:
            if i > lo_d:
                row = i - s - 1
                peak[row] = st[_u(s), S_BEST]
                peak_at[row] = st[_u(s), S_BEST_AT]
                together[row] = st[_u(s), S_TOGETHER]
            st[_u(s), S_BEST] = 0
            st[_u(s), S_BEST_AT] = -1
            st[_u(s), S_TOGETHER] = 0
            st[_u(s), S_ID] = i + 1
        i = st[_u(s), S_IH]
        if i < hi_h and h_tog[i] == x:
            st[_u(s), S_OPEN] ^= 1
            st[_u(s), S_HELD] = st[_u(s), S_COUNT] if st[_u(s), S_OPEN] else 0
            st[_u(s), S_IH] = i + 1
        i = st[_u(s), S_IB]
        if i < hi_b and b_bounds[i] == x:
            ng[i] = st[_u(s), S_G]
            st[_u(s), S_IB] = i + 1
        nxt = FOREVER_MS
        if st[_u(s), S_ID] < hi_d:
            nxt = d_bounds[st[_u(s), S_ID]]
        if st[_u(s), S_IH] < hi_h:
            nxt = min(nxt, h_tog[st[_u(s), S_IH]])
        if st[_u(s), S_IB] < hi_b:
            nxt = min(nxt, b_bounds[st[_u(s), S_IB]])
        st[_u(s), S_NEXT] = nxt


@loop_step
def _site_change(  # type: ignore[no-untyped-def]
    st, s, t, delta, b_off, b_bounds, h_off, h_tog, d_off, d_bounds, ng, peak, peak_at, together
):
    """At t, delta more (or fewer) of site s's desks are in O ∩ C."""
    if t >= st[_u(s), S_NEXT]:
        _site_advance(
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
    _site_close(st, s, t)
    st[_u(s), S_COUNT] += delta
    st[_u(s), S_HELD] = st[_u(s), S_COUNT] * st[_u(s), S_OPEN]


@kernel
def _tables(  # type: ignore[no-untyped-def]
    n_desks, node_site, b_off, b_bounds, h_off, h_tog, d_off, d_bounds
):
    """Fresh node, site and desk tables, every cursor at the start of its calendar."""
    n_nodes = node_site.shape[0]
    n_sites = b_off.shape[0] - 1
    nd = np.zeros((n_nodes, N_COLS), dtype=np.int64)
    na_off = np.zeros(n_nodes + 1, dtype=np.int64)
    for k in range(n_nodes):
        s = node_site[k]
        nd[_u(k), N_IH] = h_off[s]
        nd[_u(k), N_IB] = b_off[s]
        nd[_u(k), N_LO_B] = b_off[s]
        nxt = FOREVER_MS
        if h_off[s] < h_off[s + 1]:
            nxt = h_tog[h_off[s]]
        if b_off[s] < b_off[s + 1]:
            nxt = min(nxt, b_bounds[b_off[s]])
        nd[_u(k), N_NEXT] = nxt
        nd[_u(k), N_T] = -FOREVER_MS
        nd[_u(k), N_SEQ] = -FOREVER_MS
        na_off[k + 1] = na_off[k] + b_off[s + 1] - b_off[s]
    st = np.zeros((n_sites, S_COLS), dtype=np.int64)
    for s in range(n_sites):
        st[_u(s), S_BEST_AT] = -1
        st[_u(s), S_SINCE] = -FOREVER_MS
        st[_u(s), S_T] = -FOREVER_MS
        st[_u(s), S_IH] = h_off[s]
        st[_u(s), S_ID] = d_off[s]
        st[_u(s), S_IB] = b_off[s]
        nxt = FOREVER_MS
        if d_off[s] < d_off[s + 1]:
            nxt = d_bounds[d_off[s]]
        if h_off[s] < h_off[s + 1]:
            nxt = min(nxt, h_tog[h_off[s]])
        if b_off[s] < b_off[s + 1]:
            nxt = min(nxt, b_bounds[b_off[s]])
        st[_u(s), S_NEXT] = nxt
    dk = np.zeros((n_desks, D_COLS), dtype=np.int64)
    kk = np.zeros((n_desks, K_COLS), dtype=np.int64)
    return nd, na_off, st, dk, kk


@kernel
def sweep(  # type: ignore[no-untyped-def]
    kind,
    desk,
    node,
    ts,
    seq,
    state,
    desk_site,
    desk_node,
    node_site,
    heartbeat_ms,
    row_off,
    site_desk_off,
    b_bounds,
    b_off,
    h_tog,
    h_off,
    d_bounds,
    d_off,
    b_desk,
    b_start,
    b_end,
):
    """All measures from events in (ts, seq) order with seq rising per node.

    Returns (ok, observed, occupied, booked, booked_observed, booked_occupied, peak,
    peak_at, copresence, booking_observed, booking_occupied), rows as in `desk_measures`
    and bookings in input order. ok is False (and the rest meaningless) when the events
    are not in that order: the caller then takes the grouping path.
    """
    n_desks = desk_site.shape[0]
    n_nodes = node_site.shape[0]
    n_sites = b_off.shape[0] - 1
    n_days = d_off[n_sites] - n_sites
    peak = np.zeros(n_days, dtype=np.int64)
    peak_at = np.full(n_days, -1, dtype=np.int64)
    together = np.zeros(n_days, dtype=np.int64)
    m = b_desk.shape[0]
    b_observed = np.zeros(m, dtype=np.int64)
    b_occupied = np.zeros(m, dtype=np.int64)
    nd, na_off, st, dk, kk = _tables(
        n_desks, node_site, b_off, b_bounds, h_off, h_tog, d_off, d_bounds
    )
    na = np.zeros(na_off[n_nodes], dtype=np.int64)
    ng = np.zeros(b_bounds.shape[0], dtype=np.int64)
    cover_ms = HEARTBEATS_COVERED * heartbeat_ms
    k_order = booking_toggles(b_start, b_end)
    # While sweeping, a site's cells are time-major (bucket, desk): the desks written at one
    # time share a few cache lines and pages, not one page each. Each site's block has a
    # padding bucket before and after the period (see `_cross`). Gathered at the end.
    site_size = site_desk_off[1:] - site_desk_off[:-1]
    cell0 = np.empty(n_desks, dtype=np.int64)
    n_cells = 0
    for site in range(n_sites):
        size = site_size[site]
        for d in range(site_desk_off[site], site_desk_off[site + 1]):
            cell0[d] = n_cells + size + d - site_desk_off[site]  # bucket 0
        n_cells += (b_off[site + 1] - b_off[site] + 1) * size
    observed = np.zeros(n_cells, dtype=np.int64)
    occupied = np.zeros(n_cells, dtype=np.int64)
    booked = np.zeros(n_cells, dtype=np.int64)
    booked_observed = np.zeros(n_cells, dtype=np.int64)
    booked_occupied = np.zeros(n_cells, dtype=np.int64)
    ok = _walk(
        kind,
        desk,
        node,
        ts,
        seq,
        state,
        desk_site,
        desk_node,
        node_site,
        cell0,
        site_size,
        b_bounds,
        b_off,
        h_tog,
        h_off,
        d_bounds,
        d_off,
        b_desk,
        b_start,
        b_end,
        k_order,
        cover_ms,
        nd,
        na,
        na_off,
        st,
        dk,
        kk,
        ng,
        observed,
        occupied,
        booked,
        booked_observed,
        booked_occupied,
        peak,
        peak_at,
        together,
        b_observed,
        b_occupied,
    )
    return (
        ok,
        _desk_major(observed, row_off, desk_site, cell0, site_size),
        _desk_major(occupied, row_off, desk_site, cell0, site_size),
        _desk_major(booked, row_off, desk_site, cell0, site_size),
        _desk_major(booked_observed, row_off, desk_site, cell0, site_size),
        _desk_major(booked_occupied, row_off, desk_site, cell0, site_size),
        peak,
        peak_at,
        together,
        b_observed,
        b_occupied,
    )


@kernel
def _desk_major(cells, row_off, desk_site, cell0, site_size):  # type: ignore[no-untyped-def]
    """The rows of `desk_measures` (desk, bucket) from the sweep's time-major cells."""
    n_desks = desk_site.shape[0]
    out = np.empty(row_off[n_desks], dtype=np.int64)
    for d in range(n_desks):
        stride = site_size[desk_site[d]]
        for r in range(row_off[d], row_off[d + 1]):
            out[r] = cells[cell0[d] + (r - row_off[d]) * stride]
    return out


@loop
def _walk(  # type: ignore[no-untyped-def]
    kind,
    desk,
    node,
    ts,
    seq,
    state,
    desk_site,
    desk_node,
    node_site,
    cell0,
    site_size,
    b_bounds,
    b_off,
    h_tog,
    h_off,
    d_bounds,
    d_off,
    b_desk,
    b_start,
    b_end,
    k_order,
    cover_ms,
    nd,
    na,
    na_off,
    st,
    dk,
    kk,
    ng,
    observed,
    occupied,
    booked,
    booked_observed,
    booked_occupied,
    peak,
    peak_at,
    together,
    b_observed,
    b_occupied,
):
    """The pass itself, over tables and outputs `sweep` made: False at the first event out of
    order. Nothing here allocates, so it runs without reference counting (see jit.loop)."""
    n = kind.shape[0]
    n_desks = desk_site.shape[0]
    n_nodes = node_site.shape[0]
    n_sites = b_off.shape[0] - 1
    n_k = k_order.shape[0]
    ik = 0
    next_k = FOREVER_MS
    if n_k > 0:
        first = k_order[0]
        next_k = b_start[first >> 1] if (first & 1) == 0 else b_end[first >> 1]
    # No covered node's cover runs out before this (a lower bound; see the module doc).
    next_lapse = FOREVER_MS
    last_t = -FOREVER_MS
    ordered = True
    i = 0
    while True:
        # Events before the next booking start or end and the next possible lapse need
        # neither: the inner loop takes them with one comparison each.
        limit = min(next_k, next_lapse)
        while i < n:
            t = ts[_u(i)]
            if t >= limit:
                break
            if t < last_t:
                ordered = False
                break
            k = node[_u(i)]
            sq = seq[_u(i)]
            if sq <= nd[_u(k), N_SEQ]:
                # A node's seq went back: (node, seq) may repeat, first_reads must decide.
                ordered = False
                break
            nd[_u(k), N_SEQ] = sq
            last_t = t
            what = kind[_u(i)]
            if what == KIND_ALIVE and nd[_u(k), N_COVERED]:
                # Still covered: only where the cover ends moves (never below next_lapse). The
                # clocks run on unchanged; whoever reads them next brings them to its time.
                nd[_u(k), N_END] = t + cover_ms[k]
            elif what == KIND_DESK:
                d = desk[_u(i)]
                if t == dk[_u(d), D_T] and sq < dk[_u(d), D_SEQ]:
                    # Same instant, two nodes naming one desk, seq not in order.
                    ordered = False
                    break
                dk[_u(d), D_T] = t
                dk[_u(d), D_SEQ] = sq
                now_in = 1 if state[_u(i)] == STATE_OCCUPIED else 0
                if now_in != dk[_u(d), D_IN_O]:
                    _desk_toggle(
                        d,
                        now_in,
                        t,
                        desk_site[d],
                        desk_node[d],
                        nd,
                        dk,
                        st,
                        cell0,
                        site_size,
                        b_bounds,
                        b_off,
                        h_tog,
                        h_off,
                        d_bounds,
                        d_off,
                        na,
                        na_off,
                        ng,
                        peak,
                        peak_at,
                        together,
                        occupied,
                        booked_occupied,
                    )
            else:
                s = node_site[k]
                _node_sync(nd, k, t, s, b_off, b_bounds, h_off, h_tog, na, na_off)
                if what == KIND_ALIVE:
                    if not nd[_u(k), N_COVERED]:
                        nd[_u(k), N_COVERED] = 1
                        _site_change(
                            st,
                            s,
                            t,
                            nd[_u(k), N_OCC],
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
                    nd[_u(k), N_END] = t + cover_ms[k]
                    next_lapse = min(next_lapse, nd[_u(k), N_END])
                    limit = min(limit, next_lapse)
                elif nd[_u(k), N_COVERED]:
                    nd[_u(k), N_COVERED] = 0
                    _site_change(
                        st,
                        s,
                        t,
                        -nd[_u(k), N_OCC],
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
            i += 1
        if not ordered:
            break
        # The next thing in time: a lapse, a booking's start or end (first at a tie), an event.
        t = ts[_u(i)] if i < n else FOREVER_MS
        if i < n and t < last_t:
            ordered = False
            break
        x = min(t, next_k)
        if x >= FOREVER_MS:
            break
        if x >= next_lapse:
            next_lapse = _lapse(
                nd,
                x,
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
            )
        if next_k <= t:
            t = next_k
            code = k_order[ik]
            b = code >> 1
            d = b_desk[b]
            _booking_toggle(
                b,
                code & 1,
                d,
                t,
                desk_site[d],
                desk_node[d],
                nd,
                dk,
                kk,
                st,
                cell0,
                site_size,
                b_bounds,
                b_off,
                h_tog,
                h_off,
                d_bounds,
                d_off,
                na,
                na_off,
                ng,
                peak,
                peak_at,
                together,
                booked,
                booked_observed,
                booked_occupied,
                b_observed,
                b_occupied,
            )
            ik += 1
            next_k = FOREVER_MS
            if ik < n_k:
                code = k_order[ik]
                next_k = b_start[code >> 1] if (code & 1) == 0 else b_end[code >> 1]
    if not ordered:
        return False
    # Every cover runs out; then the calendars run to their ends.
    _lapse(
        nd,
        FOREVER_MS,
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
    )
    for k in range(n_nodes):
        s = node_site[k]
        _node_sync(nd, k, FOREVER_MS, s, b_off, b_bounds, h_off, h_tog, na, na_off)
    for s in range(n_sites):
        _site_advance(
            st,
            s,
            FOREVER_MS,
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
    for d in range(n_desks):
        k = desk_node[d]
        if k < 0:
            continue
        s = desk_site[d]
        n_buckets = b_off[s + 1] - b_off[s] - 1
        at = na_off[k]
        cell = cell0[d]
        stride = site_size[s]
        for j in range(n_buckets):
            observed[cell + j * stride] = na[at + j + 1] - na[at + j]
        if dk[_u(d), D_IN_O]:
            # Open to the end: the stretch closes in the padding cell after the period.
            _cross(occupied, cell, stride, na, at, dk[_u(d), D_O_J], n_buckets)
    return True


@loop
def _lapse(  # type: ignore[no-untyped-def]
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
            if nd[_u(k), N_COVERED] and nd[_u(k), N_END] < soonest:
                soonest = nd[_u(k), N_END]
                first = k
        if first < 0 or soonest > t:
            return soonest
        k = first
        s = node_site[k]
        _node_sync(nd, k, soonest, s, b_off, b_bounds, h_off, h_tog, na, na_off)
        nd[_u(k), N_COVERED] = 0
        _site_change(
            st,
            s,
            soonest,
            -nd[_u(k), N_OCC],
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


@loop_step
def _desk_toggle(  # type: ignore[no-untyped-def]
    d,
    now_in,
    t,
    s,
    k,
    nd,
    dk,
    st,
    cell0,
    site_size,
    b_bounds,
    b_off,
    h_tog,
    h_off,
    d_bounds,
    d_off,
    na,
    na_off,
    ng,
    peak,
    peak_at,
    together,
    occupied,
    booked_occupied,
):
    """Desk d enters (now_in = 1) or leaves O at t.

    Signed accumulation: a stretch of O adds -A at its start and +A at its end to the cell
    of each one's bucket; `_cross` moves the shares when it spans bucket bounds. Few
    branches: which way a desk toggles cannot be predicted.
    """
    dk[_u(d), D_IN_O] = now_in
    if k < 0:
        return  # never observed: nothing of O counts
    j = _node_sync(nd, k, t, s, b_off, b_bounds, h_off, h_tog, na, na_off)
    a = nd[_u(k), N_A]
    sign = 2 * now_in - 1
    stride = site_size[_u(s)]
    cell = cell0[_u(d)] + j * stride
    booked_now = 1 if dk[_u(d), D_BOOKED] > 0 else 0
    occupied[_u(cell)] -= sign * a
    booked_occupied[_u(cell)] -= sign * booked_now * a
    dk[_u(d), D_Q] -= sign * nd[_u(k), N_A2]
    o_j = dk[_u(d), D_O_J]
    ok_j = dk[_u(d), D_OK_J]
    # Where the stretches of O (and of O ∧ K, when booked) began.
    dk[_u(d), D_O_J] = j if now_in else o_j
    dk[_u(d), D_OK_J] = j if now_in else ok_j
    if not now_in and (o_j != j or (booked_now and ok_j != j)):
        _cross(occupied, cell0[d], stride, na, na_off[k], o_j, j)
        if booked_now:
            _cross(booked_occupied, cell0[d], stride, na, na_off[k], ok_j, j)
    nd[_u(k), N_OCC] += sign
    if nd[_u(k), N_COVERED]:
        _site_change(
            st,
            s,
            t,
            sign,
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


@loop_step
def _booking_toggle(  # type: ignore[no-untyped-def]
    b,
    is_end,
    d,
    t,
    s,
    k,
    nd,
    dk,
    kk,
    st,
    cell0,
    site_size,
    b_bounds,
    b_off,
    h_tog,
    h_off,
    d_bounds,
    d_off,
    na,
    na_off,
    ng,
    peak,
    peak_at,
    together,
    booked,
    booked_observed,
    booked_occupied,
    b_observed,
    b_occupied,
):
    """Booking b of desk d starts (is_end = 0) or ends at t."""
    lo_b = b_off[s]
    n_buckets = b_off[s + 1] - lo_b - 1
    if t >= st[_u(s), S_NEXT]:
        _site_advance(
            st,
            s,
            t,
            lo_b,
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
    g = st[_u(s), S_G] + (t - st[_u(s), S_T] if st[_u(s), S_OPEN] else 0)
    j = st[_u(s), S_IB] - lo_b - 1
    a = 0
    a2 = 0
    used = 0
    if k >= 0:
        _node_sync(nd, k, t, s, b_off, b_bounds, h_off, h_tog, na, na_off)
        a = nd[_u(k), N_A]
        a2 = nd[_u(k), N_A2]
        used = dk[_u(d), D_Q] + dk[_u(d), D_IN_O] * a2
    if is_end == 0:
        # Until the booking ends, its cells hold A' and |O ∩ C| at its start.
        b_observed[b] = a2
        b_occupied[b] = used
        dk[_u(d), D_BOOKED] += 1
        if dk[_u(d), D_BOOKED] == 1:
            kk[_u(d), K_G] = g
            kk[_u(d), K_A] = a
            kk[_u(d), K_J] = j
            if dk[_u(d), D_IN_O] and k >= 0:
                booked_occupied[cell0[d] + j * site_size[s]] -= a
                dk[_u(d), D_OK_J] = j
        return
    b_observed[b] = a2 - b_observed[b]
    b_occupied[b] = used - b_occupied[b]
    dk[_u(d), D_BOOKED] -= 1
    if dk[_u(d), D_BOOKED] > 0:
        return
    cell = cell0[d]
    stride = site_size[s]
    _bucket_share(booked, cell, stride, n_buckets, ng, lo_b, kk[_u(d), K_J], kk[_u(d), K_G], j, g)
    if k >= 0:
        at = na_off[k]
        _bucket_share(
            booked_observed, cell, stride, n_buckets, na, at, kk[_u(d), K_J], kk[_u(d), K_A], j, a
        )
        if dk[_u(d), D_IN_O]:
            booked_occupied[cell + j * stride] += a
            _cross(booked_occupied, cell, stride, na, at, dk[_u(d), D_OK_J], j)
