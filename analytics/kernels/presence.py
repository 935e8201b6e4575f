"""Per site and local day: how many desks were used (docs/metrics.md `desks_used`).

A desk counts as used on a local day when its `occupied_s` that day is at least
`used_min_s`: compared in milliseconds (floor(x / 1000) ≥ n exactly when x ≥ 1000 n).
Input is each desk's occupied milliseconds per local day, from the bucket rows of
`desk_measures`/`sweep` (hour buckets nest in days; day buckets are days). Alone time
comes out of the peak sweeps beside co-presence (`peaks.py`, `clocks.py`).

Pure: arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


def day_occupied(
    occupied_ms: I64,
    row_off: I64,
    desk_site: npt.NDArray[np.int32],
    bucket_starts: list[I64],
    midnights: list[I64],
) -> I64:
    """Per desk (rows) and local day (columns), its occupied milliseconds: the sum of its
    bucket rows inside each day. Buckets must nest in days (hour or day buckets); site s's
    bucket starts are bucket_starts[s] and its local midnights midnights[s] (n_days + 1)."""
    n_desks = desk_site.shape[0]
    n_days = len(midnights[0]) - 1 if midnights else 0
    out = np.zeros((n_desks, n_days), dtype=np.int64)
    for s, starts in enumerate(bucket_starts):
        desks = np.flatnonzero(desk_site == s)
        if len(desks) == 0 or n_days == 0:
            continue
        first = np.searchsorted(starts, midnights[s][:-1])
        if not np.array_equal(starts[first], midnights[s][:-1]):
            raise ValueError("buckets do not nest in local days")
        lo, hi = int(row_off[desks[0]]), int(row_off[desks[-1] + 1])
        rows = occupied_ms[lo:hi].reshape(len(desks), len(starts))
        out[desks] = np.add.reduceat(rows, first, axis=1)
    return out


def desks_used(desk_day_ms: I64, site_desk_off: I64, used_min_ms: int) -> I64:
    """Per site-day row (site s's days follow site s - 1's), the number of its desks whose
    occupied milliseconds that day reach used_min_ms."""
    used = (desk_day_ms >= used_min_ms).astype(np.int64)
    n_days = desk_day_ms.shape[1]
    # Desks of a site are contiguous: prefix sums over desks, differenced at site bounds.
    prefix = np.vstack([np.zeros((1, n_days), dtype=np.int64), np.cumsum(used, axis=0)])
    per_site = prefix[site_desk_off[1:]] - prefix[site_desk_off[:-1]]
    return per_site.reshape(-1).astype(np.int64)
