"""Ingest end to end: real Mosquitto, real PostgreSQL, real paho clients."""

from __future__ import annotations

import datetime as dt
import json
import time

import psycopg
import pytest
from hubsense.ingest.decode import MAX_DEAD_PAYLOAD_BYTES
from ingest_helpers import SITE, alive_message, desk_message, events_topic
from support.database import query
from support.mqtt_clients import release_sockets
from support.waiting import wait_for

pytestmark = pytest.mark.service

UTC = dt.UTC


def ms(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1000, tz=UTC)


def count(dsn: str, sql: str = "SELECT count(*) FROM events") -> int:
    return int(query(dsn, sql)[0][0])


def test_published_events_become_rows_with_exact_values(dsn, publisher, start_ingest) -> None:
    ingest = start_ingest(dsn)
    now_ms = int(time.time() * 1000)
    payload = json.dumps(
        {
            "node": "pi-a",
            "events": [
                {"seq": 41, "ts": now_ms - 5000, "type": "alive"},
                {
                    "seq": 42,
                    "ts": now_ms - 4321,
                    "type": "desk",
                    "desk": "d-2",
                    "source": "ble",
                    "state": "occupied",
                },
                {
                    "seq": 43,
                    "ts": now_ms - 1,
                    "type": "desk",
                    "desk": "d-1",
                    "source": "fused",
                    "state": "vacant",
                },
                {"seq": 44, "ts": now_ms, "type": "stop"},
            ],
        }
    ).encode()
    publisher.publish(events_topic("pi-a"), payload)
    wait_for(lambda: count(dsn) == 4, what="4 rows")
    rows = query(
        dsn,
        "SELECT node_id, seq, ts, site_id, type::text, desk_id, source::text, state::text,"
        " (extract(epoch FROM ts) * 1000)::bigint FROM events ORDER BY seq",
    )
    assert rows == [
        ("pi-a", 41, ms(now_ms - 5000), SITE, "alive", None, None, None, now_ms - 5000),
        ("pi-a", 42, ms(now_ms - 4321), SITE, "desk", "d-2", "ble", "occupied", now_ms - 4321),
        ("pi-a", 43, ms(now_ms - 1), SITE, "desk", "d-1", "fused", "vacant", now_ms - 1),
        ("pi-a", 44, ms(now_ms), SITE, "stop", None, None, None, now_ms),
    ]
    stats = ingest.close()
    assert (stats.messages, stats.events_received, stats.events_inserted) == (1, 4, 4)
    assert stats.dead_letters == 0 and stats.messages_acked == 1


def test_batch_message_with_many_events(dsn, publisher, start_ingest) -> None:
    ingest = start_ingest(dsn)
    # 5,000 events in one message (~250 KiB is the size limit; this is ~230 KiB).
    payload = alive_message("pi-b", range(5_000))
    assert len(payload) < 256 * 1024
    publisher.publish(events_topic("pi-b"), payload)
    wait_for(lambda: count(dsn) == 5_000, what="5000 rows")
    first, last, distinct = query(
        dsn, "SELECT min(seq), max(seq), count(DISTINCT seq) FROM events WHERE node_id = 'pi-b'"
    )[0]
    assert (first, last, distinct) == (0, 4_999, 5_000)
    assert query(dsn, "SELECT ts FROM events WHERE seq = 1234")[0][0] == ms(
        1_764_000_000_000 + 1234
    )
    stats = ingest.close()
    assert (stats.messages, stats.events_inserted) == (1, 5_000)


def test_duplicates_and_redeliveries_are_stored_once(dsn, publisher, start_ingest) -> None:
    ingest = start_ingest(dsn, batch_max_ms=2_000)
    topic = events_topic("pi-a")
    # The same message three times in one batch, an overlapping message, and one event
    # twice inside one message.
    publisher.publish_many(
        [
            (topic, alive_message("pi-a", range(0, 10))),
            (topic, alive_message("pi-a", range(0, 10))),
            (topic, alive_message("pi-a", range(5, 15))),
            (topic, alive_message("pi-a", [15, 15, 16])),
            (topic, alive_message("pi-a", range(0, 10))),
        ]
    )
    wait_for(lambda: ingest.latest and ingest.latest.messages_acked == 5, what="5 acked")
    # A redelivery after the batch committed (the broker resending an unacked message).
    publisher.publish(topic, alive_message("pi-a", range(10, 17)))
    wait_for(lambda: ingest.latest.messages_acked == 6, what="6 acked")
    assert query(dsn, "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM events") == [
        (17, 17, 0, 16)
    ]
    stats = ingest.close()
    assert stats.events_received == 10 + 10 + 10 + 2 + 10 + 7
    assert stats.events_inserted == 17
    assert count(dsn, "SELECT count(*) FROM dead_letters") == 0


