"""Who is who on the broker: the usernames and client ids hubsense's processes connect with.

An MQTT client that connects with a client id already in use takes that session over:
the broker drops the first connection. So every process has a client id of its own:
the agent `hubsense-edge-NODE`, `edge doctor` `hubsense-doctor-NODE`, each ingest worker
`hubsense-ingest-WORKER`, the release watcher `hubsense-release-…` (random, per process).

On the broker `hubsense provision broker` configures, the nodes' TLS listener goes further
(`use_username_as_clientid`): there a client's id *is* its username, whatever id it sent,
so node B's credentials can never connect as node A. The doctor therefore logs in under a
username of its own, `NODE.doctor`: the broker accepts it with the node's own secret and
grants it the node's own topics, so the doctor never takes the running agent's place.
Node ids cannot contain a dot (`wire.ID_PATTERN`) and service usernames contain an
underscore, so `NODE.doctor` is never a node's or a service's name.
"""

from __future__ import annotations

DOCTOR_SUFFIX = ".doctor"


def doctor_username(username: str) -> str:
    """The login `edge doctor` uses with the node's secret."""
    return f"{username}{DOCTOR_SUFFIX}"


def credential_owner(username: str) -> str:
    """Whose secret a broker username takes: the node's own for its doctor login."""
    return username.removesuffix(DOCTOR_SUFFIX)
