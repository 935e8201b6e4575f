"""Raw heartbeats age out: delete `alive` rows older than `retention.raw_alive_days`.

Coverage (migration 0010) stands for them once committed, and ingest commits it in the
transaction of the alives, so every stored alive already has its coverage. Desk events
and stops are never removed here; coverage and rollups stay. The delete goes in batches
(each its own short transaction) so it never holds long locks or bloats one transaction,
on plain PostgreSQL and on a TimescaleDB hypertable alike (a chunk retention policy would
drop desk events too). Must not compute metrics.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hubsense.logs import get_logger

log = get_logger(__name__)

# Rows a transaction: small enough for short locks, large enough that a day of a
# 10,000-desk region (~1.4 M alives) goes in a few dozen round trips.
BATCH_ROWS = 50_000

# ctid picks the batch without an index on (type, ts); the plain and the hypertable shape
# both have events_site_ts for the range.
_DELETE_BATCH = """
DELETE FROM events WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM events WHERE type = 'alive' AND ts < %(cutoff)s LIMIT %(rows)s))
"""


def age_out_alives(conn: Any, now: dt.datetime, raw_alive_days: int) -> int:
    """Delete alive rows older than `raw_alive_days` before `now`; returns rows deleted.

    `conn` must be in autocommit mode: every batch commits on its own.
    """
    cutoff = now - dt.timedelta(days=raw_alive_days)
    deleted = 0
    while True:
        with conn.transaction():
            cur = conn.execute(_DELETE_BATCH, {"cutoff": cutoff, "rows": BATCH_ROWS})
            count = int(cur.rowcount)
        deleted += count
        if count < BATCH_ROWS:
            break
    if deleted:
        log.info("raw_alives_aged_out", rows=deleted, before=cutoff.isoformat())
    return deleted
