"""Find a server binary; install its Debian package when it is missing and we are root.

Must not install anything as a normal user or on a machine without apt-get:
then one line names the package to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from hubsense.errors import ServiceError
from hubsense.host import is_root
from hubsense.logs import get_logger

log = get_logger(__name__)

APT_TIMEOUT_S = 900


def require_binary(path: Path, package: str, *, may_install: bool | None = None) -> Path:
    """Return `path` if it is executable, installing `package` first when we may.

    `may_install` defaults to: we are root and apt-get exists.
    """
    if os.access(path, os.X_OK):
        return path
    if may_install is None:
        may_install = is_root() and shutil.which("apt-get") is not None
    if not may_install:
        raise ServiceError(
            f"{path}: not found; install the Debian package {package!r} "
            f"(sudo apt-get install -y {package})"
        )
    install_package(package)
    if not os.access(path, os.X_OK):
        raise ServiceError(f"{path}: still missing after installing {package!r}")
    return path


def install_package(package: str) -> None:
    """`apt-get install -y package`, running `apt-get update` once if the first try fails."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    log.info("package_installing", package=package)
    if subprocess.run(install, env=env, capture_output=True, timeout=APT_TIMEOUT_S).returncode == 0:
        return
    subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=APT_TIMEOUT_S)
    result = subprocess.run(install, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ServiceError(f"apt-get install {package}: failed: {last}")
