"""Per site and local day: peak desks in O ∩ C ∩ H, the instant it was first reached, co-presence.

Input is every desk's O ∩ C ∩ H pieces (from `desk_measures`). The pieces of a site's
desks are turned into keys 2t (a desk leaves at t) and 2t + 1 (a desk arrives at t)
and sorted, so at one instant leaves come before arrivals: half-open intervals, a
desk leaving at the instant another arrives is not two at once (SPEC §6). The sweep
then walks keys and local midnights together.

Pure: arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import numpy as np

from hubsense.analytics.kernels.jit import FOREVER_MS, kernel

COPRESENT_DESKS = 2


@kernel
def site_peaks(site_desk_off, pieces, p_off, d_bounds, d_off):  # type: ignore[no-untyped-def]
    """Return (peak, peak_at_ms or -1, copresence_ms) per site-day row.

    Site s owns desks site_desk_off[s]..site_desk_off[s+1] and day boundaries
    d_bounds[d_off[s]:d_off[s+1]]; its day rows start at d_off[s] - s.
    """
    n_sites = site_desk_off.shape[0] - 1
    n_rows = d_off[n_sites] - n_sites
    peak = np.zeros(n_rows, dtype=np.int64)
    peak_at = np.full(n_rows, -1, dtype=np.int64)
    copresence = np.zeros(n_rows, dtype=np.int64)
    for s in range(n_sites):
        lo = p_off[site_desk_off[s]]
        hi = p_off[site_desk_off[s + 1]]
        keys = np.empty(hi - lo, dtype=np.int64)
        for j in range(lo, hi):
            # Every desk's pieces start at an even offset: even j is an arrival, odd a leave.
            keys[j - lo] = 2 * pieces[j] + 1 - (j & 1)
        keys.sort()
        row = d_off[s] - s
        last_bound = d_off[s + 1] - 1
        ib = d_off[s] + 1
        t_prev = d_bounds[d_off[s]]
        count = 0
        j = 0
        m = keys.shape[0]
        while ib <= last_bound:
            tk = keys[j] >> 1 if j < m else FOREVER_MS
            td = d_bounds[ib]
            t = min(tk, td)
            if count >= COPRESENT_DESKS:
                copresence[row] += t - t_prev
            if td == t:
                ib += 1
                if ib > last_bound:
                    break
                row += 1
            while j < m and keys[j] >> 1 == t:
                count += keys[j] & 1
                count -= 1 - (keys[j] & 1)
                j += 1
            if count > peak[row]:
                peak[row] = count
                peak_at[row] = t
            t_prev = t
    return peak, peak_at, copresence
