"""The private CA and the broker certificate: constraints, names, signature, validity."""

from __future__ import annotations

import datetime as dt
import ipaddress

from cryptography import x509
from hubsense.provision import pki

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def test_ca_is_a_ca_for_end_entities_only() -> None:
    ca = pki.create_ca("Region Test", NOW)
    cert = ca.cert
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert cert.subject == cert.issuer
    assert cert.subject.rfc4514_string() == "CN=hubsense CA (Region Test),O=Region Test"
    assert cert.not_valid_before_utc == NOW - dt.timedelta(hours=1)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=3650)
    assert b"PRIVATE KEY" in ca.key_pem and b"ENCRYPTED" not in ca.key_pem


def test_server_cert_names_signature_and_usage() -> None:
    ca = pki.create_ca("Region Test", NOW)
    server = pki.create_server_cert(ca, ["mqtt.example.org", "10.0.0.5", "::1"], NOW)
    cert = server.cert
    cert.verify_directly_issued_by(ca.cert)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["mqtt.example.org"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.5"),
        ipaddress.ip_address("::1"),
    ]
    assert pki.server_hostnames(server.cert_pem) == ["mqtt.example.org", "10.0.0.5", "::1"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert pki.expires_at(server.cert_pem) == NOW + dt.timedelta(days=730)


def test_a_certificate_from_another_ca_does_not_verify() -> None:
    ours, theirs = pki.create_ca("A", NOW), pki.create_ca("A", NOW)
    server = pki.create_server_cert(theirs, ["localhost"], NOW)
    try:
        server.cert.verify_directly_issued_by(ours.cert)
    except Exception as error:
        assert type(error).__name__ == "InvalidSignature"
    else:
        raise AssertionError("a foreign certificate verified against our CA")


def test_fingerprint_is_sha256_colon_hex() -> None:
    ca = pki.create_ca("A", NOW)
    fp = pki.fingerprint(ca.cert_pem)
    assert len(fp.split(":")) == 32 and fp == fp.upper()
    assert (
        fp.replace(":", "").lower()
        == ca.cert.fingerprint(
            __import__("cryptography.hazmat.primitives.hashes", fromlist=["SHA256"]).SHA256()
        ).hex()
    )
