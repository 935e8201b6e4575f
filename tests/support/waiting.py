"""Polling for a condition that another thread or process makes true: the one `wait_for`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    check: Callable[[], Any],
    timeout_s: float = 30.0,
    what: str | Callable[[], str] = "condition",
) -> Any:
    """Call `check` every 50 ms until it returns something truthy, and return that.

    Tests wait on servers, threads and child processes whose timing we do not control;
    a fixed sleep is either flaky or slow. On timeout the assertion names `what` (a
    callable is asked only then, for descriptions that are costly to build) and the
    last falsy value.
    """
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > deadline:
            label = what() if callable(what) else what
            raise AssertionError(
                f"timed out after {timeout_s} s waiting for {label}; last: {value!r}"
            )
        time.sleep(0.05)
    return value
