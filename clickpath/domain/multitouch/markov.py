"""First-order Markov-chain attribution by removal effect, exact from the transition matrix.

The published algorithm (Anderl, Becker, von Wangenheim, Schumann 2016, "Mapping the customer
journey: Lessons learned from graph-based online attribution modeling", IJRM 33(3); the same
as the R package ChannelAttribution's `markov_model` with order 1): states `start`, one per
channel, and the absorbing `conversion` and `null`. Every path with a touch adds the
transitions start -> c1 -> ... -> cn -> conversion (converted) or -> null (not converted);
transition probabilities are the counts normalised per state. P = the probability of being
absorbed in `conversion` from `start`. Removing channel c sends every transition into c to
`null`; its removal effect is RE(c) = 1 - P_without_c / P, and channels get credit in
proportion to RE. Unlike ChannelAttribution, nothing is simulated: P solves the linear system
(I - Q) x = r (Q transient-to-transient probabilities, r transient-to-conversion), and every
P_without_c comes from the same inverse: a walk converts without c unless it first reaches c
and then converts, so P_without_c = P - h_c * x_c, with h_c = N[start, c] / N[c, c] the
probability of ever reaching c (N = (I - Q)^-1). One O(k^3) inverse for k channels, instead of
k solves. A repeated channel's self-transition (A -> A) changes no absorption probability.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clickpath.domain.multitouch.aggregate import Aggregate

Counts = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Chain:
    """Transition counts. Rows/columns: 0 start, 1..k channels (sorted), k+1 conversion, k+2 null."""

    channels: tuple[str, ...]
    counts: Counts

    @property
    def conversion(self) -> int:
        return len(self.channels) + 1

    @property
    def null(self) -> int:
        return len(self.channels) + 2


def chain_of(sequences: Iterable[tuple[tuple[str, ...], int, int]]) -> Chain:
    """Count transitions of (sequence, converted paths, not converted paths); empty ones skipped."""
    pairs: dict[tuple[str, str], int] = {}
    ends: dict[str, list[int]] = {}
    starts: dict[str, int] = {}
    for seq, converted, not_converted in sequences:
        n = converted + not_converted
        if not seq or not n:
            continue
        starts[seq[0]] = starts.get(seq[0], 0) + n
        for a, b in zip(seq, seq[1:], strict=False):
            pairs[a, b] = pairs.get((a, b), 0) + n
        end = ends.setdefault(seq[-1], [0, 0])
        end[0] += converted
        end[1] += not_converted
    channels = tuple(sorted(set(starts) | set(ends) | {c for pair in pairs for c in pair}))
    index = {c: i + 1 for i, c in enumerate(channels)}
    k = len(channels)
    counts = np.zeros((k + 3, k + 3))
    for c, n in starts.items():
        counts[0, index[c]] += n
    for (a, b), n in pairs.items():
        counts[index[a], index[b]] += n
    for c, (converted, not_converted) in ends.items():
        counts[index[c], k + 1] += converted
        counts[index[c], k + 2] += not_converted
    return Chain(channels, counts)


def _transient(chain: Chain) -> tuple[Counts, Counts]:
    """Q (start and channels to themselves) and r (to conversion), as probabilities."""
    k = len(chain.channels)
    totals = chain.counts.sum(axis=1)
    totals[totals == 0] = 1.0  # only the absorbing rows are empty
    probs = chain.counts / totals[:, None]
    return probs[: k + 1, : k + 1], probs[: k + 1, k + 1]


def conversion_probability(chain: Chain, removed: str | None = None) -> float:
    """P(absorbed in conversion | start), by one linear solve; `removed` sends its inflow to null."""
    if not chain.channels:
        return 0.0
    q, r = _transient(chain)
    keep = np.ones(len(r), dtype=bool)
    if removed is not None:
        keep[chain.channels.index(removed) + 1] = False
    q, r = q[np.ix_(keep, keep)], r[keep]
    x = np.linalg.solve(np.eye(len(r)) - q, r)
    return float(x[0])


def removal_effects(chain: Chain) -> dict[str, float]:
    """RE(c) = 1 - P_without_c / P for every channel (all 0 when P is 0)."""
    if not chain.channels:
        return {}
    q, r = _transient(chain)
    fundamental = np.linalg.inv(np.eye(len(r)) - q)
    x = fundamental @ r
    p = float(x[0])
    if p <= 0.0:
        return {c: 0.0 for c in chain.channels}
    reach = fundamental[0, 1:] / np.diag(fundamental)[1:]
    effects = reach * x[1:] / p
    return {c: max(float(e), 0.0) for c, e in zip(chain.channels, effects, strict=True)}


def markov_shares(agg: Aggregate) -> dict[str, float]:
    """Channel shares of every conversion: RE normalised to sum 1.

    All RE are 0 only when P is 0, which means no conversion to deal out (a converting path's
    last channel always has RE > 0); should float ever give that anyway, the shares fall back
    to the linear model's, so the credit still goes to the converting paths' touches.
    """
    chain = chain_of((seq, g.converted, g.not_converted) for seq, g in agg.groups.items())
    effects = removal_effects(chain)
    total = sum(effects.values())
    if total > 0:
        return {c: e / total for c, e in effects.items() if e > 0}
    linear: dict[str, float] = {}
    for seq, g in agg.groups.items():
        for c in seq:
            if g.converted:
                linear[c] = linear.get(c, 0.0) + g.converted / len(seq)
    denom = sum(linear.values()) or 1.0
    return {c: v / denom for c, v in linear.items()}
