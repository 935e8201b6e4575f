"""Keep node coverage (table `coverage`, migration 0010) in step with the alive/stop rows.

Called by the copy writer in the transaction of the events, so coverage is committed
exactly when its events are. The rule is the metrics' N: an alive at h covers
[h, min(h + 3 x heartbeat, the node's next alive or stop)), next in (ts, seq) order, per
site and node; stored as the union of covers with touching intervals merged.

Two paths per (site, node) of a batch:
- append (the common case): every new alive/stop comes after the node's head (its last
  stored alive/stop, table `coverage_heads`). Coverage before the head's ts cannot change,
  so the head's cover is replaced by the covers of head + new events, computed here by the
  pure core below: no raw rows are read.
- late, duplicated or out of order: the database function hubsense_recompute_coverage
  recomputes the neighbourhood [last alive/stop before the earliest new one, first one
  after the latest) from the raw rows, exactly.

The pure core (`covers`, `merged`, `heartbeat_at`) does no I/O; the rest speaks SQL
through the caller's psycopg connection and must not commit.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hubsense.ingest.decode import EventRow

HEARTBEATS_COVERED = 3  # SPEC-defined: an alive covers three heartbeats
_MS_PER_S = 1000
_US_PER_MS = 1000

Interval = tuple[int, int]  # [start_ms, end_ms)


# One alive or stop of a node as (ts_ms, seq, alive): a plain tuple, so that a batch's
# beats are built and sorted in (ts, seq) order, the rule's order, at C speed (ingest makes
# one a row; a dataclass with order=True cost 1 us a row in Python comparisons).
Beat = tuple[int, int, bool]


@dataclass(frozen=True, slots=True)
class Heartbeats:
    """A node's heartbeat history: (valid_from_us, heartbeat_s) sorted; the first applies
    to everything before it too (the inventory's first value is the one it always had)."""

    valid_from_us: tuple[int, ...]
    heartbeat_s: tuple[int, ...]

    @property
    def constant_cover_ms(self) -> int | None:
        """The cover of every alive when the heartbeat never changed, else None."""
        if len(self.heartbeat_s) == 1:
            return HEARTBEATS_COVERED * self.heartbeat_s[0] * _MS_PER_S
        return None

    def cover_ms(self, ts_ms: int) -> int:
        """How long an alive at ts_ms covers: three heartbeats in force at that instant."""
        i = bisect.bisect_right(self.valid_from_us, ts_ms * _US_PER_MS) - 1
        return HEARTBEATS_COVERED * self.heartbeat_s[max(i, 0)] * _MS_PER_S


def covers(beats: Sequence[Beat], heartbeats: Heartbeats) -> list[Interval]:
    """The merged union of the covers of `beats` (sorted by (ts, seq)); the last has no next.

    The covers start in ts order, so each joins the last interval or opens the next: one
    pass, no sort (ingest runs this for every alive it stores)."""
    constant = heartbeats.constant_cover_ms
    out: list[Interval] = []
    last = len(beats) - 1
    for i, (ts, _seq, alive) in enumerate(beats):
        if not alive:
            continue
        end = ts + (constant if constant is not None else heartbeats.cover_ms(ts))
        if i < last and beats[i + 1][0] < end:
            end = beats[i + 1][0]
        if end <= ts:
            continue
        if out and ts <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((ts, end))
    return out


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping or touching intervals joined and empty ones dropped."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


# -- SQL step ---------------------------------------------------------------------------

# Two workers of a shared subscription get messages of the same node: each takes the
# node's lock before reading its head, so their updates of that node happen one after the
# other (each sees the other's committed head) instead of both putting the same cover.
# The caller passes the pairs sorted, so two batches take their locks in one order.
_LOCK_NODES = """
SELECT pg_advisory_xact_lock(hashtextextended(site_id || '/' || node_id, 0))
  FROM unnest(%(sites)s::text[], %(nodes)s::text[]) AS p(site_id, node_id)
"""
_HEADS = """
SELECT h.site_id, h.node_id, floor(extract(epoch FROM h.ts) * 1000)::int8, h.seq, h.alive
  FROM coverage_heads h
  JOIN unnest(%(sites)s::text[], %(nodes)s::text[]) AS p(site_id, node_id)
    ON h.site_id = p.site_id AND h.node_id = p.node_id
"""
_HEARTBEATS = """
SELECT node_id,
       CASE WHEN valid_from = '-infinity' THEN NULL
            ELSE floor(extract(epoch FROM valid_from) * 1000000)::int8 END,
       heartbeat_s
  FROM node_heartbeats WHERE node_id = ANY(%(nodes)s::text[])
 ORDER BY node_id, valid_from
"""
# Coverage from the head on is exactly the head's cover: take it out, keep what precedes.
_TAKE_TAIL = """
DELETE FROM coverage c
 USING unnest(%(sites)s::text[], %(nodes)s::text[], %(from_ms)s::int8[]) AS w(site_id, node_id, a)
 WHERE c.site_id = w.site_id AND c.node_id = w.node_id
   AND c.end_ts >= to_timestamp(w.a / 1000.0)
RETURNING c.site_id, c.node_id, floor(extract(epoch FROM c.start_ts) * 1000)::int8,
          floor(extract(epoch FROM c.end_ts) * 1000)::int8
"""
# ms / 1000.0 is exact to the millisecond for any real date (as the events' ts).
_PUT = """
INSERT INTO coverage (site_id, node_id, start_ts, end_ts)
SELECT site_id, node_id, to_timestamp(s / 1000.0), to_timestamp(e / 1000.0)
  FROM unnest(%(sites)s::text[], %(nodes)s::text[], %(s)s::int8[], %(e)s::int8[])
       AS r(site_id, node_id, s, e)
"""
_RECOMPUTE = """
SELECT hubsense_recompute_coverage(site_id, node_id, to_timestamp(lo / 1000.0),
                                   to_timestamp(hi / 1000.0))
  FROM unnest(%(sites)s::text[], %(nodes)s::text[], %(lo)s::int8[], %(hi)s::int8[])
       AS w(site_id, node_id, lo, hi)
"""
_SET_HEADS = """
INSERT INTO coverage_heads (site_id, node_id, ts, seq, alive)
SELECT site_id, node_id, to_timestamp(t / 1000.0), seq, alive
  FROM unnest(%(sites)s::text[], %(nodes)s::text[], %(ts)s::int8[], %(seq)s::int8[],
              %(alive)s::bool[]) AS h(site_id, node_id, t, seq, alive)
ON CONFLICT (site_id, node_id) DO UPDATE SET ts = EXCLUDED.ts, seq = EXCLUDED.seq,
    alive = EXCLUDED.alive
 WHERE (EXCLUDED.ts, EXCLUDED.seq) > (coverage_heads.ts, coverage_heads.seq)
"""

Pair = tuple[str, str]  # (site_id, node_id)


def beats_by_node(rows: Iterable[EventRow]) -> dict[Pair, list[Beat]]:
    """The batch's alive/stop rows per (site, node), sorted by (ts, seq)."""
    out: dict[Pair, list[Beat]] = {}
    for row in rows:
        kind = row[4]
        if kind != "desk":
            pair = (row[3], row[0])
            beats = out.get(pair)
            if beats is None:
                beats = out[pair] = []
            beats.append((row[2], row[1], kind == "alive"))
    for beats in out.values():
        beats.sort()
    return out


def update_coverage(conn: Any, rows: Iterable[EventRow]) -> None:
    """Bring coverage and heads up to date with these just-inserted (or redelivered) rows."""
    batch = beats_by_node(rows)
    if not batch:
        return
    pairs = sorted(batch)
    sites = [p[0] for p in pairs]
    nodes = [p[1] for p in pairs]
    with conn.cursor() as cur:
        cur.execute(_LOCK_NODES, {"sites": sites, "nodes": nodes})
        heads = {
            (site, node): (ts, seq, alive)
            for site, node, ts, seq, alive in cur.execute(
                _HEADS, {"sites": sites, "nodes": nodes}
            ).fetchall()
        }
        history = _heartbeats(cur.execute(_HEARTBEATS, {"nodes": sorted(set(nodes))}).fetchall())
        append: dict[Pair, list[Beat]] = {}
        late: list[Pair] = []
        for pair, beats in batch.items():
            if pair[1] not in history:
                continue  # not in the inventory: its alives cover nothing (the readers agree)
            head = heads.get(pair)
            if head is None or beats[0] > head:
                append[pair] = beats if head is None else [head, *beats]
            else:
                late.append(pair)
        if append:
            _append(cur, append, history)
        if late:
            cur.execute(
                _RECOMPUTE,
                {
                    "sites": [p[0] for p in late],
                    "nodes": [p[1] for p in late],
                    "lo": [batch[p][0][0] for p in late],
                    "hi": [batch[p][-1][0] + 1 for p in late],
                },
            )
        tops = [(pair, batch[pair][-1]) for pair in pairs if pair[1] in history]
        cur.execute(
            _SET_HEADS,
            {
                "sites": [p[0] for p, _ in tops],
                "nodes": [p[1] for p, _ in tops],
                "ts": [b[0] for _, b in tops],
                "seq": [b[1] for _, b in tops],
                "alive": [b[2] for _, b in tops],
            },
        )


def _heartbeats(rows: list[tuple[str, int | None, int]]) -> dict[str, Heartbeats]:
    by_node: dict[str, tuple[list[int], list[int]]] = {}
    for node, valid_from_us, heartbeat_s in rows:
        froms, beats = by_node.setdefault(node, ([], []))
        froms.append(-(2**62) if valid_from_us is None else valid_from_us)
        beats.append(heartbeat_s)
    return {node: Heartbeats(tuple(f), tuple(b)) for node, (f, b) in by_node.items()}


def _append(cur: Any, append: dict[Pair, list[Beat]], history: dict[str, Heartbeats]) -> None:
    pairs = list(append)
    tails: dict[Pair, list[Interval]] = {}
    for site, node, start, end in cur.execute(
        _TAKE_TAIL,
        {
            "sites": [p[0] for p in pairs],
            "nodes": [p[1] for p in pairs],
            "from_ms": [append[p][0][0] for p in pairs],
        },
    ).fetchall():
        tails.setdefault((site, node), []).append((start, end))
    out_sites: list[str] = []
    out_nodes: list[str] = []
    out_s: list[int] = []
    out_e: list[int] = []
    for pair, beats in append.items():
        a = beats[0][0]
        kept = [(s, min(e, a)) for s, e in tails.get(pair, []) if s < a]
        for s, e in merged([*kept, *covers(beats, history[pair[1]])]):
            out_sites.append(pair[0])
            out_nodes.append(pair[1])
            out_s.append(s)
            out_e.append(e)
    if out_s:
        cur.execute(_PUT, {"sites": out_sites, "nodes": out_nodes, "s": out_s, "e": out_e})
