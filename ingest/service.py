"""The ingest loop: receive, decode, batch, commit, then ack; backoff when the database is down.

Three threads: paho's network thread (in `mqtt_consumer`), the caller's thread
(collect and decode into a batch), and one writer thread (commit a batch, then
ack its messages). A batch waits for the writer in a queue of one, so decoding
the next batch overlaps the database's work on this one. A message is acked
only after the transaction holding it committed; while the database is down the
writer retries with backoff, the unacked messages fill the broker's in-flight
window (`receive_maximum`) and the broker holds the rest. On stop (SIGTERM) the
current batch is committed and acked before a clean disconnect. Must not parse
payloads (that is `decode`) or speak SQL (that is `copy_writer`).
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hubsense.ingest.batch import Batch, BatchLimits
from hubsense.ingest.copy_writer import BatchWriter, DatabaseDownError, DatabaseRejectedError
from hubsense.ingest.decode import INVENTORY_REASONS, Decoded, decode_message
from hubsense.ingest.inventory_cache import InventoryCache, load_inventory
from hubsense.ingest.mqtt_consumer import ConsumerOptions, Delivery, MqttConsumer
from hubsense.ingest.worker_claim import claim_worker_id

from hubsense import wire
from hubsense.logs import get_logger
from hubsense.mqtt_url import parse_mqtt_url

if TYPE_CHECKING:
    from hubsense.settings import IngestSettings, Settings

log = get_logger(__name__)

INVENTORY_REFRESH_S = 60.0
# A message from an unknown node reloads the inventory at most this often.
INVENTORY_MISS_REFRESH_S = 2.0
STATS_INTERVAL_S = 10.0
BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 5.0
# On stop with the database down, give up after this long: the messages stay unacked
# in the broker session and come back on the next start.
DRAIN_TIMEOUT_S = 30.0
# Group commit: when the writer is idle, a batch this big goes now instead of waiting for
# batch_max_ms. Batches then grow with the load on their own, and the broker's in-flight
# window (its max_inflight_messages may be lower than our receive_maximum) never stalls
# behind one batch waiting for its age limit.
EARLY_FLUSH_MESSAGES = 64
EARLY_FLUSH_EVENTS = 2_000


@dataclass(slots=True)
class IngestStats:
    messages: int = 0
    events_received: int = 0
    events_inserted: int = 0
    dead_letters: int = 0
    statuses: int = 0
    batches: int = 0
    db_retries: int = 0
    messages_acked: int = 0


def client_id(worker_id: str) -> str:
    return f"hubsense-ingest-{worker_id}"


def subscriptions(share_group: str) -> tuple[str, ...]:
    """Shared subscriptions: the broker splits messages between the group's workers."""
    kinds = (wire.TopicKind.EVENTS, wire.TopicKind.STATUS)
    return tuple(f"$share/{share_group}/{wire.subscription(kind)}" for kind in kinds)


def run(
    settings: Settings,
    stop: threading.Event | None = None,
    on_stats: Callable[[IngestStats], None] | None = None,
    *,
    dsn: str,
    mqtt_url: str,
    ready: threading.Event | None = None,
    retire_idle_s: float | None = None,
) -> IngestStats:
    """Run ingest until `stop` is set; returns the final counters.

    `ready` is set once the broker granted the subscriptions (messages published
    after that reach this group); `on_stats` gets a copy of the counters after each commit.
    With `retire_idle_s`, the worker retires its id instead: it unsubscribes (the broker
    assigns it no new share), stores what its session still holds, returns once nothing
    arrived for that long, and ends its session. `dsn` and `mqtt_url` come resolved
    (`hubsense.addresses`, in the CLI): an entry point does not look for servers itself.
    """
    from hubsense.db.connect import primary_dsn

    # Checked here, not in the writer's retry loop: a DSN that may pick a standby is a
    # configuration error to report once, not a database that is down.
    dsn = primary_dsn(dsn)
    url = parse_mqtt_url(mqtt_url)
    options = ConsumerOptions(
        client_id=client_id(settings.ingest.worker_id),
        subscriptions=subscriptions(settings.ingest.share_group),
        receive_maximum=settings.ingest.receive_maximum,
        session_expiry_s=settings.ingest.session_expiry_s,
        username=settings.mqtt.username,
        password=settings.mqtt.password.get_secret_value() if settings.mqtt.password else None,
        ca_file=str(settings.mqtt.ca_file) if settings.mqtt.ca_file else None,
        retire=retire_idle_s is not None,
    )
    consumer = MqttConsumer(url, options)
    if ready is not None:
        consumer.subscribed = ready
    service = IngestService(settings.ingest, BatchWriter(dsn), consumer)
    service.idle_exit_s = retire_idle_s
    return service.run(stop or threading.Event(), on_stats)