def test_status_messages_update_node_status(dsn, publisher, start_ingest) -> None:
    ingest = start_ingest(dsn)
    topic = f"hubsense/v1/{SITE}/pi-b/status"
    newer = {
        "node": "pi-b",
        "online": True,
        "ts": 1_764_000_060_000,
        "version": "1.2.0",
        "uptime_s": 3600.5,
        "outbox_depth": 7,
        "last_reading_age_s": {"gpio:17": 2.5},
        "cpu_temp_c": 48.5,
        "clock_synced": True,
        "disk_full": False,
    }
    older = {"node": "pi-b", "online": True, "ts": 1_764_000_000_000, "version": "1.1.0"}
    publisher.publish(topic, json.dumps(newer).encode())
    wait_for(lambda: count(dsn, "SELECT count(*) FROM node_status") == 1, what="status row")
    # An older status arriving late (a redelivery) must not overwrite the newer one.
    publisher.publish(topic, json.dumps(older).encode())
    wait_for(lambda: ingest.latest.messages_acked == 2, what="2 acked")
    row = query(
        dsn,
        "SELECT node_id, site_id, online, version, uptime_s, outbox_depth, last_reading_age_s,"
        " cpu_temp_c, clock_synced, disk_full, reported_at FROM node_status",
    )
    assert row == [
        (
            "pi-b",
            SITE,
            True,
            "1.2.0",
            3600.5,
            7,
            {"gpio:17": 2.5},
            48.5,
            True,
            False,
            ms(1_764_000_060_000),
        )
    ]
    # The last will (no ts) always wins: the node is offline.
    publisher.publish(topic, b'{"node":"pi-b","online":false}')
    wait_for(
        lambda: (
            query(dsn, "SELECT online, reported_at, version FROM node_status")
            == [(False, None, None)]
        ),
        what="offline",
    )
    assert ingest.close().statuses == 3


def test_inventory_applied_later_is_picked_up_without_restart(dsn, publisher, start_ingest) -> None:
    ingest = start_ingest(dsn)
    publisher.publish(events_topic("pi-new"), alive_message("pi-new", [1]))
    wait_for(lambda: count(dsn, "SELECT count(*) FROM dead_letters") == 1, what="dead letter")
    assert query(dsn, "SELECT reason FROM dead_letters") == [("unknown_node",)]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO nodes (id, site_id, heartbeat_s) VALUES ('pi-new', %s, 60)", (SITE,)
        )
    try:
        time.sleep(2.1)  # past the miss-refresh rate limit
        publisher.publish(events_topic("pi-new"), alive_message("pi-new", [2]))
        wait_for(lambda: count(dsn) == 1, what="row of the new node")
        assert query(dsn, "SELECT node_id, seq FROM events") == [("pi-new", 2)]
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DELETE FROM events WHERE node_id = 'pi-new'")
            conn.execute("DELETE FROM nodes WHERE id = 'pi-new'")
    ingest.close()


def test_desk_message_helper_round_trip(dsn, publisher, start_ingest) -> None:
    ingest = start_ingest(dsn)
    publisher.publish(
        events_topic("pi-b"), desk_message("pi-b", 5, "d-3", "occupied", 1_764_000_000_005)
    )
    wait_for(lambda: count(dsn) == 1, what="row")
    assert query(dsn, "SELECT desk_id, state::text, source::text FROM events") == [
        ("d-3", "occupied", "pir")
    ]
    ingest.close()


