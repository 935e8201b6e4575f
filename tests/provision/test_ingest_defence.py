"""Defence in depth: ingest, logged in as its own broker user over TLS, still dead-letters what
the broker must let through (a node's own topic carrying another node's or desk's data)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hubsense.ingest.service import IngestStats, run
from hubsense.provision.acl import INGEST_USER
from provision_helpers import SecuredBroker, start_secured_broker
from support.waiting import wait_for

from hubsense.db.inventory_sync import apply_inventory
from hubsense.settings import IngestSettings, MqttSettings, Settings

pytestmark = pytest.mark.service

TS_MS = 1_764_000_000_000


@pytest.fixture(scope="module")
def secured(services_basetemp: Path) -> Iterator[SecuredBroker]:
    broker = start_secured_broker(services_basetemp, ["pi-a", "pi-b"])
    yield broker
    broker.stop()


def _events(node: str, *events: dict[str, object]) -> bytes:
    return json.dumps({"node": node, "events": list(events)}).encode()


def test_ingest_dead_letters_what_the_acl_allows_but_the_inventory_does_not(
    secured: SecuredBroker, db_dsn: str
) -> None:
    apply_inventory(db_dsn, secured.inventory)
    login = secured.login(INGEST_USER)
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        mqtt=MqttSettings(
            username=login.username, password=login.password, ca_file=secured.ca_file
        ),
        ingest=IngestSettings(worker_id=f"w-{tag}", share_group=f"g-{tag}", batch_max_ms=50),
    )
    stop, ready = threading.Event(), threading.Event()
    latest: list[IngestStats] = []
    result: list[IngestStats] = []
    thread = threading.Thread(
        target=lambda: result.append(
            run(
                settings,
                stop,
                latest.append,
                dsn=db_dsn,
                mqtt_url=f"mqtts://127.0.0.1:{secured.tls_port}",
                ready=ready,
            )
        ),
        daemon=True,
    )
    thread.start()
    try:
        assert ready.wait(20), "ingest did not subscribe with its broker credentials"
        topic = "hubsense/v1/hq/pi-b/events"  # pi-b's own topic: the ACL lets pi-b write it
        messages = [
            _events("pi-b", {"seq": 1, "ts": TS_MS, "type": "alive"}),
            _events("pi-a", {"seq": 2, "ts": TS_MS, "type": "alive"}),
            _events(
                "pi-b",
                {
                    "seq": 3,
                    "ts": TS_MS,
                    "type": "desk",
                    "desk": "hq-1",
                    "source": "pir",
                    "state": "occupied",
                },
            ),
            _events(
                "pi-b",
                {
                    "seq": 4,
                    "ts": TS_MS,
                    "type": "desk",
                    "desk": "hq-3",
                    "source": "pir",
                    "state": "occupied",
                },
            ),
        ]
        node = secured.probe("pi-b")
        for payload in messages:
            assert node.publish(topic, payload) == (0, "Success")
        node.close()
        wait_for(lambda: latest and latest[-1].messages_acked == 4, 20.0, "4 messages acked")
    finally:
        stop.set()
        thread.join(30)
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT node_id, seq, type::text, desk_id FROM events ORDER BY seq"
        ).fetchall()
        dead = conn.execute(
            "SELECT topic, payload, reason FROM dead_letters ORDER BY id"
        ).fetchall()
    assert rows == [("pi-b", 1, "alive", None), ("pi-b", 4, "desk", "hq-3")]
    assert [(t, bytes(p), r) for t, p, r in dead] == [
        (topic, messages[1], "node_mismatch"),
        (topic, messages[2], "desk_not_on_node"),
    ]
    assert result and result[0].dead_letters == 2
