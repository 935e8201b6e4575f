"""Pseudonymise personal fields before they are stored (a booker only as a salted hash).

`hash_booker` is HMAC-SHA256 keyed by the organisation's salt (settings
`privacy.booker_salt`): the same booker gives the same hash within one
organisation, so repeat bookings can be counted, and nobody without the salt can
test a guessed name against the stored hash. Pure: no I/O; must not log its inputs.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

PREFIX = "hmac-sha256:"


def hash_booker(booker: str, salt: str) -> str:
    """The stored form of a booker: `hmac-sha256:<hex>`, case- and space-insensitive."""
    if not salt:
        raise ValueError("the booker salt must not be empty")
    # "Anna.Berg@Region.se " and "anna.berg@region.se" are the same person.
    normal = unicodedata.normalize("NFKC", booker).strip().casefold()
    digest = hmac.new(salt.encode(), normal.encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest
