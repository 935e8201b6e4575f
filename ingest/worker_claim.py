"""One running worker per worker id: a PostgreSQL advisory lock held for the worker's life.

A worker's MQTT client id is `hubsense-ingest-WORKER` (stable, so a restarted worker
resumes its broker session and what it still holds). Two workers started with one id
would take that session from each other over and over, each reconnect throwing the
other off. Every worker writes to the same database, so the claim lives there: a
session-level advisory lock on its own connection, taken before the worker connects
to the broker; a second worker with the id stops with one line instead. The lock goes
with the connection: a worker that dies (even SIGKILL) frees its id. The check is made
at start only; after a database failover the lock is not taken again.
"""

from __future__ import annotations

from typing import Any

from hubsense.db.connect import connect, redact_dsn
from hubsense.errors import ConfigError
from hubsense.logs import get_logger

log = get_logger(__name__)

# The first key of the two-key advisory lock form: hubsense ingest's worker ids. Other
# advisory locks in hubsense take one bigint key, a separate key space in PostgreSQL
# (pg_locks.objsubid 1, ours 2). The second key is hashtext(worker id): two ids of one
# fleet share it with a chance of about 1 in 4 billion a pair (then one is refused).
LOCK_NAMESPACE = 0x48534957  # "HSIW"


class WorkerClaim:
    """The claim on one worker id; `release()` (or closing the process) gives it back."""

    def __init__(self, conn: Any, worker_id: str) -> None:
        self._conn = conn
        self.worker_id = worker_id

    def release(self) -> None:
        try:
            self._conn.close()
        except Exception as error:  # the database may be gone; the lock went with it
            log.warning("worker_claim_close_failed", error=str(error))


def claim_worker_id(dsn: str, worker_id: str, client_id: str) -> WorkerClaim:
    """Claim `worker_id`, or raise ConfigError when a running worker holds it."""
    conn = connect(dsn, autocommit=True)
    row = conn.execute(
        "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_NAMESPACE, worker_id)
    ).fetchone()
    if not row or not row[0]:
        conn.close()
        raise ConfigError(
            f"ingest worker id {worker_id!r} is in use by a running worker on "
            f"{redact_dsn(dsn)} (broker client id {client_id}); two workers with one id "
            "take the broker session from each other: give this one its own --worker-id"
        )
    log.info("worker_id_claimed", worker_id=worker_id)
    return WorkerClaim(conn, worker_id)