def _malformed_messages() -> list[tuple[str, bytes, str]]:
    """(topic, payload, reason): at least 12 kinds, each wrong in a different way."""
    good = b'{"seq":1,"ts":1764000000000,"type":"alive"}'
    a = events_topic("pi-a")
    big = b'{"node":"pi-a","events":[' + b",".join([good] * 7000) + b"]}"
    return [
        (a, big, "too_large"),
        (a, b'{"node":"pi-\xff\xfe"}', "invalid_utf8"),
        (a, b'{"node":"pi-a","events":[', "invalid_json"),
        (a, b"", "invalid_json"),
        (a, b'{"node":"pi-a","events":[{"seq":"1","ts":1,"type":"alive"}]}', "invalid_schema"),
        (
            a,
            b'{"node":"pi-a","events":[{"seq":1,"ts":1,"type":"alive","extra":true}]}',
            "invalid_schema",
        ),
        (a, b'{"node":"pi-a","events":[]}', "invalid_schema"),
        (a, b'{"node":"pi-a","events":[{"seq":1,"ts":1,"type":"reboot"}]}', "unknown_event_type"),
        ("hubsense/v1/hq/pi-a/config", b'{"node":"pi-a"}', "wrong_topic_kind"),
        (
            "hubsense/v1/hq/pi-b/events",
            b'{"node":"pi-a","events":[' + good + b"]}",
            "node_mismatch",
        ),
        (
            "hubsense/v1/hq/pi-zz/events",
            b'{"node":"pi-zz","events":[' + good + b"]}",
            "unknown_node",
        ),
        (
            "hubsense/v1/hub-1/pi-a/events",
            b'{"node":"pi-a","events":[' + good + b"]}",
            "site_mismatch",
        ),
        (a, desk_message("pi-a", 1, "d-404", "occupied", 1), "unknown_desk"),
        (a, desk_message("pi-a", 1, "d-3", "occupied", 1), "desk_not_on_node"),
        (
            a,
            b'{"node":"pi-a","events":[{"seq":1,"ts":%d,"type":"alive"}]}'
            % (int(time.time() * 1000) + 3_600_000),
            "ts_in_future",
        ),
        (
            a,
            b'{"node":"pi-a","events":[{"seq":1,"ts":1,"type":"alive"},'
            b'{"seq":1,"ts":2,"type":"alive"}]}',
            "conflicting_duplicate",
        ),
        ("hubsense/v1/hq/pi-a/status", b'{"node":"pi-a","online":"yes"}', "invalid_schema"),
    ]


def test_malformed_messages_go_to_dead_letters_and_valid_ones_around_them_are_stored(
    dsn, publisher, start_ingest, mqtt_broker
) -> None:
    # Ingest does not subscribe to config topics, so wrong_topic_kind is covered by the
    # decode tests; every other kind goes over the wire here.
    ingest = start_ingest(dsn, batch_max_ms=300)
    malformed = [case for case in _malformed_messages() if case[2] != "wrong_topic_kind"]
    assert len({reason for _, _, reason in malformed}) >= 12
    messages: list[tuple[str, bytes]] = []
    for seq, (topic, payload, _) in enumerate(malformed):
        messages.append((events_topic("pi-c"), alive_message("pi-c", [seq])))
        messages.append((topic, payload))
    messages.append((events_topic("pi-c"), alive_message("pi-c", [len(malformed)])))
    publisher.publish_many(messages)
    wait_for(
        lambda: ingest.latest and ingest.latest.messages_acked == len(messages), what="all acked"
    )
    dead = query(dsn, "SELECT topic, payload, reason, detail FROM dead_letters ORDER BY id")
    # A too_large dead letter keeps only a prefix of its payload (test_too_large.py).
    assert [(topic, bytes(payload), reason) for topic, payload, reason, _ in dead] == [
        (t, p[:MAX_DEAD_PAYLOAD_BYTES] if r == "too_large" else p, r) for t, p, r in malformed
    ]
    assert all(detail for *_, detail in dead)
    stored = query(dsn, "SELECT node_id, seq FROM events ORDER BY seq")
    assert stored == [("pi-c", seq) for seq in range(len(malformed) + 1)]
    stats = ingest.close()
    assert (stats.dead_letters, stats.events_inserted) == (len(malformed), len(malformed) + 1)


def test_message_the_database_refuses_is_dead_lettered_and_the_rest_stored(
    dsn, publisher, start_ingest
) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION refuse_seq_13() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN IF NEW.seq = 13 THEN RAISE EXCEPTION 'seq 13 refused by test trigger'; END IF;"
            " RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse_13 BEFORE INSERT ON events"
            " FOR EACH ROW EXECUTE FUNCTION refuse_seq_13()"
        )
    try:
        ingest = start_ingest(dsn, batch_max_ms=500)
        topic = events_topic("pi-a")
        publisher.publish_many(
            [
                (topic, alive_message("pi-a", range(0, 10))),
                (topic, alive_message("pi-a", range(10, 20))),
                (topic, alive_message("pi-a", range(20, 30))),
            ]
        )
        wait_for(lambda: ingest.latest and ingest.latest.messages_acked == 3, what="3 acked")
        assert query(dsn, "SELECT count(*), min(seq), max(seq) FROM events") == [(20, 0, 29)]
        assert query(dsn, "SELECT count(*) FROM events WHERE seq BETWEEN 10 AND 19") == [(0,)]
        dead = query(dsn, "SELECT topic, payload, reason, detail FROM dead_letters")
        assert len(dead) == 1
        assert dead[0][:3] == (topic, alive_message("pi-a", range(10, 20)), "db_rejected")
        assert "seq 13 refused by test trigger" in dead[0][3]
        ingest.close()
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP TRIGGER refuse_13 ON events")
            conn.execute("DROP FUNCTION refuse_seq_13()")


