"""Every docs/metrics.md measure in one pass over events in time order, as ingest stores them.

The fast path of `compute`: events in time order, seq rising per node (so no (node, seq)
can repeat) and (ts, seq) order per desk, as the database returns them (ORDER BY ts, seq),
merged with the bookings' starts and ends in time order. At the first event out of that
order it gives up and `compute` takes the grouping path. Nothing
per event is stored: no occupied set O, no pieces. Instead, measures are differences of
running clocks that only change where the calendar or a node's coverage changes:

- per node k, A_k(t) = |(-∞, t) ∩ C_k ∩ H| and A'_k(t) = |(-∞, t) ∩ C_k|;
- per site s, G_s(t) = |(-∞, t) ∩ H|;
- each clock's value at every bucket bound of its site is kept (NA, NG), so a stretch
  [x, y) that crosses bounds is split exactly into its buckets (the clocks live in
  `clocks.py`).

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
the hot ones are read `unsigned`, which spares numba's negative-index wraparound.
Pure: arrays in, arrays out; no I/O.

The steps `_walk` takes per desk toggle and per booking start or end, the bookings' time
order and the desk table layouts are in `sweep_steps.py`. Over 400 lines on purpose: what
stays here is the walk itself, one numba loop with its inlined steps, whose arrays travel
positionally (`jit.py` says why: a call passing many arrays costs more than the step's arithmetic).
Grouping them into argument records would shorten it, and waits on a bench showing no loss.
"""

# Over 400 lines on purpose: the walk is one numba loop, its arrays positional (docstring).
from __future__ import annotations

