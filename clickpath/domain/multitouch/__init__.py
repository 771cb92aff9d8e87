"""TEMP stand-in for the mtmodels branch's multi-touch models (dropped at merge).

Only the contract's names and signatures (/work/wt/CONTRACT.md); `attribute` credits the last
touch of each converted path whatever model is asked, so that the analyst interface can be
built and type-checked before the real models land.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

MODELS: tuple[str, ...] = ("first", "last", "linear", "time_decay", "position", "markov", "shapley")


@dataclass(frozen=True, slots=True)
class Path:
    channels: tuple[str, ...]
    ages_s: tuple[float, ...]
    converted: bool
    value: Mapping[str, Decimal]


@dataclass(frozen=True)
class ModelParams:
    half_life_days: float = 7.0
    position_first: Decimal = Decimal("0.4")
    position_last: Decimal = Decimal("0.4")
    shapley_exact_max: int = 15


@dataclass(frozen=True)
class Credit:
    model: str
    channel: str
    conversions: Decimal
    value: dict[str, Decimal]


def attribute(
    paths: Iterable[Path], models: Sequence[str], params: ModelParams = ModelParams()
) -> list[Credit]:
    """Last-touch credit under every model name (stand-in only)."""
    paths = [p for p in paths if p.converted and p.channels]
    credits: list[Credit] = []
    for model in models:
        by_channel: dict[str, Credit] = {}
        for p in paths:
            channel = p.channels[-1]
            c = by_channel.setdefault(channel, Credit(model, channel, Decimal(0), {}))
            by_channel[channel] = Credit(
                model,
                channel,
                c.conversions + 1,
                {
                    cur: c.value.get(cur, Decimal(0)) + p.value.get(cur, Decimal(0))
                    for cur in {*c.value, *p.value}
                },
            )
        credits.extend(by_channel[k] for k in sorted(by_channel))
    return credits
