"""Deduplicate (node, seq) and group events per desk and per node in (ts, seq) order.

docs/metrics.md: of several rows with the same (node, seq) the first one read wins; a desk's
state changes and a node's alive/stop stream are each taken in (ts, seq) order.
Events arrive unsorted and late, so the one sort happens here, as cheaply as the
input allows: a linear byte-map dedupe (seq is dense per node), a stable counting
sort into per-entity segments (linear), then a sort only of segments that are not
already in (ts, seq) order.

Pure: arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hubsense.analytics.kernels.jit import kernel

# Event kinds as stored in the kind array (the wire's `type`).
KIND_DESK = 0
KIND_ALIVE = 1
KIND_STOP = 2
# A node's seq range may be this much sparser than its count before the byte map gives
# way to a sort: seq increases by one per event, so real data is dense.
_SPARSE_FACTOR = 4
_SPARSE_SLACK = 4096


@kernel
def _first_reads_dense(node, seq, n_nodes):  # type: ignore[no-untyped-def]
    """Keep-mask by a byte map per node over [min seq, max seq]; ok=False when too sparse."""
    n = node.shape[0]
    lo = np.full(n_nodes, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(n_nodes, -1, dtype=np.int64)
    count = np.zeros(n_nodes, dtype=np.int64)
    for i in range(n):
        k = node[i]
        s = seq[i]
        if s < lo[k]:
            lo[k] = s
        if s > hi[k]:
            hi[k] = s
        count[k] += 1
    base = np.zeros(n_nodes, dtype=np.int64)
    total = 0
    for k in range(n_nodes):
        if count[k] == 0:
            continue
        span = hi[k] - lo[k] + 1
        if span > _SPARSE_FACTOR * count[k] + _SPARSE_SLACK:
            return np.ones(n, dtype=np.bool_), False
        base[k] = total - lo[k]
        total += span
    seen = np.zeros(total, dtype=np.uint8)
    keep = np.ones(n, dtype=np.bool_)
    for i in range(n):
        j = base[node[i]] + seq[i]
        if seen[j]:
            keep[i] = False
        else:
            seen[j] = 1
    return keep, True


def first_reads(
    node: npt.NDArray[np.int32], seq: npt.NDArray[np.int64], n_nodes: int
) -> npt.NDArray[np.bool_]:
    """Mask of the rows that are the first read of their (node, seq)."""
    if node.shape[0] == 0:
        return np.ones(0, dtype=np.bool_)
    keep, ok = _first_reads_dense(node, seq, n_nodes)
    if ok:
        return keep  # type: ignore[no-any-return]
    # Sparse seq: a stable sort keeps equal (node, seq) rows in reading order.
    by_key = np.lexsort((seq, node))
    dup = (node[by_key][1:] == node[by_key][:-1]) & (seq[by_key][1:] == seq[by_key][:-1])
    keep = np.ones(node.shape[0], dtype=np.bool_)
    keep[by_key[1:][dup]] = False
    return keep


@kernel
def scan_events(kind, desk, node, ts, seq, n_desks, n_nodes):  # type: ignore[no-untyped-def]
    """One pass: (seq strictly increasing per node in reading order, every entity already in
    (ts, seq) order).

    The first means no (node, seq) can repeat, so deduplication is skipped; the second
    means grouping needs no sort. Entities: desk d, then node k at n_desks + k (alive/stop).
    """
    n = kind.shape[0]
    last_seq = np.full(n_nodes, -1, dtype=np.int64)
    # Per entity: last ts and last seq side by side (one cache line per event).
    entity = np.zeros((n_desks + n_nodes, 2), dtype=np.int64)
    entity[:, 0] = -1
    entity[:, 1] = -1
    increasing = True
    ordered = True
    for i in range(n):
        k = node[i]
        s = seq[i]
        if s <= last_seq[k]:
            increasing = False
        last_seq[k] = s
        e = desk[i] if kind[i] == KIND_DESK else n_desks + k
        t = ts[i]
        if t < entity[e, 0] or (t == entity[e, 0] and s < entity[e, 1]):
            ordered = False
        entity[e, 0] = t
        entity[e, 1] = s
    return increasing, ordered


@kernel
def _sort_segment(ts, seq, idx, lo, hi):  # type: ignore[no-untyped-def]
    """Sort idx[lo:hi] by (ts, seq) when it is not already in that order."""
    for i in range(lo + 1, hi):
        a = idx[i - 1]
        b = idx[i]
        if ts[b] < ts[a] or (ts[b] == ts[a] and seq[b] < seq[a]):
            break
    else:
        return
    seg = idx[lo:hi].copy()
    by_seq = np.argsort(seq[seg], kind="mergesort")
    seg = seg[by_seq]
    by_ts = np.argsort(ts[seg], kind="mergesort")
    idx[lo:hi] = seg[by_ts]


@kernel
def group_events(kind, desk, node, ts, seq, state, keep, ordered, n_desks, n_nodes):  # type: ignore[no-untyped-def]
    """Group kept events per entity in (ts, seq) order, gathered into contiguous columns.

    Returns (g_ts, g_flag, offsets): entity e's events are [offsets[e], offsets[e + 1]);
    g_flag is the state for desk events and the kind for a node's alive/stop. A stable
    counting sort (linear); segments are sorted only when `ordered` is False.
    """
    n = kind.shape[0]
    n_entities = n_desks + n_nodes
    offsets = np.zeros(n_entities + 1, dtype=np.int64)
    for i in range(n):
        if keep[i]:
            e = desk[i] if kind[i] == KIND_DESK else n_desks + node[i]
            offsets[e + 1] += 1
    for e in range(n_entities):
        offsets[e + 1] += offsets[e]
    m = offsets[n_entities]
    fill = offsets[:-1].copy()
    g_ts = np.empty(m, dtype=np.int64)
    g_flag = np.empty(m, dtype=np.int8)
    if ordered:
        for i in range(n):
            if keep[i]:
                if kind[i] == KIND_DESK:
                    e = desk[i]
                    flag = state[i]
                else:
                    e = n_desks + node[i]
                    flag = kind[i]
                j = fill[e]
                g_ts[j] = ts[i]
                g_flag[j] = flag
                fill[e] = j + 1
        return g_ts, g_flag, offsets
    idx = np.empty(m, dtype=np.int64)
    for i in range(n):
        if keep[i]:
            e = desk[i] if kind[i] == KIND_DESK else n_desks + node[i]
            idx[fill[e]] = i
            fill[e] += 1
    for e in range(n_entities):
        _sort_segment(ts, seq, idx, offsets[e], offsets[e + 1])
    for j in range(m):
        i = idx[j]
        g_ts[j] = ts[i]
        g_flag[j] = state[i] if kind[i] == KIND_DESK else kind[i]
    return g_ts, g_flag, offsets
