"""BTHome v2 adverts (literal bytes and built ones) through the callback bleak calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from hubsense.edge.core.machine import Signal
from hubsense.edge.io.ble import BTHOME_UUID, BleReading, BleScanner, BthomeDecoder
from hubsense.edge.io.bthome_adverts import build_advert

from hubsense.inventory.model import BthomeSensor

PLAIN = "A4:C1:38:00:00:01"
SECRET = "A4:C1:38:00:00:02"
KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")


@pytest.fixture
def scanner() -> Iterator[tuple[BleScanner, list[BleReading]]]:
    sensors = [
        BthomeSensor(type="bthome", address=PLAIN, desk="d1"),
        BthomeSensor(type="bthome", address=SECRET, desk="d2", bindkey=KEY.hex()),
    ]
    got: list[BleReading] = []
    yield BleScanner(BthomeDecoder(sensors), got.extend), got


def hear(
    scanner: BleScanner, address: str, service_data: dict[str, bytes], rssi: int = -60
) -> None:
    """Exactly what bleak does for each advertisement: detection_callback(device, adv)."""
    device = BLEDevice(address, None, None)
    adv = AdvertisementData(
        local_name=None,
        manufacturer_data={},
        service_data=service_data,
        service_uuids=list(service_data),
        tx_power=None,
        rssi=rssi,
        platform_data=(),
    )
    scanner.detection_callback(device, adv)


def test_plain_v2_literal_bytes_motion_occupancy_presence(scanner) -> None:  # type: ignore[no-untyped-def]
    s, got = scanner
    # 0x40: v2 unencrypted; 00 07: packet id 7; 21 01 motion; 23 00 occupancy off; 25 01 presence.
    hear(s, PLAIN, {BTHOME_UUID: bytes.fromhex("400007210123002501")})
    assert sorted(got, key=lambda r: r.signal.value) == [
        BleReading("ble:A4:C1:38:00:00:01", Signal.MOTION_PULSE, True),
        BleReading("ble:A4:C1:38:00:00:01", Signal.OCCUPANCY, False),
        BleReading("ble:A4:C1:38:00:00:01", Signal.PRESENCE, True),
    ]
    assert s.decoder.counters.decoded == 1


def test_built_plain_advert_matches_the_literal_bytes() -> None:
    built = build_advert([("packet_id", 7), ("motion", 1), ("occupancy", 0), ("presence", 1)])
    assert built == bytes.fromhex("400007210123002501")


def test_encrypted_v2_with_the_bindkey(scanner) -> None:  # type: ignore[no-untyped-def]
    s, got = scanner
    payload = build_advert([("occupancy", 1)], mac=SECRET, bindkey=KEY, counter=1)
    assert payload[0] == 0x41 and len(payload) == 1 + 2 + 4 + 4
    assert b"\x23\x01" not in payload  # the object is not readable on air
    hear(s, SECRET, {BTHOME_UUID: payload})
    assert got == [BleReading("ble:A4:C1:38:00:00:02", Signal.OCCUPANCY, True)]


def test_wrong_bindkey_is_counted_not_raised(scanner) -> None:  # type: ignore[no-untyped-def]
    s, got = scanner
    forged = build_advert([("occupancy", 1)], mac=SECRET, bindkey=bytes(16), counter=5)
    hear(s, SECRET, {BTHOME_UUID: forged})
    hear(s, SECRET, {BTHOME_UUID: forged[:-1] + bytes([forged[-1] ^ 1])})
    assert got == [] and s.decoder.counters.undecodable == 2


def test_replayed_packet_counter_is_refused(scanner) -> None:  # type: ignore[no-untyped-def]
    s, got = scanner
    first = build_advert([("occupancy", 1)], mac=SECRET, bindkey=KEY, counter=41)
    hear(s, SECRET, {BTHOME_UUID: first})
    later = build_advert([("occupancy", 0)], mac=SECRET, bindkey=KEY, counter=42)
    hear(s, SECRET, {BTHOME_UUID: later})
    hear(s, SECRET, {BTHOME_UUID: first})  # recorded and sent again
    older = build_advert([("occupancy", 1)], mac=SECRET, bindkey=KEY, counter=40)
    hear(s, SECRET, {BTHOME_UUID: older})
    assert [r.value for r in got] == [True, False]
    assert s.decoder.counters.replayed == 2


def test_plaintext_from_an_encrypted_sensor_is_refused(scanner) -> None:  # type: ignore[no-untyped-def]
    s, got = scanner
    hear(s, SECRET, {BTHOME_UUID: build_advert([("occupancy", 1)])})
    assert got == [] and s.decoder.counters.undecodable == 1


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # empty
        b"\xff\x00garbage",  # version 7
        b"\x40",  # header only
        b"\x40\x23",  # truncated object
        b"\x40\xfe\x01\x02",  # unknown object id
        b"\x41\x00",  # claims encryption, far too short
        bytes(range(256))[:40],
    ],
)
def test_garbage_never_raises(scanner, payload: bytes) -> None:  # type: ignore[no-untyped-def]
    s, got = scanner
    hear(s, PLAIN, {BTHOME_UUID: payload})
    c = s.decoder.counters
    assert got == [] and c.adverts == 1 and c.decoded == 0
    assert c.unknown + c.undecodable == 1


def test_strangers_and_other_services_are_counted(scanner) -> None:  # type: ignore[no-untyped-def]
    s, got = scanner
    hear(s, "11:22:33:44:55:66", {BTHOME_UUID: build_advert([("occupancy", 1)])})
    hear(s, PLAIN, {"0000180f-0000-1000-8000-00805f9b34fb": b"\x64"})  # battery service only
    assert got == []
    assert (s.decoder.counters.ignored, s.decoder.counters.unknown) == (1, 1)


def test_feed_hook_uses_the_same_decoder(scanner) -> None:  # type: ignore[no-untyped-def]
    s, got = scanner
    s.feed(PLAIN.lower(), build_advert([("presence", 1)]))
    assert got == [BleReading("ble:A4:C1:38:00:00:01", Signal.PRESENCE, True)]
