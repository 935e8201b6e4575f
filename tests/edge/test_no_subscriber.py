"""No event is lost while nobody is subscribed (Mosquitto 2.0.11 after a restart).

Mosquitto 2.0.11 restores plain subscriptions of persistent sessions after a
restart but not shared ones, so until ingest resubscribes to
`$share/hubsense-ingest/…` the broker drops events and answers PUBACK 0x10 "No
matching subscribers". The agent must keep such events in its outbox and send
them again once ingest is back. A broker of its own: other tests' persistent
subscribers on the shared broker would match and hide the 0x10.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from edge_helpers import load_inventory, node_config, start_ingest
from hubsense.edge.embed import AgentThread
from support.database import query
from support.waiting import wait_for

pytestmark = pytest.mark.service


def test_events_published_with_no_subscriber_stay_queued_until_ingest_is_back(
    tmp_path: Path, make_broker: Any, db_dsn: str
) -> None:
    broker = make_broker()
    config = node_config(tmp_path, broker.url, "pi-ns1", pins=2)
    load_inventory(db_dsn, config)
    agent = AgentThread(config).start()
    ingest = None
    try:
        # Start-up: 2 desk states + alive, each answered 0x10 and kept.
        wait_for(lambda: agent.agent.outbox.depth >= 3, what="start events queued")
        time.sleep(1.0)
        assert agent.agent.outbox.depth >= 3, "events acknowledged with 0x10 were dropped"
        ingest = start_ingest(db_dsn, broker.url, "ns-worker")
        wait_for(lambda: agent.agent.outbox.depth == 0, timeout_s=30, what="outbox drained")
    finally:
        agent.stop()
        if ingest is not None:
            wait_for(
                lambda: query(
                    db_dsn, "SELECT 1 FROM events WHERE node_id = 'pi-ns1' AND type = 'stop'"
                ),
                what="stop event stored",
            )
            ingest.close()
    rows = query(db_dsn, "SELECT seq, type::text FROM events WHERE node_id = 'pi-ns1' ORDER BY seq")
    seqs = [seq for seq, _ in rows]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a gap: an event was lost"
    kinds = [kind for _, kind in rows]
    assert kinds[:3].count("desk") == 2 and "alive" in kinds[:3]
    assert kinds[-1] == "stop"
