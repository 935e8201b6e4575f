"""Rules of the durable outbox: batching, in-flight bound, rate, acks, retries.

Pure: no I/O, no clock reads, no randomness of its own (time and random
numbers are parameters). `hubsense.edge.io.outbox` stores events; the agent
asks these rules what to send next and what an acknowledgement means.

Why the bounds: paho-mqtt numbers publishes with 16-bit packet ids and reuses
them after 65,535 unacknowledged messages, after which acks match the wrong
message and events are lost; so the agent keeps few messages in flight and
packs many events into each one. A day's backlog is rate limited so a fleet
of nodes coming back after an outage does not flood the broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hubsense.wire import MAX_MESSAGE_BYTES

# The wire contract allows 256 KiB; stay well under it so the node id and JSON
# framing never push a full batch over.
DEFAULT_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES // 2
# Far below paho's 65,535 packet ids and small enough that a stalled broker
# holds little; large enough to keep a round trip's worth of batches moving.
DEFAULT_MAX_IN_FLIGHT = 8
# Framing of `{"node":"…","events":[…]}` besides the events themselves.
_FRAME_BYTES = 64


@dataclass(frozen=True, slots=True)
class OutboxLimits:
    max_events_per_message: int = 500
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    # 1,000 events/s drains a busy day (a few thousand events) in seconds while
    # a thousand nodes returning at once stay within one ingest worker's rate.
    rate_events_per_s: float = 1_000.0
    burst_events: int = 2_000
    # A message with no PUBACK this long while connected is sent again (ingest dedups).
    ack_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_in_flight <= 1_000:
            raise ValueError("max_in_flight must be in 1..1000 (paho reuses packet ids)")
        if self.max_events_per_message < 1 or self.burst_events < self.max_events_per_message:
            raise ValueError("burst_events must be >= max_events_per_message >= 1")
        if self.rate_events_per_s <= 0:
            raise ValueError("rate_events_per_s must be > 0")


@dataclass(slots=True)
class TokenBucket:
    """Events allowed to leave: refills at `rate_per_s`, holds at most `burst`."""

    rate_per_s: float
    burst: int
    tokens: float = -1.0
    updated_ms: int | None = None

    def available(self, now_ms: int) -> int:
        if self.tokens < 0:
            self.tokens = float(self.burst)
        if self.updated_ms is not None and now_ms > self.updated_ms:
            refill = (now_ms - self.updated_ms) / 1000 * self.rate_per_s
            self.tokens = min(float(self.burst), self.tokens + refill)
        if self.updated_ms is None or now_ms > self.updated_ms:
            self.updated_ms = now_ms
        return int(self.tokens)

    def take(self, n: int, now_ms: int) -> None:
        self.available(now_ms)
        self.tokens -= n

    def wait_ms(self, n: int, now_ms: int) -> int:
        """How long until `n` events may leave."""
        missing = n - self.available(now_ms)
        return 0 if missing <= 0 else int(missing * 1000 / self.rate_per_s) + 1


def events_that_fit(sizes: list[int], max_events: int, max_bytes: int) -> int:
    """How many of the leading events (encoded sizes in bytes) fit in one message."""
    total = _FRAME_BYTES
    for count, size in enumerate(sizes[:max_events]):
        total += size + 1  # the comma
        if total > max_bytes:
            return max(count, 1)  # one event always fits: events are ~100 bytes
    return min(len(sizes), max_events)


@dataclass(frozen=True, slots=True)
class Flight:
    """One published message: events seq lo..hi inclusive, handed to MQTT at `sent_ms`."""

    lo: int
    hi: int
    sent_ms: int


@dataclass(slots=True)
class InFlight:
    """Messages awaiting PUBACK, by MQTT message id, and where sending resumes.

    `cursor` is the highest seq handed to MQTT: the next batch starts after it.
    After a process start it is -1, so everything left in the outbox goes again
    (what was delivered but not yet deleted arrives twice; (node, seq) dedups it).
    """

    cursor: int = -1
    flights: dict[int, Flight] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.flights)

    def room(self, limits: OutboxLimits) -> int:
        return max(0, limits.max_in_flight - len(self.flights))

    def sent(self, mid: int, lo: int, hi: int, now_ms: int) -> None:
        if mid in self.flights:
            # Never happens with a bounded window; if it does, the older batch lost its
            # ack mapping: send again from its start (duplicates are deduped by seq).
            self.requeue(self.flights[mid].lo)
            self.flights[mid] = Flight(lo, hi, now_ms)
            return
        self.flights[mid] = Flight(lo, hi, now_ms)
        self.cursor = max(self.cursor, hi)

    def acked(self, mid: int) -> Flight | None:
        """The batch a successful PUBACK confirms (None for an unknown id)."""
        return self.flights.pop(mid, None)

    def rejected(self, mid: int) -> Flight | None:
        """A PUBACK with a failure reason: the batch stays in the outbox and goes again."""
        flight = self.flights.pop(mid, None)
        if flight is not None:
            self.requeue(flight.lo)
        return flight

    def expired(self, now_ms: int, limits: OutboxLimits) -> list[int]:
        """Message ids with no PUBACK within the ack timeout."""
        limit_ms = limits.ack_timeout_s * 1000
        return [mid for mid, f in self.flights.items() if now_ms - f.sent_ms >= limit_ms]

    def requeue(self, from_seq: int) -> None:
        """Send again from `from_seq`; later flights are forgotten and resent too."""
        self.cursor = min(self.cursor, from_seq - 1)
        for mid in [m for m, f in self.flights.items() if f.hi >= from_seq]:
            del self.flights[mid]

    def restamp(self, now_ms: int) -> None:
        """After a reconnect paho sends its unacked messages again: their timeout restarts."""
        for mid, f in self.flights.items():
            self.flights[mid] = Flight(f.lo, f.hi, now_ms)

    def reset(self) -> None:
        self.cursor = -1
        self.flights.clear()
