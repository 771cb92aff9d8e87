"""One pass over the paths: identical channel sequences grouped, with the totals to deal out.

Every model but time decay depends only on the channel sequence, so 1M paths cost only their
distinct sequences afterwards. A group keeps how many of its paths converted and did not, and
the converted ones' value per currency. Paths with no touch are skipped: no channel can be
credited for them and they carry no transition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from clickpath.domain.multitouch.paths import Path


@dataclass
class Group:
    """The paths that share one channel sequence."""

    converted: int = 0
    not_converted: int = 0
    value: dict[str, Decimal] = field(default_factory=dict)  # converted paths only


@dataclass
class Aggregate:
    groups: dict[tuple[str, ...], Group]
    conversions: int  # converted paths with >= 1 touch: what every model deals out
    value: dict[str, Decimal]  # their value per currency
    converted_paths: list[Path]  # kept only when time decay needs the ages

    @property
    def credited_channels(self) -> set[str]:
        """Channels of converting paths: each model reports a row for every one of them."""
        return {c for seq, g in self.groups.items() if g.converted for c in seq}


def aggregate(paths: Iterable[Path], *, keep_converted: bool) -> Aggregate:
    groups: dict[tuple[str, ...], Group] = {}
    total_value: dict[str, Decimal] = {}
    kept: list[Path] = []
    conversions = 0
    for path in paths:
        seq = path.channels
        if not seq:
            continue
        group = groups.get(seq)
        if group is None:
            group = groups[seq] = Group()
        if not path.converted:
            group.not_converted += 1
            continue
        group.converted += 1
        conversions += 1
        for currency, amount in path.value.items():
            group.value[currency] = group.value.get(currency, Decimal(0)) + amount
            total_value[currency] = total_value.get(currency, Decimal(0)) + amount
        if keep_converted:
            kept.append(path)
    return Aggregate(groups, conversions, total_value, kept)
