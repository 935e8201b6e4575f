"""Run a real edge agent inside another program: the simulator's and the tests' hook.

`AgentThread` starts an `EdgeAgent` on its own thread with its own event loop.
Give it gpiozero's `MockFactory` to drive the PIR pins (`handle.pin(17).drive_high()`)
and feed BTHome advertisement bytes with `handle.feed_advert(address, payload)`:
the same code paths a Raspberry Pi runs, minus the hardware. It must not
change how the agent behaves.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from hubsense.edge.agent import EdgeAgent, wall_clock_ms

from hubsense.errors import ServiceError
from hubsense.node_config import NodeConfig


class AgentThread:
    """An `EdgeAgent` on a background thread; `start()` returns once it is sensing."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        pin_factory: Any = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        clock_synced: Callable[[], bool | None] = lambda: None,
    ) -> None:
        # The embedded agent's clock is given (often simulated): the kernel's NTP state
        # says nothing about it, so by default only its plausibility is checked.
        if pin_factory is None:
            from gpiozero.pins.mock import MockFactory

            pin_factory = MockFactory()
        self.pin_factory = pin_factory
        self.agent = EdgeAgent(
            config,
            pin_factory=pin_factory,
            scan_ble=False,
            clock_ms=clock_ms,
            clock_synced=clock_synced,
        )
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"edge-{config.node}", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self.agent.run())
        except BaseException as error:
            self.error = error

    def start(self, timeout_s: float = 30.0) -> AgentThread:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.agent.ready:
            if self.error is not None or not self._thread.is_alive():
                raise ServiceError(
                    f"edge agent {self.agent.config.node}: failed to start: {self.error!r}"
                )
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"edge agent {self.agent.config.node}: not sensing after {timeout_s} s"
                )
            time.sleep(0.01)
        return self

    def pin(self, number: int) -> Any:
        """The mock pin of a PIR (call `.drive_high()` / `.drive_low()`)."""
        return self.pin_factory.pin(number)

    def feed_advert(self, address: str, payload: bytes, rssi_dbm: int = -60) -> None:
        self.agent.feed_advert(address, payload, rssi_dbm)

    @property
    def connected(self) -> bool:
        return self.agent.link is not None and self.agent.link.connected

    def stop(self, timeout_s: float = 15.0) -> None:
        """Clean stop: `stop` event stored and flushed, status offline, thread joined."""
        self.agent.request_stop()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise ServiceError(
                f"edge agent {self.agent.config.node}: did not stop in {timeout_s} s"
            )
        if self.error is not None:
            raise self.error
