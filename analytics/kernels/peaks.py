"""Per site and local day: peak desks in O ∩ C ∩ H, the instant it was first reached, co-presence.

Input is every desk's O ∩ C ∩ H pieces (from `desk_measures`). The pieces of a site's
desks are turned into keys 2t (a desk leaves at t) and 2t + 1 (a desk arrives at t)
and sorted, so at one instant leaves come before arrivals: half-open intervals, a
desk leaving at the instant another arrives is not two at once (docs/metrics.md). The sweep
then walks keys and local midnights together.

Pure: arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import numpy as np
from hubsense.analytics.kernels.jit import kernel

COPRESENT_DESKS = 2
# Day keys are bucketed by 2**shift key units before the final insertion pass, the shift
# chosen per day so that there are one to two buckets per key (never narrower than
# 2**_MIN_SHIFT units, ~0.5 s): a counting sort that stays linear, and the insertion pass
# rarely finds two keys in one bucket (each such pair is a likely branch miss).
_MIN_SHIFT = 10


@kernel
def _sort_keys(keys, m, base, span, out, counts):  # type: ignore[no-untyped-def]
    """Sort keys[:m] (base <= key < base + span) into out[:m]: counting sort by coarse
    bucket (m to 2m buckets), then insertion."""
    shift = _MIN_SHIFT
    while (span >> shift) > 2 * m:
        shift += 1
    n_buckets = min((span >> shift) + 1, counts.shape[0] - 1)
    counts[: n_buckets + 1] = 0
    for i in range(m):
        b = min((keys[i] - base) >> shift, n_buckets - 1)
        counts[b + 1] += 1
    for b in range(n_buckets):
        counts[b + 1] += counts[b]
    for i in range(m):
        b = min((keys[i] - base) >> shift, n_buckets - 1)
        out[counts[b]] = keys[i]
        counts[b] += 1
    # Out of order only inside a bucket: insertion sort is linear plus those few inversions.
    for i in range(1, m):
        x = out[i]
        j = i - 1
        while j >= 0 and out[j] > x:
            out[j + 1] = out[j]
            j -= 1
        out[j + 1] = x


@kernel
def site_days(s, pieces, p_off, d_bounds, d_off, peak, peak_at, copresence):  # type: ignore[no-untyped-def]
    """Fill site s's day rows of (peak, peak_at or -1, copresence) from its desks' pieces;
    copresence has two halves: co-presence rows, then as many rows of alone time.

    Desk d of the site (from 0) owns pieces[p_off[d]:p_off[d + 1]], starting at an even
    offset; the site's day boundaries are d_bounds[d_off[s]:d_off[s+1]], its day rows start
    at d_off[s] - s. Keys are sorted one local day at a time (small sorts that stay in
    cache); the desk count carries over midnight.
    """
    n_desks = p_off.shape[0] - 1
    cursor = p_off[:n_desks].copy()
    keys = np.empty(p_off[n_desks] - p_off[0] + 1, dtype=np.int64)
    day = np.empty_like(keys)
    longest_ms = 0
    for ib in range(d_off[s], d_off[s + 1] - 1):
        longest_ms = max(longest_ms, d_bounds[ib + 1] - d_bounds[ib])
    counts = np.zeros(((2 * longest_ms + 2) >> _MIN_SHIFT) + 2, dtype=np.int64)
    count = 0
    for ib in range(d_off[s], d_off[s + 1] - 1):
        row = ib - s
        day_start = d_bounds[ib]
        day_end = d_bounds[ib + 1]
        m = 0
        # The day's keys span only [lowest, highest]: buckets over that range, not the
        # whole day, keep about one key per bucket (desks are busy a few hours a day).
        lowest = 2 * day_end + 2
        highest = 2 * day_start
        for d in range(n_desks):
            j = cursor[d]
            end = p_off[d + 1]
            if j < end and pieces[j] < day_end:
                lowest = min(lowest, 2 * pieces[j] + 1 - (j & 1))
            while j < end and pieces[j] < day_end:
                # Every desk's pieces start at an even offset: even j arrives, odd j leaves.
                keys[m] = 2 * pieces[j] + 1 - (j & 1)
                m += 1
                j += 1
            if m > 0:
                highest = max(highest, keys[m - 1])
            cursor[d] = j
        if m > 1:
            _sort_keys(keys, m, lowest, highest - lowest + 1, day, counts)
        elif m == 1:
            day[0] = keys[0]
        t_prev = day_start
        best = 0
        best_at = -1
        # Desks carried over midnight count from day_start, unless keys at day_start
        # change them.
        if count > 0 and (m == 0 or day[0] >> 1 > day_start):
            best = count
            best_at = day_start
        together = 0
        alone = 0
        i = 0
        while i < m:
            t = day[i] >> 1
            if count >= COPRESENT_DESKS:
                together += t - t_prev
            elif count == 1:
                alone += t - t_prev
            while i < m and day[i] >> 1 == t:
                count += 2 * (day[i] & 1) - 1
                i += 1
            if count > best:
                best = count
                best_at = t
            t_prev = t
        if count >= COPRESENT_DESKS:
            together += day_end - t_prev
        elif count == 1:
            alone += day_end - t_prev
        peak[row] = best
        peak_at[row] = best_at
        copresence[row] = together
        copresence[(copresence.shape[0] >> 1) + row] = alone


@kernel
def site_peaks(site_desk_off, pieces, p_off, d_bounds, d_off):  # type: ignore[no-untyped-def]
    """Return (peak, peak_at_ms or -1, copresence_ms then alone_ms) per site-day row, from
    every desk's pieces (desk d's are pieces[p_off[d]:p_off[d + 1]]); site s owns desks
    site_desk_off[s]..site_desk_off[s+1]."""
    n_sites = site_desk_off.shape[0] - 1
    n_rows = d_off[n_sites] - n_sites
    peak = np.zeros(n_rows, dtype=np.int64)
    peak_at = np.full(n_rows, -1, dtype=np.int64)
    copresence = np.zeros(2 * n_rows, dtype=np.int64)
    for s in range(n_sites):
        first = p_off[site_desk_off[s]]
        offsets = p_off[site_desk_off[s] : site_desk_off[s + 1] + 1] - first
        site_days(s, pieces[first:], offsets, d_bounds, d_off, peak, peak_at, copresence)
    return peak, peak_at, copresence
