"""The rule-based models: first, last, linear, position-based (by sequence) and time decay.

Each gives a converting path's touches shares that sum to 1; a channel that repeats collects
the shares of all its touches. Time decay needs each path's ages, so it runs per path; the
others run once per distinct sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from clickpath.domain.multitouch.aggregate import Aggregate
from clickpath.domain.multitouch.paths import ModelParams, Path

Shares = dict[str, float]
Masses = tuple[dict[str, float], dict[str, dict[str, float]]]  # conversions, value per currency

DAY_S = 86_400.0


def first_touch(seq: tuple[str, ...]) -> Shares:
    return {seq[0]: 1.0}


def last_touch(seq: tuple[str, ...]) -> Shares:
    return {seq[-1]: 1.0}


def linear(seq: tuple[str, ...]) -> Shares:
    """Each touch 1/n."""
    share = 1.0 / len(seq)
    out: Shares = {}
    for c in seq:
        out[c] = out.get(c, 0.0) + share
    return out


def position_weights(n: int, first: Decimal, last: Decimal) -> list[float]:
    """Per touch: one touch takes all; two split first:last in proportion (50/50 with the
    defaults, equal when both are 0); three or more give first and last their shares and the
    middle touches the rest in equal parts."""
    if n == 1:
        return [1.0]
    f, la = float(first), float(last)
    if n == 2:
        if f + la == 0:
            return [0.5, 0.5]
        return [f / (f + la), la / (f + la)]
    middle = (1.0 - f - la) / (n - 2)
    return [f] + [middle] * (n - 2) + [la]


def position_based(params: ModelParams) -> Callable[[tuple[str, ...]], Shares]:
    cache: dict[int, list[float]] = {}

    def shares(seq: tuple[str, ...]) -> Shares:
        n = len(seq)
        weights = cache.get(n)
        if weights is None:
            weights = cache[n] = position_weights(n, params.position_first, params.position_last)
        out: Shares = {}
        for c, w in zip(seq, weights, strict=True):
            out[c] = out.get(c, 0.0) + w
        return out

    return shares


def time_decay_shares(path: Path, half_life_s: float) -> Shares:
    """Touch weight 2^(-age / half-life), normalised over the path.

    Ages are taken relative to the youngest touch (the same shares once normalised), so a path
    whose touches are all years old does not underflow to all-zero weights. Negative ages
    (a clock skew) count as 0.
    """
    ages = [max(a, 0.0) for a in path.ages_s]
    youngest = min(ages)
    weights = [2.0 ** (-(a - youngest) / half_life_s) for a in ages]
    total = sum(weights)
    out: Shares = {}
    for c, w in zip(path.channels, weights, strict=True):
        out[c] = out.get(c, 0.0) + w / total
    return out


def by_sequence(agg: Aggregate, shares_of: Callable[[tuple[str, ...]], Shares]) -> Masses:
    """Sum a sequence model's shares over the converted paths, for conversions and value."""
    conv: dict[str, float] = {}
    value: dict[str, dict[str, float]] = {cur: {} for cur in agg.value}
    for seq, group in agg.groups.items():
        if not group.converted:
            continue
        shares = shares_of(seq)
        amounts = [(value[cur], float(v)) for cur, v in group.value.items()]
        for c, s in shares.items():
            conv[c] = conv.get(c, 0.0) + s * group.converted
            for masses, v in amounts:
                masses[c] = masses.get(c, 0.0) + s * v
    return conv, value


def time_decay(agg: Aggregate, params: ModelParams) -> Masses:
    half_life_s = params.half_life_days * DAY_S
    conv: dict[str, float] = {}
    value: dict[str, dict[str, float]] = {cur: {} for cur in agg.value}
    for path in agg.converted_paths:
        shares = time_decay_shares(path, half_life_s)
        amounts = [(value[cur], float(v)) for cur, v in path.value.items()]
        for c, s in shares.items():
            conv[c] = conv.get(c, 0.0) + s
            for masses, v in amounts:
                masses[c] = masses.get(c, 0.0) + s * v
    return conv, value
