"""Hub page sessions: a manager signs in once with a key and gets a short-lived cookie.

A key in a URL ends up in browser history and proxy logs, so the hub page never takes
one there. `POST /hubs/session` takes the key in a header or form body and answers with
a cookie `hubsense_session` = `v1.<key_id>.<expires unix s>.<nonce>.<signature>`:
HMAC-SHA256 keyed by the key's stored hash over everything before it. It holds no
secret; it is valid while unexpired, correctly signed and its key unrevoked (one
`api_keys` read per check), so revoking the key ends every session of it at once and
signing out ends that one session in this process. The cookie grants only what the
hub pages show (`/hubs/...`, read-only), never the JSON API (Bearer keys only): a reader
of `api_keys` who could sign one could read the desks from the database anyway.
Pure but for `verify`'s one lookup; never logs a key, cookie or signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

from hubsense.api.keys import Principal, Role

if TYPE_CHECKING:
    import psycopg

COOKIE = "hubsense_session"
# A working day at the desk: short enough that a cookie copied from a shared computer
# soon stops working, long enough that a manager signs in once a day.
SESSION_S = 8 * 3600
_VERSION = "v1"
_CONTEXT = b"hubsense hub session\x00"


def _signature(secret_hash: str, payload: str) -> str:
    mac = hmac.new(secret_hash.encode(), _CONTEXT + payload.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def issue(key_id: str, secret_hash: str, now_s: float, lifetime_s: int = SESSION_S) -> str:
    """A session token for the key, expiring `lifetime_s` after `now_s`."""
    payload = f"{_VERSION}.{key_id}.{int(now_s) + lifetime_s}.{secrets.token_urlsafe(12)}"
    return f"{payload}.{_signature(secret_hash, payload)}"


def parse(token: str) -> tuple[str, int, str, str, str] | None:
    """(key_id, expires_s, nonce, payload, signature) of a well-formed token, else None."""
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != _VERSION or not parts[2].isdigit():
        return None
    if len(token) > 200:
        return None
    return parts[1], int(parts[2]), parts[3], ".".join(parts[:4]), parts[4]


class Ended:
    """Nonces of sessions signed out in this process, kept until they would expire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, int] = {}

    def add(self, nonce: str, expires_s: int) -> None:
        with self._lock:
            now = time.time()
            self._until = {n: t for n, t in self._until.items() if t > now}
            self._until[nonce] = expires_s

    def __contains__(self, nonce: str) -> bool:
        with self._lock:
            return nonce in self._until


def verify(
    conn: psycopg.Connection[Any], token: str, now_s: float, ended: Ended
) -> tuple[Principal, int, str] | None:
    """(principal, expires_s, nonce) of a valid session token, else None."""
    parsed = parse(token)
    if parsed is None:
        return None
    key_id, expires_s, nonce, payload, signature = parsed
    if expires_s <= now_s or expires_s > now_s + SESSION_S + 60 or nonce in ended:
        return None
    row = conn.execute(
        "SELECT secret_hash, role, sites FROM api_keys WHERE key_id = %s AND revoked_at IS NULL",
        (key_id,),
    ).fetchone()
    if row is None or not hmac.compare_digest(_signature(row[0], payload), signature):
        return None
    return Principal(key_id, Role(row[1]), frozenset(row[2])), expires_s, nonce


def secret_hash_of(conn: psycopg.Connection[Any], key_id: str) -> str | None:
    row = conn.execute(
        "SELECT secret_hash FROM api_keys WHERE key_id = %s AND revoked_at IS NULL", (key_id,)
    ).fetchone()
    return row[0] if row else None
