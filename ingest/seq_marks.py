"""The SQL of seq integrity (docs/wire.md): conflicting duplicates found and marked per node.

Part of ingest's database adapter (`copy_writer` runs these in its batch
transaction). `seq_conflicts` holds one row per node that reused a seq for other
content; the row stays open (`cleared_at` NULL) until the node sends a seq above
the highest conflicting one, so the status and the Fleet board show "seq
conflict" meanwhile. Must not commit, ack or decide what is a dead letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hubsense.ingest.decode import EventRow, SeqConflict

# The staged rows whose (node, seq) is stored with other content. Equal rows (a
# redelivery, or a row this very batch inserted) are not conflicts. ts compares as the
# insert writes it; the stored ts comes back as exact milliseconds (extract is numeric).
FIND_STORED_CONFLICTS = """
SELECT e.node_id, e.seq, round(extract(epoch FROM e.ts) * 1000)::bigint, e.site_id,
       e.type::text, e.desk_id, e.source::text, e.state::text
FROM ingest_staging s
JOIN events e ON e.node_id = s.node_id AND e.seq = s.seq
WHERE (e.ts, e.type::text, e.desk_id, e.source::text, e.state::text)
    IS DISTINCT FROM (to_timestamp(s.ts_ms / 1000.0), s.type, s.desk_id, s.source, s.state)
"""

# A node whose stream has moved past its highest conflicting seq is clear again. The
# EXISTS is a one-time filter: with no open conflict the server never scans staging.
CLEAR_SEQ_CONFLICTS = """
UPDATE seq_conflicts c SET cleared_at = now()
FROM (SELECT node_id, max(seq) AS seq FROM ingest_staging GROUP BY node_id) s
WHERE EXISTS (SELECT 1 FROM seq_conflicts WHERE cleared_at IS NULL)
    AND c.cleared_at IS NULL AND c.node_id = s.node_id AND s.seq > c.last_seq
"""

_NOTE_SEQ_CONFLICT = """
INSERT INTO seq_conflicts (node_id, site_id, last_seq, dead_letters)
VALUES (%s, %s, %s, %s)
ON CONFLICT (node_id) DO UPDATE SET
    site_id = EXCLUDED.site_id,
    first_at = CASE WHEN seq_conflicts.cleared_at IS NULL
                    THEN seq_conflicts.first_at ELSE now() END,
    last_at = now(),
    last_seq = CASE WHEN seq_conflicts.cleared_at IS NULL
                    THEN greatest(seq_conflicts.last_seq, EXCLUDED.last_seq)
                    ELSE EXCLUDED.last_seq END,
    dead_letters = seq_conflicts.dead_letters + EXCLUDED.dead_letters,
    cleared_at = NULL
"""


class StoredConflictsError(Exception):
    """Staged events reuse stored (node, seq) keys for other content; roll back and redo."""

    def __init__(self, stored: dict[tuple[str, int], EventRow]) -> None:
        super().__init__(f"{len(stored)} conflicting (node, seq)")
        self.stored = stored


def stored_rows(found: Sequence[Sequence[Any]]) -> dict[tuple[str, int], EventRow]:
    """FIND_STORED_CONFLICTS rows as event rows keyed by (node, seq)."""
    rows: dict[tuple[str, int], EventRow] = {}
    for node, seq, ts_ms, site, kind, desk, source, state in found:
        rows.setdefault(
            (node, int(seq)), (node, int(seq), int(ts_ms), site, kind, desk, source, state)
        )
    return rows


def note_seq_conflicts(conn: Any, conflicts: list[SeqConflict]) -> None:
    """Open (or extend) each node's conflict mark, one row per node."""
    if not conflicts:
        return
    per_node: dict[str, tuple[str, int, int]] = {}
    for conflict in conflicts:
        site, seq, count = per_node.get(conflict.node_id, (conflict.site_id, conflict.seq, 0))
        per_node[conflict.node_id] = (site, max(seq, conflict.seq), count + 1)
    params = [(node, site, seq, count) for node, (site, seq, count) in sorted(per_node.items())]
    with conn.cursor() as cur:
        cur.executemany(_NOTE_SEQ_CONFLICT, params)
