"""What the agent tells people about itself: the retained status and the live view.

`status_message` builds the `status` payload (docs/wire.md: version, uptime, outbox
depth, last reading age per sensor, CPU temperature, clock sync, disk full).
`live_view` is the agent's state for `hubsense edge watch`, written atomically
to a small JSON file (tmpfs on a Pi). Both only read the agent; they must not
change it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubsense.edge.io import system

from hubsense import __version__
from hubsense.logs import get_logger
from hubsense.wire import StatusMessage

if TYPE_CHECKING:
    from hubsense.edge.agent import EdgeAgent

log = get_logger(__name__)


def status_message(agent: EdgeAgent, online: bool) -> StatusMessage:
    mono = time.monotonic()
    last_heard = {**agent.pins.last_change_s, **agent.decoder.counters.last_heard_s}
    ages: dict[str, float | None] = {
        s.key: round(mono - last_heard[s.key], 1) if s.key in last_heard else None
        for s in agent.config.sensors
    }
    return StatusMessage(
        node=agent.config.node,
        online=online,
        ts=agent.clock(),
        version=__version__,
        uptime_s=round(mono - agent.started_mono, 1),
        outbox_depth=agent.outbox.depth,
        last_reading_age_s=ages,
        cpu_temp_c=system.cpu_temp_c(),
        clock_synced=system.clock_synced(),
        disk_full=agent.outbox.disk_full,
    )


def live_view(agent: EdgeAgent) -> dict[str, Any]:
    levels = agent.pins.levels()
    return {
        "node": agent.config.node,
        "ts_ms": agent.clock(),
        "connected": bool(agent.link is not None and agent.link.connected),
        "outbox_depth": agent.outbox.depth,
        "desks": {
            d: (s.value if (s := agent.machine.state_of(d)) else None) for d in agent.machine.desks
        },
        "sensors": {
            s.key: {
                "desk": s.desk,
                "reading": {True: "high", False: "low", None: "read failed"}[levels[s.key]]
                if s.key in levels
                else agent.last_values.get(s.key),
            }
            for s in agent.config.sensors
        },
        "ble": agent.decoder.counters.totals(),
    }


def write_live_view(path: Path, view: dict[str, Any]) -> None:
    """Replace the file atomically so `watch` never reads half of it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(view))
        tmp.replace(path)
    except OSError as error:
        log.debug("live_view_not_written", error=str(error))
