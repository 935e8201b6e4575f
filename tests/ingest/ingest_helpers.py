"""Fixtures for the ingest tests: an inventory in a fresh database, real paho publishers,
ingest in a thread or as a `hubsense ingest run` process."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from support.database import insert_node
from support.ingest_runs import IngestThread, ingest_settings
from support.mqtt_clients import Publisher, forget_session

SITE = "hq"
OTHER_SITE = "hub-1"
# node -> desks it senses
NODES = {"pi-a": ["d-1", "d-2"], "pi-b": ["d-3"], "pi-c": []}
OTHER_NODES = {"pi-h": ["h-1"]}


def events_topic(node: str, site: str = SITE) -> str:
    return f"hubsense/v1/{site}/{node}/events"


def alive_message(node: str, seqs: range | list[int], ts0_ms: int = 1_764_000_000_000) -> bytes:
    events = [{"seq": seq, "ts": ts0_ms + seq, "type": "alive"} for seq in seqs]
    return json.dumps({"node": node, "events": events}, separators=(",", ":")).encode()


def desk_message(
    node: str, seq: int, desk: str, state: str, ts_ms: int, source: str = "pir"
) -> bytes:
    event = {
        "seq": seq,
        "ts": ts_ms,
        "type": "desk",
        "desk": desk,
        "source": source,
        "state": state,
    }
    return json.dumps({"node": node, "events": [event]}).encode()


def _insert_inventory(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for site, nodes in ((SITE, NODES), (OTHER_SITE, OTHER_NODES)):
            conn.execute(
                "INSERT INTO sites (id, name, kind, timezone)"
                " VALUES (%s, %s, 'office', 'Europe/Stockholm')",
                (site, site.upper()),
            )
            for node, desks in nodes.items():
                insert_node(conn, site, node, dict.fromkeys(desks))


@pytest.fixture(scope="module")
def inventory_dsn(db_dsn: str) -> str:
    _insert_inventory(db_dsn)
    return db_dsn


@pytest.fixture
def dsn(inventory_dsn: str) -> str:
    """The module's database with its inventory and no events, dead letters or statuses."""
    with psycopg.connect(inventory_dsn, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE events, coverage, coverage_heads, dead_letters, node_status, seq_conflicts"
        )
    return inventory_dsn


@pytest.fixture
def publisher(mqtt_broker: Any) -> Iterator[Publisher]:
    pub = Publisher(mqtt_broker.url)
    yield pub
    pub.close()


@pytest.fixture
def start_ingest(mqtt_broker: Any) -> Iterator[Callable[..., IngestThread]]:
    started: list[IngestThread] = []

    def factory(dsn: str, url: str | None = None, **ingest: Any) -> IngestThread:
        runner = IngestThread(ingest_settings(**ingest), dsn, url or mqtt_broker.url)
        started.append(runner)
        runner.wait_ready(20)
        return runner

    yield factory
    for runner in started:
        if runner.thread.is_alive():
            runner.close()
        forget_session(runner.url, runner.settings.ingest.worker_id)
