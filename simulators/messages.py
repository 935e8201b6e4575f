"""MQTT payloads of a virtual node: batched events, status and its last will.

Pure: no I/O, no clock. Payloads are the compact JSON of `hubsense.wire`
(the tests validate them with the wire models); events are encoded with
`json` directly because a 28-day backfill has millions of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from hubsense.simulators.node import SimEvent

from hubsense import __version__
from hubsense.wire import StatusMessage, encode

# Events per message in backfill and live mode: small enough to stay far below the
# 256 KiB limit of docs/wire.md (~100 bytes an event), large enough to batch well.
BATCH_EVENTS = 50


def event_batches(
    node: str, events: list[SimEvent], size: int = BATCH_EVENTS
) -> Iterator[tuple[bytes, int]]:
    """`{"node": …, "events": […]}` payloads of at most `size` events in seq order, with counts."""
    for i in range(0, len(events), size):
        batch = events[i : i + size]
        body = {"node": node, "events": [e.wire() for e in batch]}
        yield json.dumps(body, separators=(",", ":")).encode(), len(batch)


def status_payload(
    node: str,
    ts_ms: int,
    uptime_s: float,
    reading_age_s: dict[str, float | None],
    cpu_temp_c: float,
) -> bytes:
    """The retained status a running node sends every heartbeat."""
    return encode(
        StatusMessage(
            node=node,
            online=True,
            ts=ts_ms,
            version=f"hubsense-sim {__version__}",
            uptime_s=round(uptime_s, 3),
            outbox_depth=0,
            last_reading_age_s=reading_age_s,
            cpu_temp_c=round(cpu_temp_c, 1),
            clock_synced=True,
            disk_full=False,
        )
    )


def offline_payload(node: str) -> bytes:
    """The last will (and the status sent on a clean shutdown): online false."""
    return encode(StatusMessage(node=node, online=False))
