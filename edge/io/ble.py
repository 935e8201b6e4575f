"""BLE adapter: bleak's scanner in, BTHome v2 readings out (decoded by bthome-ble).

`BthomeDecoder` turns one advertisement of a configured sensor into readings
(motion, occupancy, presence), decrypting BTHome v2 with the sensor's bindkey.
On top of bthome-ble it refuses a replayed encrypted packet: the packet
counter (4 bytes before the MIC) must grow, so a recorded advert sent again
cannot make a desk occupied. An advertisement that is unknown, undecodable,
badly encrypted or replayed is counted and logged, never raised: a bad advert
is the sender's fault, not ours.

`BleScanner` wraps `bleak.BleakScanner`; its `detection_callback` is the very
function bleak calls, and tests and the simulator call it the same way.
bleak, habluetooth and bthome-ble types never leave this module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hubsense.edge.core.machine import Signal

from hubsense.errors import ServiceError
from hubsense.inventory.model import BthomeSensor
from hubsense.logs import get_logger

log = get_logger(__name__)

BTHOME_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
# bthome-ble's binary sensor keys (object ids 0x21, 0x23, 0x25) → what they mean here.
_SIGNALS: dict[str, Signal] = {
    "motion": Signal.MOTION_PULSE,
    "occupancy": Signal.OCCUPANCY,
    "presence": Signal.PRESENCE,
}


class BleUnavailableError(ServiceError):
    """The node's Bluetooth stack cannot scan (not our bug: BlueZ, adapter or permissions)."""


@dataclass(frozen=True, slots=True)
class BleReading:
    sensor_key: str
    signal: Signal
    value: bool


@dataclass(slots=True)
class BleCounters:
    """What the scanner saw; shown by `status`, `doctor` and `watch`."""

    adverts: int = 0
    decoded: int = 0
    ignored: int = 0  # not one of our sensors (phones, other devices): not logged
    unknown: int = 0  # one of ours, but no BTHome data or no object we use
    undecodable: int = 0  # garbage, wrong version, failed decryption (e.g. wrong bindkey)
    replayed: int = 0  # encrypted packet counter did not grow
    last_heard_s: dict[str, float] = field(default_factory=dict)  # sensor key → monotonic s

    def totals(self) -> dict[str, int]:
        return {
            name: getattr(self, name)
            for name in ("adverts", "decoded", "ignored", "unknown", "undecodable", "replayed")
        }


@dataclass(slots=True)
class _Sensor:
    key: str
    parser: Any  # bthome_ble.BTHomeBluetoothDeviceData
    encrypted: bool
    last_counter: int = -1


class BthomeDecoder:
    """Decode adverts of the configured BTHome sensors; never raises on bad input."""

    def __init__(self, sensors: list[BthomeSensor]) -> None:
        self.counters = BleCounters()
        self._by_address: dict[str, _Sensor] = {}
        if not sensors:
            return  # a PIR-only node never loads the BLE stack (~27 MB with habluetooth, bleak)
        from bthome_ble import BTHomeBluetoothDeviceData

        for sensor in sensors:
            key = bytes.fromhex(sensor.bindkey) if sensor.bindkey else None
            self._by_address[sensor.address.upper()] = _Sensor(
                key=sensor.key,
                parser=BTHomeBluetoothDeviceData(bindkey=key),
                encrypted=key is not None,
            )

    def decode(
        self, address: str, service_data: dict[str, bytes], rssi_dbm: int, mono_s: float
    ) -> list[BleReading]:
        """Readings in one advert; [] (and a counter) for anything we cannot use."""
        self.counters.adverts += 1
        sensor = self._by_address.get(address.upper())
        if sensor is None:
            self.counters.ignored += 1
            return []
        payload = service_data.get(BTHOME_UUID)
        if not payload:
            self.counters.unknown += 1
            log.info("ble_advert_unknown", sensor=sensor.key, reason="no BTHome service data")
            return []
        try:
            return self._decode(address, sensor, payload, rssi_dbm, mono_s)
        except Exception as error:
            self.counters.undecodable += 1
            log.warning(
                "ble_advert_undecodable",
                sensor=sensor.key,
                error=repr(error),
                payload=payload.hex(),
            )
            return []

    def _decode(
        self, address: str, sensor: _Sensor, payload: bytes, rssi_dbm: int, mono_s: float
    ) -> list[BleReading]:
        encrypted = bool(payload[0] & 0x01)
        if sensor.encrypted and not encrypted:
            return self._reject(
                sensor, "undecodable", "plaintext advert from a sensor with a bindkey"
            )
        counter = int.from_bytes(payload[-8:-4], "little") if encrypted else None
        update = sensor.parser.update(_service_info(address, payload, rssi_dbm, mono_s))
        if encrypted and (sensor.parser.decryption_failed or not sensor.parser.bindkey_verified):
            return self._reject(
                sensor, "undecodable", "decryption failed (wrong or missing bindkey)"
            )
        if counter is not None:
            if counter <= sensor.last_counter:
                return self._reject(
                    sensor, "replayed", f"packet counter {counter} <= {sensor.last_counter}"
                )
            sensor.last_counter = counter
        readings = [
            BleReading(sensor.key, _SIGNALS[name], bool(value.native_value))
            for device_key, value in update.binary_entity_values.items()
            if (name := device_key.key.split("_")[0]) in _SIGNALS
        ]
        if not readings:
            if not update.entity_values and not update.binary_entity_values:
                return self._reject(sensor, "undecodable", "no valid BTHome v2 objects")
            self.counters.unknown += 1
            return []
        self.counters.decoded += 1
        self.counters.last_heard_s[sensor.key] = mono_s
        return readings

    def _reject(self, sensor: _Sensor, counter: str, reason: str) -> list[BleReading]:
        setattr(self.counters, counter, getattr(self.counters, counter) + 1)
        log.warning(f"ble_advert_{counter}", sensor=sensor.key, reason=reason)
        return []