class IngestService:
    def __init__(self, config: IngestSettings, writer: BatchWriter, consumer: MqttConsumer) -> None:
        self.config = config
        self.writer = writer
        self.consumer = consumer
        self.stats = IngestStats()
        self.limits = BatchLimits(
            max_events=config.batch_max_events,
            max_messages=max(1, config.receive_maximum // 2),
            max_age_s=config.batch_max_ms / 1000,
        )
        self._inventory_conn: Any = None
        self.inventory = InventoryCache(
            self._load_inventory, INVENTORY_REFRESH_S, INVENTORY_MISS_REFRESH_S
        )
        self._pending: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
        self._writer_busy = False
        # Retiring: leave once nothing arrived for this long and everything is committed.
        self.idle_exit_s: float | None = None
        self._abandon = threading.Event()
        self._drain_deadline_s = float("inf")
        self._on_stats: Callable[[IngestStats], None] | None = None

    def run(
        self, stop: threading.Event, on_stats: Callable[[IngestStats], None] | None
    ) -> IngestStats:
        self._on_stats = on_stats
        if not self._wait_for_database(stop):
            return self.stats
        # Before the broker: a second worker with this id would take our session.
        try:
            claim = claim_worker_id(
                self.writer.dsn, self.config.worker_id, self.consumer.options.client_id
            )
        except Exception:
            self._close_inventory_conn()
            self.writer.close()
            raise
        self.consumer.start()
        writer = threading.Thread(target=self._write_batches, name="ingest-writer", daemon=True)
        writer.start()
        log.info(
            "ingest_started",
            client_id=self.consumer.options.client_id,
            subscriptions=list(self.consumer.options.subscriptions),
            receive_maximum=self.config.receive_maximum,
            batch_max_events=self.config.batch_max_events,
            batch_max_ms=self.config.batch_max_ms,
        )
        try:
            self._collect(stop)
        finally:
            self._drain(writer)
            claim.release()
        self._log_stats("ingest_stopped")
        return self.stats

    # -- caller's thread: collect and decode ---------------------------------------

    def _wait_for_database(self, stop: threading.Event) -> bool:
        """Connect and load the inventory before taking any message (both retried)."""
        delay_s = BACKOFF_MIN_S
        while not stop.is_set():
            try:
                self.writer.connect()
                self.inventory.refresh_if_stale(time.monotonic())
                if self.inventory.loaded_s is not None:
                    return True
            except DatabaseDownError as error:
                log.warning("database_unavailable", error=str(error), retry_in_s=round(delay_s, 2))
            stop.wait(delay_s)
            delay_s = min(delay_s * 2, BACKOFF_MAX_S)
        return False

    def _collect(self, stop: threading.Event) -> None:
        batch = Batch()
        next_stats_s = time.monotonic() + STATS_INTERVAL_S
        last_arrival_s = time.monotonic()
        while not stop.is_set():
            now_s = time.monotonic()
            wait_s = (
                0.1
                if batch.opened_s is None
                else max(0.0, batch.opened_s + self.limits.max_age_s - now_s)
            )
            burst = self.consumer.get(min(wait_s, 0.1))
            if burst:
                last_arrival_s = time.monotonic()
            while burst:
                for delivery in burst:
                    self._add(batch, delivery)
                if batch.is_due(time.monotonic(), self.limits):
                    break
                burst = self.consumer.get(0)
            now_s = time.monotonic()
            if batch.is_due(now_s, self.limits) or self._worth_flushing_early(batch):
                self._hand_over(batch)
                batch = Batch()
            if batch.opened_s is None:
                self.inventory.refresh_if_stale(now_s)
            if now_s >= next_stats_s:
                self._log_stats("ingest_stats")
                next_stats_s = now_s + STATS_INTERVAL_S
            if self._idle_long_enough(batch, now_s - last_arrival_s):
                break
        # Stop: take what already arrived, commit it with the open batch, then leave.
        self._drain_deadline_s = time.monotonic() + DRAIN_TIMEOUT_S
        burst = self.consumer.get(0)
        while burst:
            for delivery in burst:
                self._add(batch, delivery)
            burst = self.consumer.get(0)
        if batch.opened_s is not None:
            self._hand_over(batch)

    def _idle_long_enough(self, batch: Batch, idle_s: float) -> bool:
        if self.idle_exit_s is None or not self.consumer.subscribed.is_set():
            return False
        quiet = batch.opened_s is None and not self._writer_busy and self._pending.empty()
        return bool(quiet and idle_s >= self.idle_exit_s)

    def _worth_flushing_early(self, batch: Batch) -> bool:
        if self._writer_busy or not self._pending.empty():
            return False
        return bool(
            batch.messages >= EARLY_FLUSH_MESSAGES or batch.received_events >= EARLY_FLUSH_EVENTS
        )

    def _add(self, batch: Batch, delivery: Delivery) -> None:
        decoded = self._decode(delivery)
        batch.add(delivery.topic, delivery.payload, decoded, delivery.ack, time.monotonic())
        self.stats.messages += 1
        self.stats.events_received += len(decoded.events)

    def _decode(self, delivery: Delivery) -> Decoded:
        now_ms = time.time_ns() // 1_000_000
        future_ms = self.config.max_future_ms
        decoded = decode_message(
            delivery.topic, delivery.payload, self.inventory.current, now_ms, future_ms
        )
        if (
            decoded.dead is not None
            and decoded.dead.reason in INVENTORY_REASONS
            and self.inventory.refresh_on_miss(time.monotonic())
        ):
            decoded = decode_message(
                delivery.topic, delivery.payload, self.inventory.current, now_ms, future_ms
            )
        return decoded

    def _hand_over(self, batch: Batch | None) -> None:
        # Blocks while the writer is busy with the previous batch: that is the backpressure.
        while not self._abandon.is_set():
            try:
                self._pending.put(batch, timeout=0.5)
                return
            except queue.Full:
                if time.monotonic() > self._drain_deadline_s:
                    self._abandon.set()

    def _drain(self, writer: threading.Thread) -> None:
        self._drain_deadline_s = min(self._drain_deadline_s, time.monotonic() + DRAIN_TIMEOUT_S)
        self._hand_over(None)
        writer.join(max(0.0, self._drain_deadline_s - time.monotonic()))
        if writer.is_alive():
            self._abandon.set()
            writer.join(BACKOFF_MAX_S + 1)
            log.error(
                "ingest_drain_abandoned", note="uncommitted messages stay unacked in the broker"
            )
        self.consumer.close()
        self._close_inventory_conn()
        self.writer.close()

    # -- writer thread ---------------------------------------------------------------

    def _write_batches(self) -> None:
        while True:
            batch = self._pending.get()
            if batch is None:
                return
            self._writer_busy = True
            try:
                if not self._commit(batch):
                    return
            finally:
                self._writer_busy = False
                # The collector may be holding a batch for an idle writer: let it look now.
                self.consumer.wake()

    def _commit(self, batch: Batch) -> bool:
        """Commit (retrying while the database is down), then ack; False when abandoned."""
        started_s = time.monotonic()
        delay_s = BACKOFF_MIN_S
        while True:
            try:
                try:
                    result = self.writer.write(batch)
                except DatabaseRejectedError as error:
                    log.warning("batch_rejected", error=str(error), messages=batch.messages)
                    result = self.writer.write_each(batch)
                break
            except (DatabaseDownError, DatabaseRejectedError) as error:
                self.stats.db_retries += 1
                log.warning(
                    "database_write_failed",
                    error=str(error),
                    retry_in_s=round(delay_s, 2),
                    unacked_messages=batch.messages,
                )
                if self._abandon.wait(delay_s):
                    return False
                delay_s = min(delay_s * 2, BACKOFF_MAX_S)
        self.consumer.ack(batch.acks)
        stats = self.stats
        stats.batches += 1
        stats.events_inserted += result.inserted
        stats.dead_letters += result.dead
        stats.statuses += len(batch.statuses)
        stats.messages_acked += batch.messages
        log.debug(
            "batch_committed",
            events=len(batch.events),
            inserted=result.inserted,
            dead=result.dead,
            messages=batch.messages,
            ms=round((time.monotonic() - started_s) * 1000, 1),
        )
        if self._on_stats is not None:
            self._on_stats(dataclasses.replace(stats))
        return True

    # -- inventory connection (caller's thread) --------------------------------------

    def _load_inventory(self) -> Any:
        from hubsense.db.connect import connect

        if self._inventory_conn is None or self._inventory_conn.closed:
            self._inventory_conn = connect(self.writer.dsn, autocommit=True)
        try:
            return load_inventory(self._inventory_conn)
        except Exception:
            self._close_inventory_conn()
            raise

    def _close_inventory_conn(self) -> None:
        if self._inventory_conn is not None:
            self._inventory_conn.close()
            self._inventory_conn = None

    def _log_stats(self, event: str) -> None:
        log.info(event, **dataclasses.asdict(self.stats), stale_acks=self.consumer.stale_acks)
