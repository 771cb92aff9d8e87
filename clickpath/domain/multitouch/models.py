"""`attribute`: every requested model over the same paths, each dealing out exact totals.

One pass groups the paths (aggregate.py); each model turns the groups into float ideals per
channel, for conversions and for value per currency; allocation.py turns those into Decimals
that add up exactly to the conversions (6 places) and value (4 places per currency) of the
converted paths with at least one touch. Each model reports a row for every channel that
appears in a converting path (zero credit included, so the models line up side by side), plus
any other channel it credits (only Markov can: a channel seen only on non-converting paths
may still lead to conversions through the chain). Rows come model by model in the order
asked, channels sorted by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from clickpath.domain.multitouch import heuristics
from clickpath.domain.multitouch.aggregate import Aggregate, aggregate
from clickpath.domain.multitouch.allocation import (
    CONVERSION_QUANTUM,
    VALUE_QUANTUM,
    allocate,
    quantize_total,
)
from clickpath.domain.multitouch.heuristics import Masses
from clickpath.domain.multitouch.markov import markov_shares
from clickpath.domain.multitouch.paths import MODELS, Credit, ModelParams, Path
from clickpath.domain.multitouch.shapley import shapley_shares


def attribute(
    paths: Iterable[Path], models: Sequence[str], params: ModelParams = ModelParams()
) -> list[Credit]:
    """Credits of each model in `models` (names from MODELS) over `paths` (read once)."""
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown attribution model(s): {', '.join(unknown)}")
    wanted = list(dict.fromkeys(models))
    agg = aggregate(paths, keep_converted="time_decay" in wanted)
    channels = agg.credited_channels
    credits: list[Credit] = []
    for model in wanted:
        credits += _credits(model, model_masses(model, agg, params), agg, channels)
    return credits


def model_masses(model: str, agg: Aggregate, params: ModelParams) -> Masses:
    """One model's float ideals: conversions and value per currency, per channel."""
    if model == "first":
        return heuristics.by_sequence(agg, heuristics.first_touch)
    if model == "last":
        return heuristics.by_sequence(agg, heuristics.last_touch)
    if model == "linear":
        return heuristics.by_sequence(agg, heuristics.linear)
    if model == "position":
        return heuristics.by_sequence(agg, heuristics.position_based(params))
    if model == "time_decay":
        return heuristics.time_decay(agg, params)
    if model == "markov":
        shares = markov_shares(agg)
        value = {cur: {c: s * float(total) for c, s in shares.items()} for cur, total in agg.value.items()}
        return {c: s * agg.conversions for c, s in shares.items()}, value
    if model == "shapley":
        by_set = shapley_shares(agg, params.shapley_exact_max)
        return heuristics.by_sequence(agg, lambda seq: by_set[tuple(sorted(set(seq)))])
    raise ValueError(f"unknown attribution model: {model}")


def _credits(model: str, masses: Masses, agg: Aggregate, channels: set[str]) -> list[Credit]:
    conv_ideal, value_ideal = masses
    names = channels | {c for c, v in conv_ideal.items() if v}
    conv = allocate(
        quantize_total(Decimal(agg.conversions), CONVERSION_QUANTUM),
        {c: conv_ideal.get(c, 0.0) for c in names},
        CONVERSION_QUANTUM,
    )
    value = {
        cur: allocate(
            quantize_total(total, VALUE_QUANTUM),
            {c: value_ideal.get(cur, {}).get(c, 0.0) for c in names},
            VALUE_QUANTUM,
        )
        for cur, total in sorted(agg.value.items())
    }
    return [Credit(model, c, conv[c], {cur: value[cur][c] for cur in value}) for c in sorted(names)]
