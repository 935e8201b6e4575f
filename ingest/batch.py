"""One batch of decoded messages on its way to the database, and when to close it.

Pure: no I/O, no clock (times are parameters). Events are deduplicated by
(node, seq) across the batch (the first one wins, like the database's
`ON CONFLICT DO NOTHING`); of several status messages of one node the newest
wins. Every message keeps its opaque ack token, acknowledged only after the
batch is committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hubsense.ingest.decode import DeadLetter, Decoded, EventRow, StatusRow


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
        self.decoded.append((topic, payload, decoded))
        if decoded.dead is not None:
            self.dead.append(decoded.dead)
        elif decoded.status is not None:
            self._add_status(decoded.status)
        else:
            self.received_events += len(decoded.events)
            setdefault = self.events.setdefault
            for row in decoded.events:
                setdefault((row[0], row[1]), row)

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


def is_newer_status(new: StatusRow, held: StatusRow) -> bool:
    """A status without ts (a last will) always wins; else the later or equal ts wins."""
    if new.reported_ms is None or held.reported_ms is None:
        return True
    return bool(new.reported_ms >= held.reported_ms)
