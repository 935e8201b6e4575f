"""The one JIT policy of every analytics kernel.

All kernels are compiled the same way: no Python objects (`nopython`), cached on
disk so a CLI run does not pay the compile again (`cache=True`), and releasing
the GIL so callers may run sites on threads. Kernels must not do I/O or read
the clock; this module must not import anything but numba.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

F = TypeVar("F", bound=Callable[..., Any])

# Sentinel for "open-ended" interval ends and exhausted boundary streams: larger than any
# millisecond timestamp (2**53 is the wire contract's bound) and still safe to add to.
FOREVER_MS = 2**62


def kernel(function: F) -> F:
    """Compile `function` with the project's single numba policy."""
    return numba.njit(cache=True, nogil=True, boundscheck=False)(function)  # type: ignore[return-value]


def step(function: F) -> F:
    """A small helper called per event or boundary: the same policy, inlined into its callers.

    Inlining at numba's IR level also removes the array reference counting a call would
    do on every event, which otherwise costs more than the arithmetic.
    """
    return numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")(function)  # type: ignore[return-value]
