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
# numba's target option for reference counting (`_nrt`, stable since 0.4x but not in its
# typed signature, hence a dict).
_NO_NRT: dict[str, Any] = {"_nrt": False}


def kernel(function: F) -> F:
    """Compile `function` with the project's single numba policy."""
    return numba.njit(cache=True, nogil=True, boundscheck=False)(function)  # type: ignore[return-value]


def step(function: F) -> F:
    """A small helper called per event or boundary: the same policy, inlined into its callers.

    Inlining at numba's IR level removes the call. It does not remove the reference counts
    of array arguments when the helper branches (measured: about 20 ns per call); hot
    loops that need that use `loop` and `loop_step`.
    """
    return numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")(function)  # type: ignore[return-value]


def loop(function: F) -> F:
    """A per-event loop over arrays its caller made, and the helpers it calls: the same policy
    with numba's reference counting (NRT) off, so it may not allocate.

    With NRT on, every call of a helper that branches (inlined or not) increfs and decrefs
    each array argument: about 20 ns per call, measured, which is ten times the arithmetic
    of an event. Arrays reach such a loop already owned by the caller, so no count is needed.
    """
    return numba.njit(cache=True, nogil=True, boundscheck=False, **_NO_NRT)(function)  # type: ignore[no-any-return]


def loop_step(function: F) -> F:
    """A helper of a `loop` called per event: inlined into it (a call passing many arrays
    costs more than the helper's arithmetic), reference counting off like its caller."""
    return numba.njit(  # type: ignore[no-any-return]
        cache=True, nogil=True, boundscheck=False, inline="always", **_NO_NRT
    )(function)
