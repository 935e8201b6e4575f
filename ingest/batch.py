"""One batch of decoded messages on its way to the database, and when to close it.

Pure: no I/O, no clock (times are parameters). Events are deduplicated by
(node, seq) across the batch (a repeat with the same content is a redelivery);
a message reusing a seq of an earlier message in the batch for other content is
a dead letter (`conflicting_duplicate`, docs/wire.md), and so is one the writer finds
conflicting with a stored row (`reject_conflicts`). A message is the unit of
validity: a conflicting one writes none of its events. Of several status
messages of one node the newest wins. Every message keeps its opaque ack token,
acknowledged only after the batch is committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hubsense.ingest.decode import (
    DeadLetter,
    Decoded,
    EventRow,
    Reason,
    SeqConflict,
    StatusRow,
    clip_detail,
    describe_conflict,
)


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_events: int
    max_messages: int
    max_age_s: float


@dataclass(slots=True)
class Batch:
    events: dict[tuple[str, int], EventRow] = field(default_factory=dict)
    statuses: dict[str, StatusRow] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    # Per message, for the database's per-message fallback and for acks, in arrival order.
    decoded: list[tuple[str, bytes, Decoded]] = field(default_factory=list)
    acks: list[object] = field(default_factory=list)
    received_events: int = 0
    opened_s: float | None = None

    @property
    def messages(self) -> int:
        return len(self.acks)

    def add(self, topic: str, payload: bytes, decoded: Decoded, ack: object, now_s: float) -> None:
        """Add one decoded message with its raw form and its ack token."""
        if self.opened_s is None:
            self.opened_s = now_s
        self.acks.append(ack)
        if decoded.dead is None and decoded.status is None:
            decoded = self._add_events(topic, payload, decoded)
        self.decoded.append((topic, payload, decoded))
        if decoded.dead is not None:
            self.dead.append(decoded.dead)
        elif decoded.status is not None:
            self._add_status(decoded.status)

    def _add_events(self, topic: str, payload: bytes, decoded: Decoded) -> Decoded:
        """Take the message's events, or return it as a dead letter if it reuses a seq."""
        events = self.events
        setdefault = events.setdefault
        clashes: list[tuple[EventRow, EventRow]] = []
        # Hot loop: a new key returns `row` itself, so the comparison is an identity check.
        for row in decoded.events:
            held = setdefault((row[0], row[1]), row)
            if held is not row and held != row:
                clashes.append((held, row))
        if not clashes:
            self.received_events += len(decoded.events)
            return decoded
        for row in decoded.events:
            key = (row[0], row[1])
            if events.get(key) is row:
                del events[key]
        return Decoded(dead=conflict_letter(topic, payload, clashes, "in this batch"))

    def reject_conflicts(self, stored: dict[tuple[str, int], EventRow]) -> int:
        """Dead-letter every message holding an event that conflicts with a stored row.

        `stored` maps (node, seq) to the stored content. Returns how many messages
        became dead letters; the batch's events are rebuilt from the messages left.
        """
        rejected = 0
        for index, (topic, payload, decoded) in enumerate(self.decoded):
            if decoded.dead is not None or not decoded.events:
                continue
            clashes = [
                (stored[(row[0], row[1])], row)
                for row in decoded.events
                if (row[0], row[1]) in stored and stored[(row[0], row[1])] != row
            ]
            if clashes:
                letter = conflict_letter(topic, payload, clashes, "stored")
                self.decoded[index] = (topic, payload, Decoded(dead=letter))
                self.dead.append(letter)
                self.received_events -= len(decoded.events)
                rejected += 1
        if rejected:
            self.events = {}
            for _topic, _payload, decoded in self.decoded:
                for row in decoded.events:
                    self.events.setdefault((row[0], row[1]), row)
        return rejected

    def _add_status(self, status: StatusRow) -> None:
        held = self.statuses.get(status.node_id)
        if held is None or is_newer_status(status, held):
            self.statuses[status.node_id] = status

    def is_due(self, now_s: float, limits: BatchLimits) -> bool:
        """Close the batch: full, holding enough unacked messages, or old enough."""
        if self.opened_s is None:
            return False
        return (
            self.received_events >= limits.max_events
            or self.messages >= limits.max_messages
            or now_s - self.opened_s >= limits.max_age_s
        )


def conflict_letter(
    topic: str, payload: bytes, clashes: list[tuple[EventRow, EventRow]], held_as: str
) -> DeadLetter:
    """One dead letter for a message whose events reuse seqs; both contents in `detail`."""
    shown = "; ".join(describe_conflict(held, row, held_as) for held, row in clashes[:2])
    more = f" (and {len(clashes) - 2} more)" if len(clashes) > 2 else ""
    first = clashes[0][1]
    conflict = SeqConflict(first[0], first[3], max(row[1] for _held, row in clashes))
    return DeadLetter(
        topic, payload, Reason.CONFLICTING_DUPLICATE, clip_detail(shown + more), conflict
    )


def is_newer_status(new: StatusRow, held: StatusRow) -> bool:
    """A status without ts (a last will) always wins; else the later or equal ts wins."""
    if new.reported_ms is None or held.reported_ms is None:
        return True
    return bool(new.reported_ms >= held.reported_ms)
