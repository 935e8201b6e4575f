"""Facts about the Pi the agent runs on: clock sync, CPU temperature, free disk.

Each function reads one thing and returns None when it cannot (not a Pi, no
permission); none of them raises. They must not change anything.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
from pathlib import Path

_THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")
# adjtimex(2) returns TIME_ERROR (5) while the kernel says the clock is not synchronised.
_TIME_ERROR = 5


class _Timex(ctypes.Structure):
    # struct timex is 208 bytes on 64-bit Linux and smaller on 32-bit; modes is the first
    # field and 0 means "read only". A generous buffer covers both layouts.
    _fields_ = [("modes", ctypes.c_uint), ("rest", ctypes.c_byte * 256)]


def clock_synced() -> bool | None:
    """Whether the kernel considers the clock NTP-synchronised (None: cannot tell)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        state = libc.adjtimex(ctypes.byref(_Timex(modes=0)))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return bool(state != _TIME_ERROR)


def cpu_temp_c() -> float | None:
    try:
        return int(_THERMAL.read_text().strip()) / 1000
    except (OSError, ValueError):
        return None


def disk_free_bytes(path: Path) -> int | None:
    try:
        probe = path if path.exists() else path.parent
        return shutil.disk_usage(probe).free
    except OSError:
        return None
