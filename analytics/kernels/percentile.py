"""Desks needed: the nearest-rank percentile of daily peaks, exact in integers (docs/metrics.md).

Sort the peaks of the open days ascending and take the ⌈p/100 · n⌉-th (1-based, at
least the first); 0 when no day was open. `p` is a Fraction so 99.5 stays exact.

Pure Python integer and Fraction arithmetic: no floating point, no numba.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

PERCENT = 100


def nearest_rank(values: Iterable[int], p: Fraction) -> int:
    """The nearest-rank p-th percentile of `values`; 0 for no values."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return 0
    rank = -((-p * n) // PERCENT)  # ceil(p·n/100) without leaving Fraction/int
    return ordered[max(1, min(n, int(rank))) - 1]


def parse_percentile(text: str) -> Fraction:
    """`95`, `99.5` or `50` as an exact Fraction in (0, 100]; ValueError otherwise."""
    try:
        p = Fraction(text.strip())
    except (ValueError, ZeroDivisionError) as error:
        raise ValueError("not a number (e.g. 95 or 99.5)") from error
    if not 0 < p <= PERCENT:
        raise ValueError("must be above 0 and at most 100 (e.g. 95)")
    return p
