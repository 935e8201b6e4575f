"""Mosquitto password hashes: the exact `$7$` format of mosquitto_passwd 2.0.11, both ways."""

from __future__ import annotations

import base64
import subprocess

import pytest
from hubsense.provision.passwords import (
    ITERATIONS,
    check_username,
    is_hash,
    matches,
    mosquitto_hash,
    new_secret,
    password_file_text,
)

# Made here with `mosquitto_passwd -c -b FILE alice s3cret` (Mosquitto 2.0.11).
MOSQUITTO_LINE = (
    "alice:$7$101$S3OahrHaNABjMRZk$"
    "OkQuNM0ipDI1UpeMse+JIYJuPlMnDdoRd9UK0RhpvByzrB4TztIhX5eVnHNifQ4CEWgtmZWVVV0ODVPtC8tUtg=="
)


def test_hash_of_mosquitto_passwd_is_reproduced_byte_for_byte() -> None:
    hashed = MOSQUITTO_LINE.split(":", 1)[1]
    salt = base64.b64decode(hashed.split("$")[3])
    assert len(salt) == 12
    assert mosquitto_hash("s3cret", salt=salt) == hashed
    assert matches("s3cret", hashed)
    assert not matches("s3cret ", hashed)
    assert not matches("S3cret", hashed)


def test_hash_matches_a_fresh_mosquitto_passwd_run(tmp_path) -> None:
    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "bob", "pa:ss w0rd"], check=True)
    user, hashed = path.read_text().strip().split(":", 1)
    assert user == "bob" and hashed.startswith(f"$7${ITERATIONS}$")
    assert matches("pa:ss w0rd", hashed)
    salt = base64.b64decode(hashed.split("$")[3])
    assert mosquitto_hash("pa:ss w0rd", salt=salt) == hashed


def test_our_hash_has_the_mosquitto_shape_and_a_random_salt() -> None:
    first, second = mosquitto_hash("x"), mosquitto_hash("x")
    assert first != second  # salted
    for hashed in (first, second):
        _, seven, iterations, salt, digest = hashed.split("$")
        assert (seven, iterations) == ("7", "101")
        assert len(base64.b64decode(salt)) == 12 and len(base64.b64decode(digest)) == 64
        assert matches("x", hashed) and is_hash(hashed)


def test_secrets_are_random_and_urlsafe() -> None:
    assert new_secret(lambda n: bytes(range(n))) == base64.urlsafe_b64encode(
        bytes(range(32))
    ).decode().rstrip("=")
    values = {new_secret() for _ in range(50)}
    assert len(values) == 50
    assert all(len(v) == 43 and v.replace("-", "").replace("_", "").isalnum() for v in values)


def test_password_file_is_sorted_hashes_only() -> None:
    a, b = mosquitto_hash("a"), mosquitto_hash("b")
    text = password_file_text([("pi-b", b), ("hubsense_ingest", a)])
    assert text.splitlines()[1:] == [f"hubsense_ingest:{a}", f"pi-b:{b}"]
    with pytest.raises(ValueError, match="not a \\$7\\$ hash"):
        password_file_text([("pi-a", "plaintext")])
    with pytest.raises(ValueError, match="username"):
        check_username("evil:user")
