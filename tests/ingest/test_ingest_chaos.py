"""Exactly once under faults: ingest SIGKILLed, Mosquitto restarted, PostgreSQL restarted,
and two workers splitting a shared subscription. 50,000 events each, real servers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from ingest_helpers import alive_message, events_topic
from support.database import query
from support.ingest_runs import IngestProcess
from support.mqtt_clients import Publisher, forget_session
from support.waiting import wait_for

pytestmark = [pytest.mark.service, pytest.mark.slow]

TOTAL_EVENTS = 50_000
EVENTS_PER_MESSAGE = 10
NODES = ("pi-a", "pi-b", "pi-c")
TS0_MS = 1_764_000_000_000


def stream() -> list[tuple[str, bytes]]:
    """50,000 alive events over three nodes, 10 a message, seqs 0.. per node."""
    messages = []
    per_node = TOTAL_EVENTS // len(NODES) + 1
    counts = {node: 0 for node in NODES}
    produced = 0
    while produced < TOTAL_EVENTS:
        for node in NODES:
            take = min(EVENTS_PER_MESSAGE, TOTAL_EVENTS - produced, per_node - counts[node])
            if take <= 0:
                continue
            seqs = range(counts[node], counts[node] + take)
            messages.append((events_topic(node), alive_message(node, seqs, TS0_MS)))
            counts[node] += take
            produced += take
    return messages


class StreamPublisher:
    """Publishes the whole stream from a thread while the test breaks things."""

    def __init__(self, url: str) -> None:
        self.publisher = Publisher(url, "stream")
        self.messages = stream()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.publisher.publish_many(self.messages, window=200, timeout_s=240)
        except BaseException as error:
            self.error = error

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def join(self) -> None:
        self.thread.join(300)
        self.publisher.close()
        assert self.error is None, self.error
        assert not self.thread.is_alive()


def stored(dsn: str) -> int:
    return int(query(dsn, "SELECT count(*) FROM events")[0][0])


def assert_exactly_once(dsn: str) -> None:
    rows = query(
        dsn,
        "SELECT node_id, count(*), count(DISTINCT seq), min(seq), max(seq),"
        " bool_and((extract(epoch FROM ts) * 1000)::bigint = %s + seq) FROM events"
        " GROUP BY node_id ORDER BY node_id",
        (TS0_MS,),
    )
    expected = {node: 0 for node in NODES}
    for topic, payload in stream():
        expected[topic.split("/")[3]] += len(json.loads(payload)["events"])
    assert sum(expected.values()) == TOTAL_EVENTS
    assert rows == [(node, n, n, 0, n - 1, True) for node, n in sorted(expected.items())]
    assert query(dsn, "SELECT count(*) FROM dead_letters") == [(0,)]


def start_process(dsn: str, url: str, tmp_path: Path, worker: str, group: str) -> IngestProcess:
    process = IngestProcess(
        dsn,
        url,
        worker,
        group,
        tmp_path,
        batch_max_events=2_000,
        batch_max_ms=100,
        receive_maximum=500,
    )
    process.start()
    process.wait_subscribed(30)
    return process


@pytest.mark.chaos
def test_sigkill_mid_stream_then_restart_stores_every_event_once(
    dsn: str, mqtt_broker: Any, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    worker, group = f"kill-{tag}", f"g-{tag}"
    first = start_process(dsn, mqtt_broker.url, tmp_path, worker, group)
    second: IngestProcess | None = None
    publisher = StreamPublisher(mqtt_broker.url)
    try:
        wait_for(lambda: stored(dsn) >= 10_000, 120, "10,000 rows before the kill")
        first.kill()
        assert stored(dsn) < TOTAL_EVENTS and publisher.running, (
            f"kill too late ({publisher.error!r})"
        )
        time.sleep(1.0)  # the broker queues for the dead worker's session meanwhile
        second = start_process(dsn, mqtt_broker.url, tmp_path, worker, group)
        publisher.join()
        wait_for(lambda: stored(dsn) == TOTAL_EVENTS, 120, "all 50,000 rows")
        time.sleep(0.5)  # anything redelivered late must not add a row
        assert second.terminate() == 0
        assert_exactly_once(dsn)
        records = second.log_records()
        assert any(r.get("event") == "mqtt_connected" and r.get("session_present") for r in records)
    finally:
        for process in (first, second):
            if process is not None:
                process.close()
        forget_session(mqtt_broker.url, worker)


@pytest.mark.chaos
def test_broker_restart_mid_stream_stores_every_event_once(
    dsn: str, make_broker: Any, start_ingest: Any
) -> None:
    broker = make_broker()
    ingest = start_ingest(dsn, url=broker.url, batch_max_events=2_000, receive_maximum=500)
    publisher = StreamPublisher(broker.url)
    wait_for(lambda: stored(dsn) >= 10_000, 120, "10,000 rows before the restart")
    assert publisher.running, f"the restart came too late ({publisher.error!r})"
    broker.restart()
    publisher.join()
    wait_for(lambda: stored(dsn) == TOTAL_EVENTS, 120, "all 50,000 rows")
    time.sleep(0.5)
    stats = ingest.close()
    assert_exactly_once(dsn)
    assert stats.events_inserted == TOTAL_EVENTS


@pytest.mark.chaos
def test_database_restart_mid_stream_stores_every_event_once(
    dsn: str, mqtt_broker: Any, pg_server: Any, start_ingest: Any
) -> None:
    ingest = start_ingest(dsn, batch_max_events=2_000, receive_maximum=500)
    publisher = StreamPublisher(mqtt_broker.url)
    try:
        wait_for(lambda: stored(dsn) >= 10_000, 120, "10,000 rows before the restart")
        assert publisher.running, f"the restart came too late ({publisher.error!r})"
        pg_server.stop()
        time.sleep(2.0)  # ingest must hold the messages unacked and retry, not drop them
        pg_server.start()
        publisher.join()
        wait_for(lambda: stored(dsn) == TOTAL_EVENTS, 120, "all 50,000 rows")
    finally:
        if not pg_server.is_running():
            pg_server.start()
    stats = ingest.close()
    assert_exactly_once(dsn)
    assert stats.db_retries >= 1
    assert stats.events_inserted == TOTAL_EVENTS


def test_two_workers_split_the_shared_subscription(
    dsn: str, mqtt_broker: Any, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    group = f"g-{tag}"
    workers = [start_process(dsn, mqtt_broker.url, tmp_path, f"w{i}-{tag}", group) for i in (1, 2)]
    try:
        publisher = StreamPublisher(mqtt_broker.url)
        publisher.join()
        wait_for(lambda: stored(dsn) == TOTAL_EVENTS, 120, "all 50,000 rows")
        time.sleep(0.3)
        assert [worker.terminate() for worker in workers] == [0, 0]
        finals = [
            next(r for r in worker.log_records() if r.get("event") == "ingest_stopped")
            for worker in workers
        ]
        # Split: each took a real share. Nothing doubled: no event was received twice.
        inserted = [final["events_inserted"] for final in finals]
        assert all(n >= TOTAL_EVENTS // 5 for n in inserted), inserted
        assert sum(inserted) == TOTAL_EVENTS
        assert sum(final["events_received"] for final in finals) == TOTAL_EVENTS
        assert sum(final["messages_acked"] for final in finals) == len(stream())
        assert_exactly_once(dsn)
    finally:
        for worker in workers:
            worker.close()
            forget_session(mqtt_broker.url, worker.worker_id)


def test_sigterm_mid_stream_commits_and_acks_before_exit(
    dsn: str, mqtt_broker: Any, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    worker, group = f"term-{tag}", f"g-{tag}"
    first = start_process(dsn, mqtt_broker.url, tmp_path, worker, group)
    second: IngestProcess | None = None
    publisher = StreamPublisher(mqtt_broker.url)
    try:
        wait_for(lambda: stored(dsn) >= 5_000, 120, "5,000 rows before SIGTERM")
        started = time.monotonic()
        assert first.terminate() == 0
        assert time.monotonic() - started < 10
        final = next(r for r in first.log_records() if r.get("event") == "ingest_stopped")
        # Every message it took was committed and acked; the rows are all there.
        assert final["messages_acked"] == final["messages"]
        assert final["events_inserted"] == stored(dsn)
        assert any(r.get("event") == "mqtt_connected" for r in first.log_records())
        second = start_process(dsn, mqtt_broker.url, tmp_path, worker, group)
        publisher.join()
        wait_for(lambda: stored(dsn) == TOTAL_EVENTS, 120, "all 50,000 rows")
        assert second.terminate() == 0
        assert_exactly_once(dsn)
    finally:
        for process in (first, second):
            if process is not None:
                process.close()
        forget_session(mqtt_broker.url, worker)
