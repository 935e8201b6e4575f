"""Build BTHome v2 service data bytes, plain or encrypted: what a BTHome sensor sends.

For the simulator (`AgentThread.feed_advert`) and the tests. Written from the
BTHome v2 format (bthome.io/format), independently of bthome-ble, so decoding
our bytes with bthome-ble checks both sides:

    byte 0   device information: bit 0 encrypted, bit 2 trigger based, bits 5-7 version (2)
    then     objects: id, value (0x00 packet id uint8, 0x21 motion, 0x23 occupancy,
             0x25 presence: uint8 0/1)
    encrypted: AES-CCM (4-byte MIC) over the objects with the 16-byte bindkey;
             nonce = MAC (6) + UUID 0xFCD2 little-endian (2) + device info (1) + counter (4 LE);
             service data = device info + ciphertext + counter (4 LE) + MIC (4).
"""

from __future__ import annotations

OBJECT_IDS = {"packet_id": 0x00, "motion": 0x21, "occupancy": 0x23, "presence": 0x25}
_VERSION_2 = 2 << 5


def build_advert(
    objects: list[tuple[str, int]],
    *,
    mac: str | None = None,
    bindkey: bytes | None = None,
    counter: int = 0,
) -> bytes:
    """Service data for UUID 0xFCD2; `mac` is required when encrypting (part of the nonce)."""
    body = b"".join(bytes([OBJECT_IDS[name], value]) for name, value in objects)
    if bindkey is None:
        return bytes([_VERSION_2]) + body
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM

    if mac is None:
        raise ValueError("mac is needed to encrypt (it is part of the nonce)")
    info = _VERSION_2 | 0x01
    counter_bytes = counter.to_bytes(4, "little")
    nonce = bytes.fromhex(mac.replace(":", "")) + b"\xd2\xfc" + bytes([info]) + counter_bytes
    sealed = AESCCM(bindkey, tag_length=4).encrypt(nonce, body, None)
    return bytes([info]) + sealed[:-4] + counter_bytes + sealed[-4:]
