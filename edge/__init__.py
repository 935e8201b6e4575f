"""The edge agent that runs on each Raspberry Pi: sensors, desk state machine, durable outbox, MQTT.

Imports only the contract (`hubsense.wire`, `hubsense.inventory.model`); never ingest, analytics,
psycopg or numba (README.md). paho, gpiozero, bleak and bthome-ble are imported only when an
agent starts, so importing this package is cheap.

Programmatic use (the simulator's hook)::

    from gpiozero.pins.mock import MockFactory
    from hubsense.edge import AgentThread, NodeConfig
    handle = AgentThread(NodeConfig.model_validate({...}), pin_factory=MockFactory()).start()
    handle.pin(17).drive_high()            # a person sits down at the PIR's desk
    handle.feed_advert("A4:C1:38:00:00:01", bthome_service_data_bytes)
    handle.stop()
"""

from __future__ import annotations

from typing import Any

__all__ = ["AgentThread", "EdgeAgent", "NodeConfig", "load_node_config"]


def __getattr__(name: str) -> Any:
    if name == "AgentThread":
        from hubsense.edge.embed import AgentThread

        return AgentThread
    if name == "EdgeAgent":
        from hubsense.edge.agent import EdgeAgent

        return EdgeAgent
    if name in ("NodeConfig", "load_node_config"):
        from hubsense import node_config

        return getattr(node_config, name)
    raise AttributeError(name)
