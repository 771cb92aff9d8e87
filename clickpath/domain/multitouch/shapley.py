"""Shapley values: the raw game solver, and the data-driven path game of the `shapley` model.

`shapley_values(players, worth)` solves any cooperative game: exactly, by enumerating the
2^n coalitions, when n <= exact_max; above it, by a documented deterministic approximation:
permutation sampling (Castro, Gomez, Tejada 2009) over `PERMUTATIONS` random orders drawn
from `random.Random(SEED)` over the players sorted by name. Each sampled order's marginal
contributions add up to v(all) - v(empty), so the approximation keeps efficiency exactly;
symmetry and the dummy property hold in expectation (a dummy gets exactly 0).

The model's game (Shao & Li 2011, "Data-driven multi-touch attribution models", KDD;
Dalessandro et al. 2012, "Causally motivated attribution for online advertising"): for a
converting path, the players are its distinct channels and a coalition S is worth the
conversion rate of the paths whose set of distinct channels is exactly S (0 when no path
has exactly S, and for the empty coalition). Non-converting paths enter through those
rates. A path's Shapley values, negative ones clipped to 0, are normalised into its shares;
if none is positive its channels share equally. Shares depend only on the distinct channel
set, so they are computed once per set.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from math import factorial

from clickpath.domain.multitouch.aggregate import Aggregate

PERMUTATIONS = 2_000
SEED = 15


def _exact(n: int, worth_of_mask: Callable[[int], float]) -> list[float]:
    """phi_i = sum over S of w(|S|-1) v(S) [i in S] - w(|S|) v(S) [i not in S],
    w(s) = s! (n-s-1)! / n!; only coalitions worth something cost anything past the lookup."""
    weight = [factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)]
    phi = [0.0] * n
    for mask in range(1, 1 << n):
        v = worth_of_mask(mask)
        if not v:
            continue
        size = mask.bit_count()
        gain = weight[size - 1] * v
        loss = weight[size] * v if size < n else 0.0
        for i in range(n):
            if mask >> i & 1:
                phi[i] += gain
            else:
                phi[i] -= loss
    return phi


def _sampled(n: int, worth_of_mask: Callable[[int], float]) -> list[float]:
    rng = random.Random(SEED)
    order = list(range(n))
    phi = [0.0] * n
    empty = worth_of_mask(0)
    for _ in range(PERMUTATIONS):
        rng.shuffle(order)
        mask, before = 0, empty
        for i in order:
            mask |= 1 << i
            after = worth_of_mask(mask)
            phi[i] += after - before
            before = after
    return [p / PERMUTATIONS for p in phi]


def _solve(n: int, worth_of_mask: Callable[[int], float], exact_max: int) -> list[float]:
    return _exact(n, worth_of_mask) if n <= exact_max else _sampled(n, worth_of_mask)


def shapley_values(
    players: Sequence[str], worth: Callable[[frozenset[str]], float], *, exact_max: int = 15
) -> dict[str, float]:
    """The Shapley value of each of `players` in the game `worth` (exact up to `exact_max`)."""
    names = sorted(set(players))
    cache: dict[int, float] = {}

    def worth_of_mask(mask: int) -> float:
        v = cache.get(mask)
        if v is None:
            v = cache[mask] = worth(frozenset(p for i, p in enumerate(names) if mask >> i & 1))
        return v

    if not names:
        return {}
    return dict(zip(names, _solve(len(names), worth_of_mask, exact_max), strict=True))


def normalised(phi: Sequence[float]) -> list[float]:
    """Shares from Shapley values: negatives clipped to 0, then scaled to sum 1 (else equal)."""
    clipped = [max(p, 0.0) for p in phi]
    total = sum(clipped)
    if total <= 0.0:
        return [1.0 / len(phi)] * len(phi)
    return [p / total for p in clipped]


def shapley_shares(agg: Aggregate, exact_max: int) -> dict[tuple[str, ...], dict[str, float]]:
    """Shares per distinct channel set (as its sorted tuple) of every converting path.

    Channels are numbered once and a coalition is a bit mask of those numbers, so a coalition's
    worth is one dict lookup of an int.
    """
    bit: dict[str, int] = {}
    stats: dict[int, list[int]] = {}  # set mask -> [converted, paths]
    for seq, group in agg.groups.items():
        mask = 0
        for c in seq:
            b = bit.get(c)
            if b is None:
                b = bit[c] = 1 << len(bit)
            mask |= b
        s = stats.setdefault(mask, [0, 0])
        s[0] += group.converted
        s[1] += group.converted + group.not_converted
    rate = {mask: conv / n for mask, (conv, n) in stats.items() if conv}
    out: dict[tuple[str, ...], dict[str, float]] = {}
    for seq, group in agg.groups.items():
        if not group.converted:
            continue
        players = tuple(sorted(set(seq)))
        if players in out:
            continue
        phi = _solve(len(players), _path_game(players, bit, rate, exact_max), exact_max)
        out[players] = dict(zip(players, normalised(phi), strict=True))
    return out


def _path_game(
    players: tuple[str, ...], bit: dict[str, int], rate: dict[int, float], exact_max: int
) -> Callable[[int], float]:
    """v(local coalition mask) for one path's players: a table of global masks when exact."""
    bits = [bit[p] for p in players]
    if len(players) <= exact_max:
        table = _global_masks(bits)
        return lambda local: rate.get(table[local], 0.0)
    # Too many players for one table: one per 8 players, a local mask read a byte at a time.
    tables = [_global_masks(bits[i : i + 8]) for i in range(0, len(bits), 8)]

    def sampled_worth(local: int) -> float:
        mask = 0
        for table in tables:
            mask |= table[local & 0xFF]
            local >>= 8
        return rate.get(mask, 0.0)

    return sampled_worth


def _global_masks(bits: list[int]) -> list[int]:
    """For every local mask over `bits`, the union of those global bits."""
    table = [0] * (1 << len(bits))
    for local in range(1, len(table)):
        low = local & -local
        table[local] = table[local ^ low] | bits[low.bit_length() - 1]
    return table
