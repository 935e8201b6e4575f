"""`hubsense edge doctor`'s broker checks: reachable, credentials accepted, publish allowed on
the node's own status topic, subscribe allowed on its config topic, another node's topics
denied. It publishes only the node's own retained status (what the agent publishes anyway).

The doctor connects as a client of its own, so it never takes a running agent's session:
the login `NODE.doctor` with the node's secret (`hubsense.broker_identity`; the broker
`provision broker` configures gives it the node's grants) and client id `hubsense-doctor-NODE`.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from typing import Any

from hubsense.broker_identity import doctor_username
from hubsense.checks import Check, Status, skipped
from hubsense.mqtt_url import parse_mqtt_url
from hubsense.node_config import NodeConfig
from hubsense.wire import StatusMessage, TopicKind, encode, node_topic

SESSION_CHECKS = (
    "credentials accepted",
    "publish allowed on own topics",
    "subscribe allowed on config",
)
BROKER_CHECKS = ("broker reachable", *SESSION_CHECKS)


def check_broker(config: NodeConfig, timeout_s: float) -> list[Check]:
    url = parse_mqtt_url(config.broker.url)
    try:
        with socket.create_connection((url.host, url.port), timeout=min(timeout_s, 10)) as sock:
            if url.tls:
                context = ssl.create_default_context(
                    cafile=str(config.broker.ca_file) if config.broker.ca_file else None
                )
                with context.wrap_socket(sock, server_hostname=url.host):
                    pass
    except (OSError, ssl.SSLError) as error:
        return [
            Check(
                "broker reachable",
                Status.FAIL,
                f"{url.redacted()}: {error}",
                "check the network, the broker URL and port, and (mqtts) the CA file",
            ),
            *skipped(SESSION_CHECKS, "broker not reachable"),
        ]
    checks = [Check("broker reachable", Status.PASS, url.redacted())]
    return checks + _mqtt_session_checks(config, min(timeout_s, 10))


def _mqtt_session_checks(config: NodeConfig, timeout_s: float) -> list[Check]:
    from hubsense.edge.io.mqtt import MqttLink

    got: dict[str, Any] = {}
    done = {k: threading.Event() for k in ("connack", "puback", "suback")}

    def on_event(event: Any) -> None:
        name = type(event).__name__
        if name in ("Connected", "ConnectRefused"):
            got["connack"] = event
            done["connack"].set()

    # The agent's settings and secret under an identity of its own: connecting as the agent
    # would kick a running agent off the broker.
    login = doctor_login(config)
    link = MqttLink(login, on_event, max_in_flight=1, role="doctor")
    client = link._client

    def on_publish(_c: Any, _u: Any, _mid: int, reason: Any, _p: Any) -> None:
        got["puback"] = reason
        done["puback"].set()

    def on_subscribe(_c: Any, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        got["suback"] = reasons
        done["suback"].set()

    client.on_publish = on_publish
    client.on_subscribe = on_subscribe
    link.start()
    try:
        if not done["connack"].wait(timeout_s):
            why = link.last_error or "no CONNACK"
            return [
                Check("credentials accepted", Status.FAIL, why, "check the broker logs"),
                *skipped(SESSION_CHECKS[1:], "not connected"),
            ]
        if type(got["connack"]).__name__ == "ConnectRefused":
            return [
                Check(
                    "credentials accepted",
                    Status.FAIL,
                    got["connack"].reason,
                    "check broker.username and the password (file) for this node",
                ),
                *skipped(SESSION_CHECKS[1:], "not connected"),
            ]
        checks = [
            Check("credentials accepted", Status.PASS, f"as {login.broker.username or 'anonymous'}")
        ]
        running = (
            time.time() - config.live_path.stat().st_mtime < 2 * config.heartbeat_s + 2
            if config.live_path.exists()
            else False
        )
        status = StatusMessage(node=config.node, online=running, ts=time.time_ns() // 1_000_000)
        client.publish(link.status_topic, encode(status), qos=1, retain=True)
        ok = done["puback"].wait(timeout_s) and not got["puback"].is_failure
        checks.append(
            Check(
                "publish allowed on own topics",
                Status.PASS if ok else Status.FAIL,
                f"{link.status_topic}: {got.get('puback', 'no PUBACK')}",
                f"allow this node to write hubsense/v1/{config.site}/{config.node}/# in the ACL",
            )
        )
        checks.append(_check_other_topics_denied(config, client, got, done, timeout_s))
        done["suback"].wait(timeout_s)
        codes = got.get("suback") or []
        sub_ok = bool(codes) and not any(c.is_failure for c in codes)
        checks.append(
            Check(
                "subscribe allowed on config",
                Status.PASS if sub_ok else Status.FAIL,
                f"{node_topic(config.site, config.node, TopicKind.CONFIG)}: {codes or 'no SUBACK'}",
                "allow this node to read its config topic in the ACL",
            )
        )
        return checks
    finally:
        client.disconnect()
        client.loop_stop()


def doctor_login(config: NodeConfig) -> NodeConfig:
    """The node's config with the doctor's username (`NODE.doctor`); anonymous stays anonymous."""
    username = config.broker.username or parse_mqtt_url(config.broker.url).username
    if not username:
        return config
    broker = config.broker.model_copy(update={"username": doctor_username(username)})
    return config.model_copy(update={"broker": broker})


# A node id no inventory should hold: were the ACL open, the stray message is dead-lettered.
_PROBE_NODE = "hubsense-doctor-probe"


def _check_other_topics_denied(
    config: NodeConfig, client: Any, got: dict[str, Any], done: dict[str, Any], timeout_s: float
) -> Check:
    """A node's credentials must not write another node's topics (MQTT 5 PUBACK says)."""
    done["puback"].clear()
    got.pop("puback", None)
    topic = node_topic(config.site, _PROBE_NODE, TopicKind.STATUS)
    client.publish(topic, b"", qos=1, retain=False)
    answered = done["puback"].wait(timeout_s)
    denied = answered and got["puback"].is_failure
    return Check(
        "other nodes' topics denied",
        Status.PASS if denied else Status.FAIL,
        f"{topic}: {got.get('puback', 'no PUBACK')}",
        "the ACL must limit this node to hubsense/v1/SITE/NODE/# (`hubsense provision broker`)",
    )