import numpy as np
from hubsense.analytics.kernels.clocks import (
    N_COVERED,
    N_END,
    N_OCC,
    N_SEQ,
    clock_tables,
    cross,
    lapse,
    node_sync,
    site_change,
    site_sync,
    unsigned,
)
from hubsense.analytics.kernels.intervals import HEARTBEATS_COVERED, STATE_OCCUPIED
from hubsense.analytics.kernels.jit import FOREVER_MS, kernel, loop
from hubsense.analytics.kernels.order import KIND_ALIVE, KIND_DESK
from hubsense.analytics.kernels.sweep_steps import (
    D_COLS,
    D_IN_O,
    D_O_J,
    D_SEQ,
    D_T,
    K_COLS,
    booking_toggle,
    booking_toggles,
    desk_toggle,
)


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
    (copresence holds the co-presence rows, then the alone rows)
    and bookings in input order. ok is False (and the rest meaningless) when the events
    are not in that order: the caller then takes the grouping path.
    """
    n_desks = desk_site.shape[0]
    n_nodes = node_site.shape[0]
    n_sites = b_off.shape[0] - 1
    n_days = d_off[n_sites] - n_sites
    peak = np.zeros(n_days, dtype=np.int64)
    peak_at = np.full(n_days, -1, dtype=np.int64)
    together = np.zeros(2 * n_days, dtype=np.int64)  # co-presence rows, then alone rows
    m = b_desk.shape[0]
    b_observed = np.zeros(m, dtype=np.int64)
    b_occupied = np.zeros(m, dtype=np.int64)
    nd, na_off, st = clock_tables(node_site, b_off, b_bounds, h_off, h_tog, d_off, d_bounds)
    dk = np.zeros((n_desks, D_COLS), dtype=np.int64)
    kk = np.zeros((n_desks, K_COLS), dtype=np.int64)
    na = np.zeros(na_off[n_nodes], dtype=np.int64)
    ng = np.zeros(b_bounds.shape[0], dtype=np.int64)
    cover_ms = HEARTBEATS_COVERED * heartbeat_ms
    k_order = booking_toggles(b_start, b_end)
    # While sweeping, a site's cells are time-major (bucket, desk): the desks written at one
    # time share a few cache lines and pages, not one page each. Each site's block has a
    # padding bucket before and after the period (see `clocks.cross`). Gathered at the end.
    site_size = site_desk_off[1:] - site_desk_off[:-1]
    cell0 = np.empty(n_desks, dtype=np.int64)
    n_cells = 0
    for site in range(n_sites):
        size = site_size[site]
        for d in range(site_desk_off[site], site_desk_off[site + 1]):
            cell0[d] = n_cells + size + d - site_desk_off[site]  # bucket 0
        n_cells += (b_off[site + 1] - b_off[site] + 1) * size
    # Observed is known only at the end (a node's A' at bucket bounds): written desk-major.
    observed = np.zeros(row_off[n_desks], dtype=np.int64)
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
        row_off,
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
        observed,
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
    row_off,
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
            t = ts[unsigned(i)]
            if t >= limit:
                break
            if t < last_t:
                ordered = False
                break
            k = node[unsigned(i)]
            sq = seq[unsigned(i)]
            if sq <= nd[unsigned(k), N_SEQ]:
                # A node's seq went back: (node, seq) may repeat, first_reads must decide.
                ordered = False
                break
            nd[unsigned(k), N_SEQ] = sq
            last_t = t
            what = kind[unsigned(i)]
            if what == KIND_ALIVE and nd[unsigned(k), N_COVERED]:
                # Still covered: only where the cover ends moves (never below next_lapse). The
                # clocks run on unchanged; whoever reads them next brings them to its time.
                nd[unsigned(k), N_END] = t + cover_ms[k]
            elif what == KIND_DESK:
                d = desk[unsigned(i)]
                if t == dk[unsigned(d), D_T] and sq < dk[unsigned(d), D_SEQ]:
                    # Same instant, two nodes naming one desk, seq not in order.
                    ordered = False
                    break
                dk[unsigned(d), D_T] = t
                dk[unsigned(d), D_SEQ] = sq
                now_in = 1 if state[unsigned(i)] == STATE_OCCUPIED else 0
                if now_in != dk[unsigned(d), D_IN_O]:
                    desk_toggle(
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
                node_sync(nd, k, t, s, b_off, b_bounds, h_off, h_tog, na, na_off)
                if what == KIND_ALIVE:
                    if not nd[unsigned(k), N_COVERED]:
                        nd[unsigned(k), N_COVERED] = 1
                        site_change(
                            st,
                            s,
                            t,
                            nd[unsigned(k), N_OCC],
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
                    nd[unsigned(k), N_END] = t + cover_ms[k]
                    next_lapse = min(next_lapse, nd[unsigned(k), N_END])
                    limit = min(limit, next_lapse)
                elif nd[unsigned(k), N_COVERED]:
                    nd[unsigned(k), N_COVERED] = 0
                    site_change(
                        st,
                        s,
                        t,
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
            i += 1
        if not ordered:
            break
        # The next thing in time: a lapse, a booking's start or end (first at a tie), an event.
        t = ts[unsigned(i)] if i < n else FOREVER_MS
        if i < n and t < last_t:
            ordered = False
            break
        x = min(t, next_k)
        if x >= FOREVER_MS:
            break
        if x >= next_lapse:
            next_lapse = lapse(
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
            booking_toggle(
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
    lapse(
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
        node_sync(nd, k, FOREVER_MS, s, b_off, b_bounds, h_off, h_tog, na, na_off)
    for s in range(n_sites):
        site_sync(
            st,
            s,
            FOREVER_MS,
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
    for d in range(n_desks):
        k = desk_node[d]
        if k < 0:
            continue
        s = desk_site[d]
        n_buckets = b_off[s + 1] - b_off[s] - 1
        at = na_off[k]
        cell = cell0[d]
        stride = site_size[s]
        row = row_off[d]
        for j in range(n_buckets):
            observed[row + j] = na[at + j + 1] - na[at + j]
        if dk[unsigned(d), D_IN_O]:
            # Open to the end: the stretch closes in the padding cell after the period.
            cross(occupied, cell, stride, na, at, dk[unsigned(d), D_O_J], n_buckets)
    return True
