"""Release webhook signatures: over delivery id + timestamp + body, two secrets while rotating."""

from __future__ import annotations

import hashlib
import hmac

from hubsense.bookings.announce import SIGNATURE_TOLERANCE_S, signature, signature_valid

BODY = b'{"booking_id":"b-1"}'
DELIVERY = "0b6c5b7e-0000-5000-8000-000000000001"
STAMP = 1_800_000_000


def headers(sig: str, stamp: int = STAMP) -> dict[str, str]:
    return {
        "X-Hubsense-Delivery": DELIVERY,
        "X-Hubsense-Timestamp": str(stamp),
        "X-Hubsense-Signature": sig,
    }


def test_the_signature_is_hmac_sha256_of_delivery_dot_timestamp_dot_body() -> None:
    content = f"{DELIVERY}.{STAMP}.".encode() + BODY
    expected = "sha256=" + hmac.new(b"s3cret", content, hashlib.sha256).hexdigest()
    assert signature("s3cret", DELIVERY, STAMP, BODY) == expected


def test_a_receiver_accepts_fresh_and_refuses_replayed_or_tampered() -> None:
    good = headers(signature("s3cret", DELIVERY, STAMP, BODY))
    assert signature_valid(["s3cret"], good, BODY, STAMP + SIGNATURE_TOLERANCE_S)
    assert not signature_valid(["s3cret"], good, BODY, STAMP + SIGNATURE_TOLERANCE_S + 1)
    assert not signature_valid(["s3cret"], good, BODY + b" ", STAMP)
    assert not signature_valid(["other"], good, BODY, STAMP)
    # The timestamp is signed: moving it forward breaks the signature.
    moved = headers(good["X-Hubsense-Signature"], STAMP + 600)
    assert not signature_valid(["s3cret"], moved, BODY, STAMP + 600)
    assert not signature_valid(["s3cret"], {}, BODY, STAMP)


def test_while_rotating_both_signatures_are_sent_and_either_secret_verifies() -> None:
    both = " ".join(signature(s, DELIVERY, STAMP, BODY) for s in ("new", "old"))
    assert signature_valid(["new"], headers(both), BODY, STAMP)
    assert signature_valid(["old"], headers(both), BODY, STAMP)
    assert not signature_valid(["third"], headers(both), BODY, STAMP)