def _service_info(address: str, payload: bytes, rssi_dbm: int, mono_s: float) -> Any:
    from habluetooth.models import BluetoothServiceInfoBleak

    return BluetoothServiceInfoBleak(
        name=address,
        address=address,
        rssi=rssi_dbm,
        manufacturer_data={},
        service_data={BTHOME_UUID: payload},
        service_uuids=[BTHOME_UUID],
        source="local",
        device=None,  # type: ignore[arg-type]  # bthome-ble reads only the fields above
        advertisement=None,
        connectable=False,
        time=mono_s,
        tx_power=None,
        raw=None,
    )


class BleScanner:
    """bleak's scanner feeding a decoder; readings go to `on_readings`."""

    def __init__(
        self,
        decoder: BthomeDecoder,
        on_readings: Callable[[list[BleReading]], None],
        adapter: str | None = None,
    ) -> None:
        self.decoder = decoder
        self._on_readings = on_readings
        self._adapter = adapter
        self._scanner: Any = None

    def detection_callback(self, device: Any, advertisement: Any) -> None:
        """Called by bleak for every advert (`BLEDevice`, `AdvertisementData`)."""
        readings = self.decoder.decode(
            device.address, dict(advertisement.service_data), advertisement.rssi, time.monotonic()
        )
        if readings:
            self._on_readings(readings)

    def feed(self, address: str, payload: bytes, rssi_dbm: int = -60) -> None:
        """Feed raw BTHome service data as if bleak had heard it (simulator hook)."""
        readings = self.decoder.decode(address, {BTHOME_UUID: payload}, rssi_dbm, time.monotonic())
        if readings:
            self._on_readings(readings)

    async def start(self) -> None:
        from bleak import BleakScanner

        bluez = {"adapter": self._adapter} if self._adapter else {}
        self._scanner = BleakScanner(detection_callback=self.detection_callback, bluez=bluez)  # type: ignore[arg-type]
        try:
            await self._scanner.start()
        except Exception as error:
            # No BlueZ/D-Bus (FileNotFoundError on its socket), no adapter, or no permission:
            # the installer's problem to fix, said in one line. We do not run on without BLE:
            # alives would then claim its desks were observed (and vacant).
            self._scanner = None
            raise BleUnavailableError(
                f"BLE adapter {self._adapter or 'default'}: cannot scan "
                f"({type(error).__name__}: {error}); is bluetoothd running "
                "(systemctl status bluetooth) and is the agent in group bluetooth? "
                "`hubsense edge doctor` checks it"
            ) from error
        log.info("ble_scanning", adapter=self._adapter or "default")

    async def stop(self) -> None:
        if self._scanner is not None:
            await asyncio.shield(self._scanner.stop())
            self._scanner = None
