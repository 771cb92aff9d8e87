"""Exact sums: float credits per channel become Decimals that add up to the total exactly.

Every model first says, in float, how much of the total each channel deserves (its "ideal").
The total is then cut into quanta (conversions: 0.000001; value: 0.0001, ClickHouse's
Decimal(20,4)) and dealt out by the largest-remainder (Hamilton) method: each channel gets the
whole quanta of its ideal, and the quanta left over go to the largest fractional parts, ties
to the channel whose name sorts first. The float ideals are first corrected, in exact
rational arithmetic, so that they add up to the total (float sums drift by far less than one
quantum; the correction is spread in proportion to each ideal's size), which keeps the
leftover below one quantum per channel. Never rounds a total: what is dealt out is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from math import floor

CONVERSION_QUANTUM = Decimal("0.000001")
VALUE_QUANTUM = Decimal("0.0001")


def quantize_total(total: Decimal, quantum: Decimal) -> Decimal:
    """The total as a whole number of quanta (inputs finer than the quantum are rounded once)."""
    return total.quantize(quantum)


def allocate(total: Decimal, ideal: Mapping[str, float], quantum: Decimal) -> dict[str, Decimal]:
    """Split `total` (a multiple of `quantum`) among the channels of `ideal`, summing exactly.

    `ideal` may hold negative numbers (NGR can be negative); a channel's result is within one
    quantum of its corrected ideal. With no ideal at all, or all ideals zero while the total is
    not, the total goes in equal parts (then by largest remainder) to the channels named.
    """
    channels = sorted(ideal)
    if not channels:
        if total != 0:
            raise ValueError("a non-zero total needs at least one channel")
        return {}
    units = int(total / quantum)
    if Decimal(units) * quantum != total:
        raise ValueError("the total must be a whole number of quanta")
    q = Fraction(quantum)
    exact = {c: Fraction(ideal[c]) / q for c in channels}
    size = sum(abs(v) for v in exact.values())
    drift = units - sum(exact.values())
    if size == 0:
        exact = {c: Fraction(units, len(channels)) for c in channels}
    elif drift:
        exact = {c: v + drift * abs(v) / size for c, v in exact.items()}
    whole = {c: floor(v) for c, v in exact.items()}
    left = units - sum(whole.values())
    # Largest fractional part first, then the name; `left` is below len(channels) unless the
    # ideals were far off, and then it cycles (and, if negative, takes from the smallest parts).
    order = sorted(channels, key=lambda c: (-(exact[c] - whole[c]), c))
    if left < 0:
        order = order[::-1]
    step = 1 if left > 0 else -1
    for i in range(abs(left)):
        whole[order[i % len(order)]] += step
    return {c: Decimal(whole[c]) * quantum for c in channels}
