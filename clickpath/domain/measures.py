"""The funnel's measures: one list, from which the ClickHouse columns, the sink's rows, the
funnel query, the repair and the report are built (docs/architecture.md#clickhouse).

A measure is a count (UInt32 in `fact_rows`, Int64 in `funnel_agg`) or an amount of money
(Decimal(20, 4) / Decimal(38, 4), per currency). Fact measures are fields of
`PlayerDayFact` with the same name; `clicks` comes from the canonical click events. Adding a
measure is one line here, plus the migration that adds its columns and re-creates the views.

GGR and NGR are not stored: they are derived from the stored measures (DERIVED), in the
report and in the `funnel_daily` view.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, NamedTuple

Kind = Literal["count", "money"]


class Measure(NamedTuple):
    name: str
    kind: Kind

    @property
    def money(self) -> bool:
        return self.kind == "money"


FACT_MEASURES: tuple[Measure, ...] = (
    Measure("registrations", "count"),
    Measure("ftds", "count"),
    Measure("deposits", "count"),
    Measure("deposit_sum", "money"),
    Measure("ftd_sum", "money"),
    Measure("declined_deposits", "count"),
    Measure("withdrawals", "count"),
    Measure("withdrawal_sum", "money"),
    Measure("chargebacks", "count"),
    Measure("chargeback_sum", "money"),
    Measure("stakes", "money"),
    Measure("wins", "money"),
    Measure("bonus_stakes", "money"),
    Measure("bonus_cost", "money"),
)
"""What a player's fact carries per (day, currency), in `fact_rows` column order."""

FUNNEL_MEASURES: tuple[Measure, ...] = (Measure("clicks", "count"), *FACT_MEASURES)
"""What `funnel_agg` sums per (brand, day, affiliate, campaign, currency)."""

DERIVED: dict[str, dict[str, int]] = {
    "ggr": {"stakes": 1, "wins": -1},
    "ngr": {"stakes": 1, "wins": -1, "bonus_cost": -1, "chargeback_sum": -1},
}
"""Amounts derived from the measures, as signed sums: GGR = stakes - wins;
NGR = GGR - bonus_cost - chargeback_sum."""


def zero(measure: Measure) -> int | Decimal:
    return Decimal(0) if measure.money else 0


def parse(measure: Measure, value: object) -> int | Decimal:
    """A measure's value as read (an int, a Decimal, or their JSON string) in its Python type."""
    return Decimal(str(value)) if measure.money else int(str(value))


def derive(name: str, values: dict[str, Decimal]) -> Decimal:
    """A DERIVED amount from measure values (missing ones count as zero)."""
    return sum(
        (coefficient * values.get(m, Decimal(0)) for m, coefficient in DERIVED[name].items()),
        Decimal(0),
    )
