"""GPIO adapter: PIR sensors through gpiozero's edge-triggered `DigitalInputDevice`.

Each PIR pin's rise and fall become `Signal.MOTION_START` / `MOTION_END`
for the desk state machine, called back by the pin factory's edge detection
(lgpio: one callback thread for all pins). The pin is pulled down, so a
disconnected PIR reads "no motion". Tests and the simulator pass gpiozero's
`MockFactory` and drive the pins (`factory.pin(17).drive_high()`); on a Pi
the default factory (lgpio) reads the real pins. gpiozero types never leave
this module. It must not decide desk states.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hubsense.edge.core.machine import Signal

from hubsense.errors import ServiceError
from hubsense.inventory.model import GpioPirSensor
from hubsense.logs import get_logger

log = get_logger(__name__)

# Not `MotionSensor`: it polls each pin from a thread of its own (20 PIRs: 20
# threads waking 2 times a second, ~0.5 MB RSS), while a PIR's output is a clean
# digital level (HC-SR501: high for at least 2.5 s) whose edges the pin factory
# reports anyway. `probe_pins` (doctor) only opens and reads each pin once.


class PirInputs:
    """Every configured PIR; calls `on_signal(sensor_key, signal)` from gpiozero's threads."""

    def __init__(
        self,
        sensors: list[GpioPirSensor],
        on_signal: Callable[[str, Signal], None],
        pin_factory: Any = None,
    ) -> None:
        self._sensors = sensors
        self._on_signal = on_signal
        self._factory = pin_factory
        self._devices: dict[str, Any] = {}
        self.last_change_s: dict[str, float] = {}

    def start(self) -> dict[str, bool]:
        """Open the pins; return each sensor's level now (True: motion right now)."""
        from gpiozero import DigitalInputDevice, GPIOZeroError

        levels: dict[str, bool] = {}
        for sensor in self._sensors:
            try:
                device = DigitalInputDevice(sensor.pin, pull_up=False, pin_factory=self._factory)
            except (GPIOZeroError, OSError, RuntimeError) as error:
                self.close()
                raise ServiceError(f"GPIO pin {sensor.pin}: cannot open: {error}") from error
            key = sensor.key
            device.when_activated = lambda _d, key=key: self._changed(key, Signal.MOTION_START)
            device.when_deactivated = lambda _d, key=key: self._changed(key, Signal.MOTION_END)
            self._devices[key] = device
            levels[key] = bool(device.is_active)
            self.last_change_s[key] = time.monotonic()
        log.info("gpio_opened", pins=[s.pin for s in self._sensors])
        return levels

    def _changed(self, key: str, signal: Signal) -> None:
        self.last_change_s[key] = time.monotonic()
        self._on_signal(key, signal)

    def levels(self) -> dict[str, bool | None]:
        """Each pin's level now; None for a pin that fails to read (its desk is unknown)."""
        from gpiozero import GPIOZeroError

        levels: dict[str, bool | None] = {}
        for key, device in self._devices.items():
            try:
                levels[key] = bool(device.is_active)
            except (GPIOZeroError, OSError, RuntimeError):
                levels[key] = None
        return levels

    def close(self) -> None:
        for device in self._devices.values():
            device.close()
        self._devices.clear()


def probe_pins(sensors: list[GpioPirSensor]) -> dict[int, str | None]:
    """For `doctor`: open each pin once; None when readable, else why not."""
    from gpiozero import DigitalInputDevice, GPIOZeroError

    result: dict[int, str | None] = {}
    for sensor in sensors:
        try:
            device = DigitalInputDevice(sensor.pin, pull_up=False)
            _ = device.value
            device.close()
            result[sensor.pin] = None
        except (GPIOZeroError, OSError, RuntimeError) as error:
            result[sensor.pin] = f"{type(error).__name__}: {error}"
    return result
