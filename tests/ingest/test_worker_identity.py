"""Two ingest workers never share a broker identity: a second worker with a running
worker's id stops with one line instead of taking its session over and over."""

from __future__ import annotations

import threading

import pytest
from hubsense.ingest.service import client_id, run
from ingest_helpers import alive_message, events_topic
from support.database import query
from support.waiting import wait_for

from hubsense.errors import ConfigError

pytestmark = pytest.mark.service


def count(dsn: str) -> int:
    return int(query(dsn, "SELECT count(*) FROM events")[0][0])


def test_a_second_worker_with_a_running_workers_id_is_refused(
    dsn, publisher, start_ingest, mqtt_broker
) -> None:
    first = start_ingest(dsn)
    worker_id = first.settings.ingest.worker_id
    # The same settings: a second `hubsense ingest run --worker-id` with that id.
    stop, errors = threading.Event(), []

    def second_worker() -> None:
        try:
            run(first.settings, stop, dsn=dsn, mqtt_url=mqtt_broker.url)
        except ConfigError as error:
            errors.append(error)

    second = threading.Thread(target=second_worker, daemon=True)
    second.start()
    second.join(15)
    if second.is_alive():  # it started: stop it, then fail
        stop.set()
        second.join(60)
        pytest.fail("a second worker with a running worker's id was not refused")
    assert len(errors) == 1
    message = str(errors[0])
    assert worker_id in message and client_id(worker_id) in message and "--worker-id" in message
    assert "\n" not in message
    # The first worker kept its session (the broker never closed it for a newcomer with
    # its client id) and still stores.
    takeover = f"Client {client_id(worker_id)} already connected, closing old connection"
    assert takeover not in mqtt_broker.log_file.read_text()
    topic = events_topic("pi-a")
    publisher.publish_many([(topic, alive_message("pi-a", [seq])) for seq in range(50)])
    wait_for(lambda: count(dsn) == 50, what="50 rows from the first worker")
    stats = first.close()
    assert stats.messages_acked == 50


def test_a_stopped_workers_id_can_be_taken_again(dsn, start_ingest, mqtt_broker) -> None:
    first = start_ingest(dsn)
    settings = first.settings
    first.close()
    # Retiring the stopped worker's id claims it like a worker does: now free.
    stats = run(settings, dsn=dsn, mqtt_url=mqtt_broker.url, retire_idle_s=0.5)
    assert stats.messages == 0
