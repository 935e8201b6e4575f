"""Per desk and bucket: the docs/metrics.md measures, in one sweep over merged boundary streams.

For each desk five sorted streams are merged: the site's bucket boundaries (B), its
opening hours (H), its node's observed set (C), the desk's occupied set (O) and its
booked set (K). Between two consecutive boundaries every set is either in or out,
so the elementary span's length is added to the measures its in/out pattern
belongs to. The same sweep emits the desk's O ∩ C ∩ H pieces; once a site's desks are
done, its peaks are computed from them (`peaks.site_days`) and the buffer is reused for
the next site: it stays in cache, and the pieces of every desk (as many as O's toggles)
are never all in memory. Linear in the number of boundaries; no allocation per event.

Pure: arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import numpy as np
from hubsense.analytics.kernels.intervals import first_toggle_after
from hubsense.analytics.kernels.jit import FOREVER_MS, kernel, step
from hubsense.analytics.kernels.peaks import site_days


@step
def _next(toggles, i, hi):  # type: ignore[no-untyped-def]
    return toggles[i] if i < hi else FOREVER_MS


@kernel
def _reserve(buffer, n, more):  # type: ignore[no-untyped-def]
    """A buffer with room for `more` toggles after n: grown (rarely) by doubling."""
    if n + more <= buffer.shape[0]:
        return buffer
    bigger = np.empty(max(2 * buffer.shape[0], n + more), dtype=np.int64)
    bigger[:n] = buffer[:n]
    return bigger


@kernel
def desk_measures(  # type: ignore[no-untyped-def]
    desk_site,
    desk_node,
    row_off,
    b_bounds,
    b_off,
    h_tog,
    h_off,
    c_tog,
    c_off,
    o_tog,
    o_start,
    o_end,
    k_tog,
    k_off,
    site_desk_off,
    d_bounds,
    d_off,
):
    """Milliseconds per desk-bucket row, and per site-day row the peak, its first instant
    (-1 when 0) and the co-presence followed by the alone time (2 x site-day rows).

    Returns (observed, occupied, booked, booked_observed, booked_occupied, peak, peak_at,
    copresence); desk d's rows are row_off[d] .. row_off[d] + buckets of its site, its O
    toggles o_tog[o_start[d]:o_end[d]] (slots need not be contiguous); site s owns desks
    site_desk_off[s]..site_desk_off[s+1] and days d_bounds[d_off[s]:d_off[s+1]].
    """
    n_desks = desk_site.shape[0]
    n_rows = row_off[n_desks]
    observed = np.zeros(n_rows, dtype=np.int64)
    occupied = np.zeros(n_rows, dtype=np.int64)
    booked = np.zeros(n_rows, dtype=np.int64)
    booked_observed = np.zeros(n_rows, dtype=np.int64)
    booked_occupied = np.zeros(n_rows, dtype=np.int64)
    n_sites = site_desk_off.shape[0] - 1
    n_days = d_off[n_sites] - n_sites
    peak = np.zeros(n_days, dtype=np.int64)
    peak_at = np.full(n_days, -1, dtype=np.int64)
    copresence = np.zeros(2 * n_days, dtype=np.int64)  # co-presence rows, then alone rows
    most = 0
    for s in range(n_sites):
        most = max(most, site_desk_off[s + 1] - site_desk_off[s])
    p_off = np.zeros(most + 1, dtype=np.int64)  # the current site's desks, from 0
    pieces = np.empty(1024, dtype=np.int64)  # grown by _reserve, reused by every site
    for s in range(n_sites):
        first = site_desk_off[s]
        n_p = 0
        for d in range(first, site_desk_off[s + 1]):
            ib = b_off[s]
            b_hi = b_off[s + 1]
            t = b_bounds[ib]
            ib += 1
            row = row_off[d]
            h_lo = h_off[s]
            h_hi = h_off[s + 1]
            k = desk_node[d]
            c_lo = c_off[k] if k >= 0 else 0
            c_hi = c_off[k + 1] if k >= 0 else 0
            o_lo = o_start[d]
            o_hi = o_end[d]
            k_lo = k_off[d]
            k_hi = k_off[d + 1]
            # An O ∩ C ∩ H piece starts at a start of O, C or H: at most that many pieces.
            pieces = _reserve(pieces, n_p, (o_hi - o_lo) + (c_hi - c_lo) + (h_hi - h_lo) + 2)
            p_lo = n_p
            ih = first_toggle_after(h_tog, h_lo, h_hi, t)
            ic = first_toggle_after(c_tog, c_lo, c_hi, t)
            io = first_toggle_after(o_tog, o_lo, o_hi, t)
            ik = first_toggle_after(k_tog, k_lo, k_hi, t)
            in_h = (ih - h_lo) & 1
            in_c = (ic - c_lo) & 1
            in_o = (io - o_lo) & 1
            in_k = (ik - k_lo) & 1
            nb = b_bounds[ib]
            nh = _next(h_tog, ih, h_hi)
            nc = _next(c_tog, ic, c_hi)
            no = _next(o_tog, io, o_hi)
            nk = _next(k_tog, ik, k_hi)
            # Sums of the current bucket, kept in registers and stored when the bucket ends.
            a_obs = 0
            a_occ = 0
            a_bk = 0
            a_bko = 0
            a_bkocc = 0
            while True:
                nxt = min(min(nb, nh), min(min(nc, no), nk))
                span = nxt - t
                if in_h and span > 0:
                    if in_k:
                        a_bk += span
                    if in_c:
                        a_obs += span
                        if in_o:
                            a_occ += span
                            if n_p > p_lo and pieces[n_p - 1] == t:
                                pieces[n_p - 1] = nxt
                            else:
                                pieces[n_p] = t
                                pieces[n_p + 1] = nxt
                                n_p += 2
                        if in_k:
                            a_bko += span
                            if in_o:
                                a_bkocc += span
                t = nxt
                if nh == nxt:
                    ih += 1
                    in_h ^= 1
                    nh = _next(h_tog, ih, h_hi)
                if nc == nxt:
                    ic += 1
                    in_c ^= 1
                    nc = _next(c_tog, ic, c_hi)
                if no == nxt:
                    io += 1
                    in_o ^= 1
                    no = _next(o_tog, io, o_hi)
                if nk == nxt:
                    ik += 1
                    in_k ^= 1
                    nk = _next(k_tog, ik, k_hi)
                if nb == nxt:
                    observed[row] = a_obs
                    occupied[row] = a_occ
                    booked[row] = a_bk
                    booked_observed[row] = a_bko
                    booked_occupied[row] = a_bkocc
                    a_obs = 0
                    a_occ = 0
                    a_bk = 0
                    a_bko = 0
                    a_bkocc = 0
                    row += 1
                    ib += 1
                    if ib == b_hi:
                        break
                    nb = b_bounds[ib]
            p_off[d - first + 1] = n_p
        site_days(
            s,
            pieces,
            p_off[: site_desk_off[s + 1] - first + 1],
            d_bounds,
            d_off,
            peak,
            peak_at,
            copresence,
        )
    return observed, occupied, booked, booked_observed, booked_occupied, peak, peak_at, copresence
