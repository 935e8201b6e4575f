"""Per booking: observed and occupied milliseconds and the SPEC §6 outcome.

observed = |booking ∩ C|, occupied = |booking ∩ C ∩ O| (opening hours do not apply).
Outcome: unknown when observed < half the duration; else no_show when occupied <
min(noshow_min, half the duration); else attended. Halves are compared doubled, so
every comparison is exact in integer milliseconds and equality is never "less".

Pure: arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import numpy as np

from hubsense.analytics.kernels.intervals import first_toggle_after
from hubsense.analytics.kernels.jit import FOREVER_MS, kernel

OUTCOME_UNKNOWN = 0
OUTCOME_NO_SHOW = 1
OUTCOME_ATTENDED = 2
OUTCOME_NAMES = ("unknown", "no_show", "attended")


@kernel
def booking_measures(  # type: ignore[no-untyped-def]
    b_desk, b_start, b_end, desk_node, c_tog, c_off, o_tog, o_off, noshow_min_ms,
):
    """Return (observed_ms, occupied_ms, outcome) per booking, in input order."""
    m = b_desk.shape[0]
    observed = np.zeros(m, dtype=np.int64)
    occupied = np.zeros(m, dtype=np.int64)
    outcome = np.zeros(m, dtype=np.int8)
    for b in range(m):
        d = b_desk[b]
        k = desk_node[d]
        t = b_start[b]
        end = b_end[b]
        if k >= 0:
            c_lo = c_off[k]
            c_hi = c_off[k + 1]
            o_lo = o_off[d]
            o_hi = o_off[d + 1]
            ic = first_toggle_after(c_tog, c_lo, c_hi, t)
            io = first_toggle_after(o_tog, o_lo, o_hi, t)
            while t < end:
                nc = c_tog[ic] if ic < c_hi else FOREVER_MS
                no = o_tog[io] if io < o_hi else FOREVER_MS
                nxt = min(nc, no, end)
                if (ic - c_lo) & 1:
                    observed[b] += nxt - t
                    if (io - o_lo) & 1:
                        occupied[b] += nxt - t
                if nc == nxt:
                    ic += 1
                if no == nxt:
                    io += 1
                t = nxt
        duration = end - b_start[b]
        if 2 * observed[b] < duration:
            outcome[b] = OUTCOME_UNKNOWN
        elif occupied[b] < noshow_min_ms and 2 * occupied[b] < duration:
            outcome[b] = OUTCOME_NO_SHOW
        else:
            outcome[b] = OUTCOME_ATTENDED
    return observed, occupied, outcome
