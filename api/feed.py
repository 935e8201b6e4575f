"""The hub page's live feed: one poller per watched site, fanned out to every open page.

A site's desks-now are read once per `poll_s` however many pages watch it, and only
while at least one does; a page gets the latest snapshot at once and then each
change. Today's co-presence is recomputed when a desk changes, else every
`TODAY_REFRESH_S`. Must not know about HTTP (the hub routes format the events).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hubsense.api.occupancy import DeskNow, read_desks_now
from hubsense.api.today import Today, read_today

from hubsense.clock import Clock, wall_clock
from hubsense.logs import get_logger

log = get_logger(__name__)

TODAY_REFRESH_S = 30.0


@dataclass(frozen=True)
class HubSnapshot:
    site: str
    name: str
    timezone: str
    at: dt.datetime
    desks: list[DeskNow]
    today: Today

    def signature(self) -> tuple[Any, ...]:
        """What a page shows (not the time of the reading): equal means nothing changed."""
        return (
            self.name,
            tuple((d.desk, d.status, d.walk_in, d.booking_id) for d in self.desks),
            self.today,
        )


class SnapshotReader:
    """Reads snapshots from the pool, caching today's summary per site."""

    def __init__(self, pool: Any, clock: Clock = wall_clock) -> None:
        self.pool = pool
        self.clock = clock
        self._today: dict[str, tuple[float, tuple[Any, ...], Today]] = {}

    def __call__(self, site: str) -> HubSnapshot | None:
        now = self.clock()
        with self.pool.connection() as conn:
            row = conn.execute("SELECT name, timezone FROM sites WHERE id = %s", (site,)).fetchone()
            if row is None:
                return None
            desks = read_desks_now(conn, site, now)
            states = tuple((d.desk, d.status) for d in desks)
            cached = self._today.get(site)
            # Past local midnight the cache is at most TODAY_REFRESH_S stale.
            if (
                cached is not None
                and cached[1] == states
                and time.monotonic() - cached[0] < TODAY_REFRESH_S
            ):
                today = cached[2]
            else:
                found = read_today(conn, site, now)
                assert found is not None
                today = found
                self._today[site] = (time.monotonic(), states, today)
        return HubSnapshot(site, row[0], row[1], now, desks, today)


@dataclass
class _Channel:
    subscribers: set[asyncio.Queue[HubSnapshot]] = field(default_factory=set)
    latest: HubSnapshot | None = None
    task: asyncio.Task[None] | None = None


class Subscription:
    def __init__(self, feed: HubFeed, site: str, queue: asyncio.Queue[HubSnapshot]) -> None:
        self._feed, self._site, self.queue = feed, site, queue

    async def next(self, timeout_s: float) -> HubSnapshot | None:
        """The next changed snapshot, or None after `timeout_s` without a change."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout_s)
        except TimeoutError:
            return None

    def close(self) -> None:
        self._feed._leave(self._site, self.queue)


class HubFeed:
    def __init__(self, read: Callable[[str], HubSnapshot | None], poll_s: float) -> None:
        self.read = read
        self.poll_s = poll_s
        self._channels: dict[str, _Channel] = {}

    def join(self, site: str) -> Subscription:
        channel = self._channels.setdefault(site, _Channel())
        queue: asyncio.Queue[HubSnapshot] = asyncio.Queue(maxsize=1)
        channel.subscribers.add(queue)
        if channel.latest is not None:
            queue.put_nowait(channel.latest)
        if channel.task is None or channel.task.done():
            channel.task = asyncio.create_task(self._poll(site, channel))
        return Subscription(self, site, queue)

    def _leave(self, site: str, queue: asyncio.Queue[HubSnapshot]) -> None:
        channel = self._channels.get(site)
        if channel is not None:
            channel.subscribers.discard(queue)

    async def _poll(self, site: str, channel: _Channel) -> None:
        from starlette.concurrency import run_in_threadpool

        while channel.subscribers:
            try:
                snapshot = await run_in_threadpool(self.read, site)
            except Exception as error:
                log.warning("hub_feed_read_failed", site=site, error=str(error))
                snapshot = None
            if snapshot is not None and (
                channel.latest is None or snapshot.signature() != channel.latest.signature()
            ):
                channel.latest = snapshot
                for queue in list(channel.subscribers):
                    _replace(queue, snapshot)
            await asyncio.sleep(self.poll_s)
        # Nobody watches: forget the snapshot so a later page never starts from a stale one.
        channel.latest = None

    async def close(self) -> None:
        for channel in self._channels.values():
            channel.subscribers.clear()
            if channel.task is not None:
                channel.task.cancel()


def _replace(queue: asyncio.Queue[HubSnapshot], snapshot: HubSnapshot) -> None:
    """Keep only the newest snapshot for a slow page."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(snapshot)
