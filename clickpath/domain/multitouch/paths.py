"""The shared shapes of the multi-touch models: a person's path, the knobs, one credit row.

These are the names of CONTRACT.md (issue 15): the touchpoints branch builds `Path`s from
ClickHouse and the report prints `Credit`s. Pure data, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

MODELS: tuple[str, ...] = ("first", "last", "linear", "time_decay", "position", "markov", "shapley")

# The models' default knobs, the industry's: a 7-day half-life, 40/20/40. Every door (the API,
# the CLI, the sink's report endpoint) takes its defaults from here.
DEFAULT_HALF_LIFE_DAYS: Final = 7.0
DEFAULT_POSITION_FIRST: Final = Decimal("0.4")
DEFAULT_POSITION_LAST: Final = Decimal("0.4")


@dataclass(frozen=True, slots=True)
class Path:
    """One person's touches in time order (oldest first) and what their conversion carries.

    `ages_s[i]` is the time from touch i to the conversion (or to the path's end when the path
    did not convert); it matters only to the time-decay model.
    """

    channels: tuple[str, ...]
    ages_s: tuple[float, ...]
    converted: bool
    value: Mapping[str, Decimal]

    def __post_init__(self) -> None:
        if len(self.ages_s) != len(self.channels):
            raise ValueError("a path needs one age per touch")


@dataclass(frozen=True)
class ModelParams:
    """Knobs of the models; the defaults are DEFAULT_HALF_LIFE_DAYS and DEFAULT_POSITION_*."""

    half_life_days: float = DEFAULT_HALF_LIFE_DAYS
    position_first: Decimal = DEFAULT_POSITION_FIRST
    position_last: Decimal = DEFAULT_POSITION_LAST
    shapley_exact_max: int = 15

    def __post_init__(self) -> None:
        if not self.half_life_days > 0:
            raise ValueError("half_life_days must be > 0")
        if self.position_first < 0 or self.position_last < 0:
            raise ValueError("position shares must be >= 0")
        if self.position_first + self.position_last > 1:
            raise ValueError("position_first + position_last must be <= 1")
        if self.shapley_exact_max < 1:
            raise ValueError("shapley_exact_max must be >= 1")


@dataclass(frozen=True)
class Credit:
    """What one model gives one channel: a share of the conversions and of the value.

    Per model, `conversions` sums exactly to the converted paths with at least one touch and
    `value` (per currency) to those paths' value.
    """

    model: str
    channel: str
    conversions: Decimal
    value: dict[str, Decimal]
