"""The steps of `sweep._walk` and the state tables they share: a desk entering or leaving O,
a booking starting or ending, and the time order of the bookings' starts and ends.

`desk_toggle` and `booking_toggle` are `loop_step`s: numba inlines them into `_walk`, so
they cost no call and no reference counts (see jit.loop), wherever they are written. The
desk (D_*) and desk-K (K_*) column layouts are here because these steps are what reads and
writes them; `_walk` only checks D_IN_O, D_T and D_SEQ per event. Pure; no I/O.
"""

from __future__ import annotations

import numpy as np
from hubsense.analytics.kernels.clocks import (
    N_A,
    N_A2,
    N_COVERED,
    N_OCC,
    S_G,
    S_IB,
    S_OPEN,
    S_T,
    bucket_share,
    cross,
    node_sync,
    site_change,
    site_sync,
    unsigned,
)
from hubsense.analytics.kernels.jit import kernel, loop_step

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


@kernel
def _ascending(values):  # type: ignore[no-untyped-def]
    # A loop, not all() over a generator: numba compiles no generator expressions.
    for i in range(1, values.shape[0]):  # noqa: SIM110
        if values[i] < values[i - 1]:
            return False
    return True


@kernel
def booking_toggles(b_start, b_end):  # type: ignore[no-untyped-def]
    """Every booking's start and end in time order (starts before ends at one instant, else
    by booking), as codes 2b (start of booking b) and 2b + 1 (its end).

    Bookings listed by start with ends in the same order (as a day's plan often is) are
    merged in one pass; any others go through an LSD radix sort, linear but four passes."""
    m = b_start.shape[0]
    if _ascending(b_start) and _ascending(b_end):
        merged = np.empty(2 * m, dtype=np.int64)
        i = 0
        j = 0
        for o in range(2 * m):
            if j >= m or (i < m and b_start[i] <= b_end[j]):
                merged[o] = 2 * i
                i += 1
            else:
                merged[o] = 2 * j + 1
                j += 1
        return merged
    m2 = 2 * m
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
def desk_toggle(  # type: ignore[no-untyped-def]
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
    of each one's bucket; `cross` moves the shares when it spans bucket bounds. Few
    branches: which way a desk toggles cannot be predicted.
    """
    dk[unsigned(d), D_IN_O] = now_in
    if k < 0:
        return  # never observed: nothing of O counts
    j = node_sync(nd, k, t, s, b_off, b_bounds, h_off, h_tog, na, na_off)
    a = nd[unsigned(k), N_A]
    sign = 2 * now_in - 1
    stride = site_size[unsigned(s)]
    cell = cell0[unsigned(d)] + j * stride
    booked_now = 1 if dk[unsigned(d), D_BOOKED] > 0 else 0
    occupied[unsigned(cell)] -= sign * a
    booked_occupied[unsigned(cell)] -= sign * booked_now * a
    dk[unsigned(d), D_Q] -= sign * nd[unsigned(k), N_A2]
    o_j = dk[unsigned(d), D_O_J]
    ok_j = dk[unsigned(d), D_OK_J]
    # Where the stretches of O (and of O ∧ K, when booked) began.
    dk[unsigned(d), D_O_J] = j if now_in else o_j
    dk[unsigned(d), D_OK_J] = j if now_in else ok_j
    if not now_in and (o_j != j or (booked_now and ok_j != j)):
        cross(occupied, cell0[d], stride, na, na_off[k], o_j, j)
        if booked_now:
            cross(booked_occupied, cell0[d], stride, na, na_off[k], ok_j, j)
    nd[unsigned(k), N_OCC] += sign
    if nd[unsigned(k), N_COVERED]:
        site_change(
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
def booking_toggle(  # type: ignore[no-untyped-def]
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
    site_sync(st, s, t, b_off, b_bounds, h_off, h_tog, d_off, d_bounds, ng, peak, peak_at, together)
    g = st[unsigned(s), S_G] + (t - st[unsigned(s), S_T] if st[unsigned(s), S_OPEN] else 0)
    j = st[unsigned(s), S_IB] - lo_b - 1
    a = 0
    a2 = 0
    used = 0
    if k >= 0:
        node_sync(nd, k, t, s, b_off, b_bounds, h_off, h_tog, na, na_off)
        a = nd[unsigned(k), N_A]
        a2 = nd[unsigned(k), N_A2]
        used = dk[unsigned(d), D_Q] + dk[unsigned(d), D_IN_O] * a2
    if is_end == 0:
        # Until the booking ends, its cells hold A' and |O ∩ C| at its start.
        b_observed[b] = a2
        b_occupied[b] = used
        dk[unsigned(d), D_BOOKED] += 1
        if dk[unsigned(d), D_BOOKED] == 1:
            kk[unsigned(d), K_G] = g
            kk[unsigned(d), K_A] = a
            kk[unsigned(d), K_J] = j
            if dk[unsigned(d), D_IN_O] and k >= 0:
                booked_occupied[cell0[d] + j * site_size[s]] -= a
                dk[unsigned(d), D_OK_J] = j
        return
    b_observed[b] = a2 - b_observed[b]
    b_occupied[b] = used - b_occupied[b]
    dk[unsigned(d), D_BOOKED] -= 1
    if dk[unsigned(d), D_BOOKED] > 0:
        return
    cell = cell0[d]
    stride = site_size[s]
    bucket_share(
        booked, cell, stride, n_buckets, ng, lo_b, kk[unsigned(d), K_J], kk[unsigned(d), K_G], j, g
    )
    if k >= 0:
        at = na_off[k]
        bucket_share(
            booked_observed,
            cell,
            stride,
            n_buckets,
            na,
            at,
            kk[unsigned(d), K_J],
            kk[unsigned(d), K_A],
            j,
            a,
        )
        if dk[unsigned(d), D_IN_O]:
            booked_occupied[cell + j * stride] += a
            cross(booked_occupied, cell, stride, na, at, dk[unsigned(d), D_OK_J], j)
