"""The consumer's fast PUBLISH split and PUBACK bytes, with literal MQTT 5 bytes."""

from __future__ import annotations

from hubsense.ingest.mqtt_consumer import _client_class
from hubsense.ingest.mqtt_packets import PUBACK_PREFIX, puback_batches, split_publish


def test_publish_without_properties() -> None:
    # topic length 3 "a/b", packet id 0x0102, property length 0, payload.
    body = b"\x00\x03a/b\x01\x02\x00" + b'{"x":1}'
    assert split_publish(body) == (b"a/b", b'{"x":1}', 0x0102)


def test_publish_with_properties_skips_them() -> None:
    # property length 5: message expiry interval (0x02) = 60 seconds.
    body = b"\x00\x01t\xff\xfe\x05\x02\x00\x00\x00\x3cpayload"
    assert split_publish(body) == (b"t", b"payload", 0xFFFE)


def test_publish_with_two_byte_property_length() -> None:
    # 200 bytes of user property data: the length is the variable byte integer 0xC8 0x01.
    props = b"\x26\x00\x01k\x00\xc2" + b"v" * 194
    assert len(props) == 200
    body = b"\x00\x01t\x00\x07\xc8\x01" + props + b"P"
    assert split_publish(body) == (b"t", b"P", 7)


def test_empty_payload_is_kept_empty() -> None:
    assert split_publish(b"\x00\x01t\x00\x09\x00") == (b"t", b"", 9)


def test_malformed_bodies_fall_back_to_paho() -> None:
    assert split_publish(b"\x00") is None
    assert split_publish(b"\x00\x09abc\x00\x01\x00") is None  # topic longer than packet
    assert split_publish(b"\x00\x01t\x00\x01\x09") is None  # properties past the end
    assert split_publish(b"\x00\x01t\x00\x01\xff\xff\xff\xff\x01") is None  # 5-byte integer


def test_puback_bytes_are_mqtt_pubacks() -> None:
    # Fixed header 0x40, remaining length 2, then the packet id (MQTT 5 §3.4).
    assert PUBACK_PREFIX + (0x0A0B).to_bytes(2, "big") == b"\x40\x02\x0a\x0b"


def test_puback_batches_split_at_the_write_size() -> None:
    mids = list(range(1, 4098))  # one more than a write holds
    batches = list(puback_batches(mids))
    assert [len(b) for b in batches] == [4096 * 4, 4]
    assert batches[1] == b"\x40\x02\x10\x01"  # packet id 4097 = 0x1001
    assert list(puback_batches([])) == []


def test_fast_client_is_a_paho_client() -> None:
    import paho.mqtt.client as mqtt

    assert issubclass(_client_class(), mqtt.Client)
