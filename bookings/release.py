"""Decide whether a running booking is released for no-show (docs/api.md): the pure rule.

A booking [start, end) is released when its desk stays vacant *while observed* for
`release_after_ms` after the booking's start: the first stretch of continuous
observation inside [start, now) that is at least `release_after_ms` long, with the
desk never occupied while observed, makes the booking due at the stretch's start
plus `release_after_ms` (which must fall before the booking's end).

Observation follows docs/metrics.md: each `alive` at h covers [h, min(h + 3 x heartbeat,
the node's next alive or stop)), minus the desk's `unknown` stretches (C = N - U: a
silent sensor says nothing about vacancy). An observation gap restarts the clock, because
nobody can say the desk stayed vacant while nobody looked. The desk counts as
checked in as soon as it is seen occupied while observed at any instant in
[start, now): a late-arriving booker (or a walk-in) keeps the booking, even when
the watcher evaluates late, after the release would have been due.

Pure: no I/O, no clock; times are integer milliseconds handed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

# An open-ended span (the desk's last state, the last alive's cover is bounded).
_FOREVER_MS = 2**62
OBSERVED_HEARTBEATS = 3  # docs/metrics.md: an alive covers three heartbeats


class Verdict(StrEnum):
    WAIT = "wait"  # not decidable yet: look again later
    RELEASE = "release"  # vacant while observed long enough: release now
    CHECKED_IN = "checked_in"  # seen occupied during the booking: never release
    ENDED = "ended"  # the booking is over without a release


@dataclass(frozen=True, slots=True)
class DeskChange:
    """A desk event: its state from `ts_ms` on."""

    ts_ms: int
    seq: int
    occupied: bool
    unknown: bool = False  # the node could not tell (docs/wire.md): not observed


@dataclass(frozen=True, slots=True)
class NodeBeat:
    """An `alive` (alive=True) or `stop` (alive=False) event of the desk's node."""

    ts_ms: int
    seq: int
    alive: bool


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    # RELEASE: when it became due; CHECKED_IN: the first occupied-and-observed instant.
    at_ms: int | None = None


Span = tuple[int, int]


def observed_spans(beats: Iterable[NodeBeat], heartbeat_ms: int) -> list[Span]:
    """The node's observed set C as sorted, merged half-open spans."""
    ordered = sorted(beats, key=lambda b: (b.ts_ms, b.seq))
    spans: list[Span] = []
    for i, beat in enumerate(ordered):
        if not beat.alive:
            continue
        end = beat.ts_ms + OBSERVED_HEARTBEATS * heartbeat_ms
        if i + 1 < len(ordered):
            end = min(end, ordered[i + 1].ts_ms)
        _append(spans, (beat.ts_ms, end))
    return spans


def occupied_spans(changes: Iterable[DeskChange], unknown: bool = False) -> list[Span]:
    """The desk's occupied set O (or with `unknown`, its unknown set U) as sorted, merged
    half-open spans (the last one open-ended)."""
    ordered = sorted(changes, key=lambda c: (c.ts_ms, c.seq))
    spans: list[Span] = []
    for i, change in enumerate(ordered):
        if not (change.unknown if unknown else change.occupied):
            continue
        end = ordered[i + 1].ts_ms if i + 1 < len(ordered) else _FOREVER_MS
        _append(spans, (change.ts_ms, end))
    return spans


def _append(spans: list[Span], span: Span) -> None:
    start, end = span
    if end <= start:
        return
    if spans and start <= spans[-1][1]:
        spans[-1] = (spans[-1][0], max(spans[-1][1], end))
    else:
        spans.append(span)


def without(spans: Sequence[Span], holes: Sequence[Span]) -> list[Span]:
    """`spans` minus `holes` (both sorted and merged)."""
    out: list[Span] = []
    for start, end in spans:
        for h_start, h_end in holes:
            if h_end <= start or h_start >= end:
                continue
            _append(out, (start, h_start))
            start = max(start, h_end)
        _append(out, (start, end))
    return out


def clip(spans: Sequence[Span], lo: int, hi: int) -> list[Span]:
    """The parts of `spans` inside [lo, hi)."""
    out = []
    for start, end in spans:
        start, end = max(start, lo), min(end, hi)
        if start < end:
            out.append((start, end))
    return out


def first_overlap(a: Sequence[Span], b: Sequence[Span]) -> int | None:
    """The first instant in both span lists (each sorted and merged), or None."""
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            return start
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return None


def decide(
    start_ms: int,
    end_ms: int,
    release_after_ms: int,
    changes: Iterable[DeskChange],
    beats: Iterable[NodeBeat],
    heartbeat_ms: int,
    now_ms: int,
) -> Decision:
    """Release, wait, or leave the booking alone, as of `now_ms`.

    `changes` must include the desk's last event before `start_ms` (its state carries
    into the booking) and `beats` the node's last alive before it (its cover may too).
    """
    if release_after_ms <= 0:
        raise ValueError("release_after_ms must be positive")
    horizon = min(now_ms, end_ms)
    changes = list(changes)
    covered = without(observed_spans(beats, heartbeat_ms), occupied_spans(changes, unknown=True))
    observed = clip(covered, start_ms, horizon)
    occupied = clip(occupied_spans(changes), start_ms, horizon)
    seen_at = first_overlap(observed, occupied)
    if seen_at is not None:
        return Decision(Verdict.CHECKED_IN, seen_at)
    for span_start, span_end in observed:
        due = span_start + release_after_ms
        if due <= span_end and due < end_ms:
            return Decision(Verdict.RELEASE, due)
    if now_ms >= end_ms or start_ms + release_after_ms >= end_ms:
        return Decision(Verdict.ENDED)
    return Decision(Verdict.WAIT)
