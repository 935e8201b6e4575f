"""PIR pins through gpiozero's edge-triggered DigitalInputDevice, driven by its MockFactory."""

from __future__ import annotations

import threading

from gpiozero.pins.mock import MockFactory
from hubsense.edge.core.machine import Signal
from hubsense.edge.io.gpio import PirInputs

from hubsense.inventory.model import GpioPirSensor


def test_pin_edges_become_motion_start_and_end() -> None:
    factory = MockFactory()
    got: list[tuple[str, Signal]] = []
    changed = threading.Event()

    def on_signal(key: str, signal: Signal) -> None:
        got.append((key, signal))
        changed.set()

    sensors = [
        GpioPirSensor(type="gpio_pir", pin=17, desk="d1"),
        GpioPirSensor(type="gpio_pir", pin=22, desk="d2"),
    ]
    pins = PirInputs(sensors, on_signal, factory)
    assert pins.start() == {"gpio:17": False, "gpio:22": False}
    try:
        factory.pin(22).drive_high()
        assert changed.wait(2)
        changed.clear()
        assert pins.levels() == {"gpio:17": False, "gpio:22": True}
        factory.pin(22).drive_low()
        assert changed.wait(2)
        assert got == [("gpio:22", Signal.MOTION_START), ("gpio:22", Signal.MOTION_END)]
    finally:
        pins.close()
