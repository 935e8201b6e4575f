"""What ingest knows of the inventory, loaded from the database and kept fresh.

`load_inventory` reads nodes, desks and sensors (I/O, psycopg). `InventoryCache`
decides when to reload: every `refresh_s`, and on a miss (a message naming a
node or desk we do not know) at most once per `miss_refresh_s`, so a newly
applied inventory is picked up without a restart and a flood of messages from
an unknown node cannot hammer the database. The cache takes time as a
parameter and never reads a clock; a failed reload keeps the old inventory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hubsense.ingest.decode import KnownInventory

from hubsense.logs import get_logger

log = get_logger(__name__)

_NODES_SQL = """
SELECT n.id, n.site_id, (n.retired_at IS NOT NULL OR s.retired_at IS NOT NULL) AS retired
FROM nodes AS n JOIN sites AS s ON s.id = n.site_id
"""
_DESKS_SQL = "SELECT id FROM desks WHERE retired_at IS NULL"
_SENSED_SQL = """
SELECT DISTINCT se.node_id, se.desk_id
FROM sensors AS se JOIN desks AS d ON d.id = se.desk_id
WHERE se.retired_at IS NULL AND d.retired_at IS NULL
"""


def load_inventory(conn: Any) -> KnownInventory:
    """Read the active inventory with one psycopg connection (one snapshot)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        nodes = cur.execute(_NODES_SQL).fetchall()
        desks = frozenset(row[0] for row in cur.execute(_DESKS_SQL).fetchall())
        sensed: dict[str, set[str]] = {}
        for node_id, desk_id in cur.execute(_SENSED_SQL).fetchall():
            sensed.setdefault(node_id, set()).add(desk_id)
    return KnownInventory(
        node_site={node: site for node, site, retired in nodes if not retired},
        node_desks={node: frozenset(found) for node, found in sensed.items()},
        desks=desks,
        retired_nodes=frozenset(node for node, _, retired in nodes if retired),
    )


class InventoryCache:
    """Hold the current inventory; reload it on schedule or on a miss, rate-limited."""

    def __init__(
        self, load: Callable[[], KnownInventory], refresh_s: float, miss_refresh_s: float
    ) -> None:
        self._load = load
        self.refresh_s = refresh_s
        self.miss_refresh_s = miss_refresh_s
        self.current = KnownInventory()
        self.loaded_s: float | None = None
        self._last_attempt_s: float | None = None

    def refresh_if_stale(self, now_s: float) -> bool:
        """Reload when `refresh_s` has passed since the last load; True when it changed."""
        if self.loaded_s is not None and now_s - self.loaded_s < self.refresh_s:
            return False
        return self._reload(now_s)

    def refresh_on_miss(self, now_s: float) -> bool:
        """Reload after a miss unless one was tried within `miss_refresh_s`; True when changed."""
        if self._last_attempt_s is not None and now_s - self._last_attempt_s < self.miss_refresh_s:
            return False
        return self._reload(now_s)

    def _reload(self, now_s: float) -> bool:
        self._last_attempt_s = now_s
        try:
            fresh = self._load()
        except Exception as error:
            log.warning("inventory_reload_failed", error=str(error).strip()[:200])
            return False
        self.loaded_s = now_s
        changed = bool(fresh != self.current)
        if changed:
            log.info("inventory_loaded", nodes=len(fresh.node_site), desks=len(fresh.desks))
        self.current = fresh
        return changed
