"""Pure parts: batch accumulation and closing, inventory cache refresh rules."""

from __future__ import annotations

from hubsense.ingest.batch import Batch, BatchLimits
from hubsense.ingest.decode import (
    DeadLetter,
    Decoded,
    KnownInventory,
    Reason,
    SeqConflict,
    StatusRow,
)
from hubsense.ingest.inventory_cache import InventoryCache

LIMITS = BatchLimits(max_events=10, max_messages=3, max_age_s=0.2)


def alive(node: str, seq: int, ts: int = 1000) -> tuple:
    return (node, seq, ts, "hq", "alive", None, None, None)


def status(ms: int | None, version: str) -> StatusRow:
    return StatusRow("pi-a", "hq", True, version, None, None, "{}", None, None, None, ms)


def test_a_redelivery_across_messages_is_stored_once() -> None:
    batch = Batch()
    batch.add("t", b"1", Decoded(events=[alive("pi-a", 1, 100), alive("pi-a", 2)]), "ack1", 5.0)
    batch.add("t", b"2", Decoded(events=[alive("pi-a", 1, 100), alive("pi-b", 1)]), "ack2", 5.1)
    assert list(batch.events.values()) == [
        alive("pi-a", 1, 100),
        alive("pi-a", 2),
        alive("pi-b", 1),
    ]
    assert batch.received_events == 4 and batch.dead == []
    assert batch.acks == ["ack1", "ack2"]
    assert [raw for _, raw, _ in batch.decoded] == [b"1", b"2"]


def test_a_seq_reused_across_messages_dead_letters_the_later_message_whole() -> None:
    batch = Batch()
    batch.add("t", b"1", Decoded(events=[alive("pi-a", 1, 100), alive("pi-a", 2)]), "ack1", 5.0)
    batch.add("t", b"2", Decoded(events=[alive("pi-b", 1), alive("pi-a", 1, 999)]), "ack2", 5.1)
    # Nothing of the second message is kept, its valid pi-b event included.
    assert list(batch.events.values()) == [alive("pi-a", 1, 100), alive("pi-a", 2)]
    assert batch.received_events == 2 and batch.acks == ["ack1", "ack2"]
    [letter] = batch.dead
    assert (letter.topic, letter.payload, letter.reason) == ("t", b"2", "conflicting_duplicate")
    assert letter.detail == (
        'seq 1: in this batch {"ts":100,"type":"alive"} received {"ts":999,"type":"alive"}'
    )
    assert letter.conflict == SeqConflict("pi-a", "hq", 1)
    assert batch.decoded[1][2].dead == letter


def test_reject_conflicts_dead_letters_messages_and_rebuilds_the_events() -> None:
    batch = Batch()
    batch.add("t", b"1", Decoded(events=[alive("pi-a", 5), alive("pi-a", 6)]), 1, 0.0)
    batch.add("t", b"2", Decoded(events=[alive("pi-a", 6), alive("pi-a", 7)]), 2, 0.0)
    batch.add("t", b"3", Decoded(events=[alive("pi-a", 8)]), 3, 0.0)
    # Stored: seq 5 with another ts (a conflict) and seq 8 as sent (a redelivery).
    rejected = batch.reject_conflicts(
        {("pi-a", 5): alive("pi-a", 5, 1), ("pi-a", 8): alive("pi-a", 8)}
    )
    assert rejected == 1
    # Seq 6 survives through message 2, which holds it too.
    assert sorted(batch.events) == [("pi-a", 6), ("pi-a", 7), ("pi-a", 8)]
    assert batch.received_events == 3
    [letter] = batch.dead
    assert letter.payload == b"1" and letter.conflict == SeqConflict("pi-a", "hq", 5)
    assert letter.detail == (
        'seq 5: stored {"ts":1,"type":"alive"} received {"ts":1000,"type":"alive"}'
    )


def test_a_conflict_detail_names_two_seqs_and_counts_the_rest() -> None:
    batch = Batch()
    batch.add("t", b"1", Decoded(events=[alive("pi-a", s) for s in range(4)]), 1, 0.0)
    batch.reject_conflicts({("pi-a", s): alive("pi-a", s, 7) for s in range(4)})
    [letter] = batch.dead
    assert letter.detail.count("stored") == 2 and letter.detail.endswith(" (and 2 more)")
    assert letter.conflict == SeqConflict("pi-a", "hq", 3)


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
