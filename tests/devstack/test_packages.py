"""Missing server binaries: one line naming the package, or apt-get when we are root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hubsense.devstack.packages import require_binary

from hubsense.errors import ServiceError


def test_present_binary_is_returned() -> None:
    assert require_binary(Path("/usr/sbin/mosquitto"), "mosquitto") == Path("/usr/sbin/mosquitto")


def test_missing_binary_without_install_rights_names_the_package() -> None:
    with pytest.raises(ServiceError) as error:
        require_binary(Path("/nonexistent/bin/mosquitto"), "mosquitto", may_install=False)
    assert str(error.value) == (
        "/nonexistent/bin/mosquitto: not found; install the Debian package 'mosquitto' "
        "(sudo apt-get install -y mosquitto)"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="apt-get runs only as root")
@pytest.mark.slow
def test_missing_binary_as_root_runs_apt_get() -> None:
    # mosquitto is installed already, so apt-get succeeds without downloading; the binary
    # path is still wrong, which proves apt-get ran and the result was checked.
    with pytest.raises(ServiceError) as error:
        require_binary(Path("/nonexistent/bin/mosquitto"), "mosquitto")
    assert (
        str(error.value) == "/nonexistent/bin/mosquitto: still missing after installing 'mosquitto'"
    )
