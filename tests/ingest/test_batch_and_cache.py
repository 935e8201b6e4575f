"""Pure parts: batch accumulation and closing, inventory cache refresh rules."""

from __future__ import annotations

from hubsense.ingest.batch import Batch, BatchLimits
from hubsense.ingest.decode import DeadLetter, Decoded, KnownInventory, Reason, StatusRow
from hubsense.ingest.inventory_cache import InventoryCache

LIMITS = BatchLimits(max_events=10, max_messages=3, max_age_s=0.2)


def alive(node: str, seq: int, ts: int = 1000) -> tuple:
    return (node, seq, ts, "hq", "alive", None, None, None)


def status(ms: int | None, version: str) -> StatusRow:
    return StatusRow("pi-a", "hq", True, version, None, None, "{}", None, None, None, ms)


def test_events_dedupe_across_messages_first_one_wins() -> None:
    batch = Batch()
    batch.add("t", b"1", Decoded(events=[alive("pi-a", 1, 100), alive("pi-a", 2)]), "ack1", 5.0)
    batch.add("t", b"2", Decoded(events=[alive("pi-a", 1, 999), alive("pi-b", 1)]), "ack2", 5.1)
    assert list(batch.events.values()) == [
        alive("pi-a", 1, 100),
        alive("pi-a", 2),
        alive("pi-b", 1),
    ]
    assert batch.received_events == 4
    assert batch.acks == ["ack1", "ack2"]
    assert [raw for _, raw, _ in batch.decoded] == [b"1", b"2"]


def test_newest_status_wins_and_a_last_will_always_wins() -> None:
    batch = Batch()
    batch.add("s", b"", Decoded(status=status(2000, "new")), 1, 0.0)
    batch.add("s", b"", Decoded(status=status(1000, "old")), 2, 0.0)
    assert batch.statuses["pi-a"].version == "new"
    batch.add("s", b"", Decoded(status=status(None, "will")), 3, 0.0)
    assert batch.statuses["pi-a"].version == "will"
    assert batch.received_events == 0 and batch.messages == 3


def test_dead_letters_are_kept_in_order() -> None:
    batch = Batch()
    first = DeadLetter("a", b"x", Reason.INVALID_JSON, "d1")
    second = DeadLetter("b", b"y", Reason.TOO_LARGE, "d2")
    batch.add("a", b"x", Decoded(dead=first), 1, 0.0)
    batch.add("b", b"y", Decoded(dead=second), 2, 0.0)
    assert batch.dead == [first, second] and batch.events == {}


def test_batch_is_due_by_events_messages_or_age() -> None:
    empty = Batch()
    assert not empty.is_due(100.0, LIMITS)
    by_age = Batch()
    by_age.add("t", b"", Decoded(events=[alive("pi-a", 1)]), 1, 10.0)
    assert not by_age.is_due(10.19, LIMITS)
    assert by_age.is_due(10.25, LIMITS)
    by_events = Batch()
    by_events.add("t", b"", Decoded(events=[alive("pi-a", s) for s in range(10)]), 1, 10.0)
    assert by_events.is_due(10.0, LIMITS)
    by_messages = Batch()
    for mid in range(3):
        by_messages.add("t", b"", Decoded(events=[alive("pi-a", mid)]), mid, 10.0)
    assert by_messages.is_due(10.0, LIMITS)


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.nodes: dict[str, str] = {"pi-a": "hq"}

    def __call__(self) -> KnownInventory:
        self.calls += 1
        if self.fail:
            raise OSError("database away")
        return KnownInventory(node_site=dict(self.nodes))


def test_cache_refreshes_when_stale_and_on_miss_at_most_once_per_interval() -> None:
    loader = Loader()
    cache = InventoryCache(loader, refresh_s=60, miss_refresh_s=2)
    assert cache.refresh_if_stale(0.0) is True and loader.calls == 1
    assert cache.refresh_if_stale(59.9) is False and loader.calls == 1
    loader.nodes["pi-new"] = "hq"
    assert cache.refresh_on_miss(1.0) is False and loader.calls == 1  # rate-limited
    assert cache.refresh_on_miss(2.0) is True and loader.calls == 2
    assert cache.current.node_site == {"pi-a": "hq", "pi-new": "hq"}
    assert cache.refresh_on_miss(3.0) is False and loader.calls == 2
    assert cache.refresh_on_miss(4.0) is False and loader.calls == 3  # loaded, unchanged
    assert cache.refresh_if_stale(64.0) is False and loader.calls == 4


def test_failed_reload_keeps_the_old_inventory() -> None:
    loader = Loader()
    cache = InventoryCache(loader, refresh_s=60, miss_refresh_s=2)
    cache.refresh_if_stale(0.0)
    loader.fail = True
    assert cache.refresh_if_stale(100.0) is False
    assert cache.current.node_site == {"pi-a": "hq"}
    assert cache.loaded_s == 0.0
