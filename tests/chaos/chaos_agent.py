"""A real edge agent in its own process, fed BTHome occupancy adverts at a steady rate.

`chaos_agent.py CONFIG.json EVENTS_PER_S START_OFFSET_MS`

Every advert flips one BLE desk between occupied and vacant (debounce 0), so each
becomes one desk event through the real agent: BTHome decode, desk state machine,
SQLite outbox, paho. The node's clock starts START_OFFSET_MS from now and runs at
a speed the test sets. Commands on stdin, one a line:
  `fast MS X` — the node's clock runs X times real time until MS simulated ms passed
  `quiet`   — stop feeding adverts (heartbeats go on)
  `stop`    — clean stop (`stop` event stored and flushed), exit 0
End of stdin (the test died) stops the agent too. SIGKILL is the point.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from hubsense.edge.embed import AgentThread
from hubsense.edge.io.bthome_adverts import build_advert

from hubsense.logs import configure_logging
from hubsense.node_config import NodeConfig

TICK_S = 0.01


class SimClock:
    """Wall-clock milliseconds plus an offset; `fast_forward` runs it faster for a while."""

    def __init__(self, offset_ms: int) -> None:
        self._sim_ms = time.time() * 1000 + offset_ms
        self._mono = time.monotonic()
        self._speed = 1.0
        self._fast_left_ms = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            now = time.monotonic()
            real_ms = (now - self._mono) * 1000
            self._mono = now
            if self._fast_left_ms > 0:
                # Fast until exactly `total_ms` of simulated time passed, then real time again,
                # however late the test gets round to looking.
                fast_real_ms = min(real_ms, self._fast_left_ms / self._speed)
                self._fast_left_ms -= fast_real_ms * self._speed
                self._sim_ms += fast_real_ms * self._speed + (real_ms - fast_real_ms)
            else:
                self._sim_ms += real_ms
            return int(self._sim_ms)

    def fast_forward(self, total_ms: float, speed: float) -> None:
        self()
        with self._lock:
            self._speed, self._fast_left_ms = speed, total_ms


def main() -> None:
    configure_logging("warning", "json")
    config = NodeConfig.model_validate_json(Path(sys.argv[1]).read_text())
    rate = float(sys.argv[2])
    clock = SimClock(int(sys.argv[3]))
    agent = AgentThread(config, clock_ms=clock).start(timeout_s=60)
    quiet = threading.Event()
    done = threading.Event()

    def commands() -> None:
        for line in sys.stdin:
            word, _, arg = line.strip().partition(" ")
            if word == "fast":
                total_ms, speed = arg.split()
                clock.fast_forward(float(total_ms), float(speed))
            elif word == "quiet":
                quiet.set()
            elif word == "stop":
                break
        done.set()

    threading.Thread(target=commands, daemon=True).start()
    macs = [s.address for s in config.ble_sensors]
    packets = [0] * len(macs)
    occupied = [False] * len(macs)
    owed = 0.0
    turn = 0
    last = time.monotonic()
    while not done.wait(TICK_S):
        now = time.monotonic()
        owed += (now - last) * rate
        last = now
        if quiet.is_set():
            owed = 0.0
            continue
        while owed >= 1:
            owed -= 1
            i = turn % len(macs)
            turn += 1
            packets[i] = (packets[i] + 1) % 256
            occupied[i] = not occupied[i]
            advert = build_advert([("packet_id", packets[i]), ("occupancy", int(occupied[i]))])
            agent.feed_advert(macs[i], advert)
    agent.stop(timeout_s=30)


if __name__ == "__main__":
    main()
