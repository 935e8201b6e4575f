"""A real edge agent in its own process, for SIGKILL tests: `edge_child.py CONFIG churn|flush`.

churn: mock PIR pins and BLE adverts change all the time, until killed.
flush: no sensor activity; run 3 s (the outbox drains), then stop cleanly.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from hubsense.edge.embed import AgentThread
from hubsense.edge.io.bthome_adverts import build_advert

from hubsense.logs import configure_logging
from hubsense.node_config import NodeConfig


def main() -> None:
    configure_logging("warning", "json")
    config = NodeConfig.model_validate_json(Path(sys.argv[1]).read_text())
    agent = AgentThread(config).start()
    print("sensing", flush=True)
    if sys.argv[2] == "flush":
        time.sleep(3)
        agent.stop()
        return
    rng = random.Random()
    mac = config.ble_sensors[0].address
    packet = rng.randrange(256)
    while True:
        packet += 1
        agent.feed_advert(
            mac, build_advert([("packet_id", packet % 256), ("occupancy", packet % 2)])
        )
        pin = agent.pin(17 + rng.randrange(len(config.pir_sensors)))
        pin.drive_high() if rng.random() < 0.5 else pin.drive_low()
        time.sleep(0.005)


if __name__ == "__main__":
    main()
