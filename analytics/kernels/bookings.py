"""Per booking: observed and occupied milliseconds (grouping path) and the docs/metrics.md outcome.

observed = |booking ∩ C|, occupied = |booking ∩ C ∩ O| (opening hours do not apply).
Outcome: unknown when observed < half the duration; else no_show when occupied <
min(noshow_min, half the duration); else attended. Halves are compared doubled, so
every comparison is exact in integer milliseconds and equality is never "less".

Pure: arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import numpy as np
from hubsense.analytics.kernels.intervals import gallop_toggle_after
from hubsense.analytics.kernels.jit import FOREVER_MS, kernel

OUTCOME_UNKNOWN = 0
OUTCOME_NO_SHOW = 1
OUTCOME_ATTENDED = 2
OUTCOME_NAMES = ("unknown", "no_show", "attended")


@kernel
def booking_measures(  # type: ignore[no-untyped-def]
    order,
    b_desk,
    b_start,
    b_end,
    desk_node,
    c_tog,
    c_off,
    o_tog,
    o_start,
    o_end,
):
    """Return (observed_ms, occupied_ms) per booking, in input order.

    `order` lists the bookings by (desk, start) (`booking_order`).
    """
    m = b_desk.shape[0]
    observed = np.zeros(m, dtype=np.int64)
    occupied = np.zeros(m, dtype=np.int64)
    # Visit bookings in `order`, by (desk, start): each desk's sets are then read forward,
    # from memory already in cache, and the search for a start resumes from the last one.
    last_desk = -1
    c_from = 0
    o_from = 0
    for b in order:
        d = b_desk[b]
        k = desk_node[d]
        t = b_start[b]
        end = b_end[b]
        # Sums in registers: stores to observed[b] inside the loop would be kept in memory
        # (numba cannot tell that they do not alias the toggles being read).
        seen = 0
        used = 0
        if k >= 0:
            c_lo = c_off[k]
            c_hi = c_off[k + 1]
            o_lo = o_start[d]
            o_hi = o_end[d]
            if d != last_desk:
                c_from = c_lo
                o_from = o_lo
                last_desk = d
            c_from = gallop_toggle_after(c_tog, c_from, c_hi, t)
            o_from = gallop_toggle_after(o_tog, o_from, o_hi, t)
            ic = c_from
            io = o_from
            while t < end:
                nc = c_tog[ic] if ic < c_hi else FOREVER_MS
                no = o_tog[io] if io < o_hi else FOREVER_MS
                nxt = min(nc, no, end)
                if (ic - c_lo) & 1:
                    seen += nxt - t
                    if (io - o_lo) & 1:
                        used += nxt - t
                if nc == nxt:
                    ic += 1
                if no == nxt:
                    io += 1
                t = nxt
        observed[b] = seen
        occupied[b] = used
    return observed, occupied


@kernel
def booking_outcomes(b_start, b_end, observed, occupied, noshow_min_ms):  # type: ignore[no-untyped-def]
    """The docs/metrics.md outcome of every booking from its observed and occupied milliseconds."""
    m = b_start.shape[0]
    outcome = np.zeros(m, dtype=np.int8)
    for b in range(m):
        duration = b_end[b] - b_start[b]
        if 2 * observed[b] < duration:
            outcome[b] = OUTCOME_UNKNOWN
        elif occupied[b] < noshow_min_ms and 2 * occupied[b] < duration:
            outcome[b] = OUTCOME_NO_SHOW
        else:
            outcome[b] = OUTCOME_ATTENDED
    return outcome
