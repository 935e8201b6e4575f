"""The columnar inputs of the analytics: inventory layout, events and bookings as numpy arrays.

Both the file path and the database path fill these, so the kernels see one shape.
Desks are numbered site by site in inventory order (a site's desks are a contiguous
range), nodes likewise; -1 means "none" (a desk no sensor names has no node).

Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hubsense.inventory.model import Inventory, Site

_MS_PER_S = 1000


@dataclass(frozen=True)
class Layout:
    """Index numbers of the inventory's sites, desks and nodes, and their relations as arrays."""

    sites: list[Site]
    desk_ids: list[str]
    node_ids: list[str]
    desk_index: dict[str, int]
    node_index: dict[str, int]
    site_index: dict[str, int]
    desk_site: npt.NDArray[np.int32]
    desk_node: npt.NDArray[np.int32]
    node_site: npt.NDArray[np.int32]
    node_heartbeat_ms: npt.NDArray[np.int64]
    site_desk_off: npt.NDArray[np.int64]

    @classmethod
    def from_inventory(cls, inventory: Inventory) -> Layout:
        return cls.from_sites(list(inventory.sites), inventory.node_of_desk)

    @classmethod
    def from_sites(cls, sites: list[Site], node_of_desk: dict[str, str]) -> Layout:
        """Sites (their desks and nodes) and the one node whose sensor names each desk."""
        desk_ids = [desk.id for site in sites for desk in site.desks]
        nodes = [node for site in sites for node in site.nodes]
        node_index = {node.id: i for i, node in enumerate(nodes)}
        desk_site = [s for s, site in enumerate(sites) for _ in site.desks]
        sizes = [len(site.desks) for site in sites]
        return cls(
            sites=sites,
            desk_ids=desk_ids,
            node_ids=[node.id for node in nodes],
            desk_index={desk: i for i, desk in enumerate(desk_ids)},
            node_index=node_index,
            site_index={site.id: s for s, site in enumerate(sites)},
            desk_site=np.asarray(desk_site, dtype=np.int32),
            desk_node=np.asarray(
                [node_index.get(node_of_desk.get(desk, ""), -1) for desk in desk_ids],
                dtype=np.int32,
            ),
            node_site=np.asarray(
                [s for s, site in enumerate(sites) for _ in site.nodes], dtype=np.int32
            ),
            node_heartbeat_ms=np.asarray(
                [node.heartbeat_s * _MS_PER_S for node in nodes], dtype=np.int64
            ),
            site_desk_off=np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64),
        )


@dataclass(frozen=True)
class EventArrays:
    """Wire events as columns: kind 0 desk, 1 alive, 2 stop; state 1 occupied, 0 vacant,
    2 unknown (`kernels.intervals.STATE_*`)."""

    node: npt.NDArray[np.int32]
    seq: npt.NDArray[np.int64]
    ts: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int8]
    desk: npt.NDArray[np.int32]
    state: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def columns(
        self,
    ) -> tuple[
        npt.NDArray[Any],
        npt.NDArray[Any],
        npt.NDArray[Any],
        npt.NDArray[Any],
        npt.NDArray[Any],
        npt.NDArray[Any],
    ]:
        """(kind, desk, node, ts, seq, state): the order in which the kernels take them."""
        return self.kind, self.desk, self.node, self.ts, self.seq, self.state


@dataclass(frozen=True)
class BookingArrays:
    """Bookings as columns, in input order; ids and sites stay beside them for the outputs."""

    booking_id: list[str]
    desk: npt.NDArray[np.int32]
    start_ms: npt.NDArray[np.int64]
    end_ms: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.desk.shape[0])


def empty_bookings() -> BookingArrays:
    return BookingArrays([], np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64))