def test_retired_worker_hands_back_its_share_and_its_session_ends(
    dsn, publisher, start_ingest, mqtt_broker
) -> None:
    import paho.mqtt.client as mqtt
    from hubsense.ingest.service import client_id, run

    group = f"g-retire-{int(time.time() * 1000)}"
    stays = start_ingest(dsn, share_group=group)
    leaves = start_ingest(dsn, share_group=group)
    leaving = leaves.settings
    leaves.close()
    topic = events_topic("pi-a")
    publisher.publish_many([(topic, alive_message("pi-a", [seq])) for seq in range(200)])
    # Mosquitto keeps assigning the stopped worker its share: those wait in its session.
    wait_for(lambda: stays.latest and stays.latest.messages_acked >= 80, what="the live share")
    time.sleep(0.5)
    assert 80 <= count(dsn) < 200
    stats = run(leaving, dsn=dsn, mqtt_url=mqtt_broker.url, retire_idle_s=1.0)
    assert stats.messages == 200 - stays.latest.messages_acked
    assert count(dsn) == 200
    # The session is gone: a new connection with that client id finds none, and all new
    # messages go to the worker that stayed.
    probe = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id(leaving.ingest.worker_id),
        protocol=mqtt.MQTTv5,
    )
    present: list[bool] = []
    probe.on_connect = lambda c, u, flags, rc, p: present.append(flags.session_present)
    probe.connect(mqtt_broker.host, mqtt_broker.port, clean_start=False)
    probe.loop_start()
    wait_for(lambda: present, what="probe connack")
    probe.disconnect()
    probe.loop_stop()
    release_sockets(probe)
    assert present == [False]
    publisher.publish_many([(topic, alive_message("pi-a", [seq])) for seq in range(200, 300)])
    wait_for(lambda: count(dsn) == 300, what="300 rows")
    assert stays.close().messages_acked == 300 - stats.messages


def test_qos0_and_qos1_messages_are_both_stored(dsn, publisher, start_ingest) -> None:
    # QoS 1 takes the consumer's fast path, QoS 0 paho's own (nothing to ack).
    ingest = start_ingest(dsn)
    publisher.client.publish(events_topic("pi-a"), alive_message("pi-a", [1]), qos=0)
    publisher.publish(events_topic("pi-a"), alive_message("pi-a", [2]))
    wait_for(lambda: count(dsn) == 2, what="2 rows")
    assert query(dsn, "SELECT seq FROM events ORDER BY seq") == [(1,), (2,)]
    stats = ingest.close()
    assert (stats.messages, stats.messages_acked) == (2, 2)


def test_a_reflashed_node_reusing_seqs_is_dead_lettered_not_dropped(
    dsn, publisher, start_ingest
) -> None:
    """The SD card replaced with old firmware: seq 1 again, other content, over real MQTT."""
    ingest = start_ingest(dsn, batch_max_ms=100)
    publisher.publish(events_topic("pi-a"), alive_message("pi-a", [1, 2], ts0_ms=1_764_000_000_000))
    wait_for(lambda: count(dsn) == 2, what="the first life's rows")
    # mosquitto_pub of the reflashed node: seq 1 and 2 again, a day later.
    publisher.publish(events_topic("pi-a"), alive_message("pi-a", [1, 2], ts0_ms=1_764_086_400_000))
    wait_for(lambda: count(dsn, "SELECT count(*) FROM dead_letters") == 1, what="one dead letter")
    [(reason, detail)] = query(dsn, "SELECT reason, detail FROM dead_letters")
    assert reason == "conflicting_duplicate"
    assert detail == (
        'seq 1: stored {"ts":1764000000001,"type":"alive"} received {"ts":1764086400001,'
        '"type":"alive"}; seq 2: stored {"ts":1764000000002,"type":"alive"} received '
        '{"ts":1764086400002,"type":"alive"}'
    )
    assert count(dsn) == 2
    assert query(dsn, "SELECT node_id, last_seq, cleared_at IS NULL FROM seq_conflicts") == [
        ("pi-a", 2, True)
    ]
    publisher.publish(events_topic("pi-a"), alive_message("pi-a", [3], ts0_ms=1_764_086_500_000))
    wait_for(
        lambda: query(dsn, "SELECT cleared_at IS NOT NULL FROM seq_conflicts") == [(True,)],
        what="the conflict cleared by seq 3",
    )
    stats = ingest.close()
    assert (stats.dead_letters, stats.events_inserted) == (1, 3)
