"""Pure: the MQTT 5 bytes ingest reads and writes itself, apart from the paho hook.

`split_publish` reads a QoS 1 PUBLISH body straight from paho's packet buffer and
`puback_batches` writes many PUBACKs as one buffer (mqtt_consumer.py says why: paho's own
path costs ~40 µs a message and a syscall an ack). Both follow MQTT 5 §3.3 and §3.4.
"""

from __future__ import annotations

from collections.abc import Iterator

# MQTT PUBACK fixed header: packet type 4, remaining length 2 (reason code omitted = success).
PUBACK = 0x40
PUBACK_PREFIX = bytes([PUBACK, 2])
ACKS_PER_WRITE = 4096


def puback_batches(mids: list[int]) -> Iterator[bytes]:
    """PUBACKs of the packet ids back to back, at most ACKS_PER_WRITE in one buffer."""
    for start in range(0, len(mids), ACKS_PER_WRITE):
        chunk = mids[start : start + ACKS_PER_WRITE]
        yield b"".join(PUBACK_PREFIX + mid.to_bytes(2, "big") for mid in chunk)


def split_publish(packet: bytes) -> tuple[bytes, bytes, int] | None:
    """(topic, payload, packet id) of an MQTT 5 QoS 1 PUBLISH body; None if malformed."""
    size = len(packet)
    if size < 5:
        return None
    end_topic = 2 + ((packet[0] << 8) | packet[1])
    if end_topic + 3 > size:
        return None
    mid = (packet[end_topic] << 8) | packet[end_topic + 1]
    # Property length: a variable byte integer (MQTT 5 §1.5.5), at most four bytes.
    pos, length, shift = end_topic + 2, 0, 0
    for _ in range(4):
        if pos >= size:
            return None
        byte = packet[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    else:
        return None
    start = pos + length
    if start > size:
        return None
    return bytes(packet[2:end_topic]), bytes(packet[start:]), mid
