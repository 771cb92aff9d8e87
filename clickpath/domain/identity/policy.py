"""The identity graph's rules, as configured: which brands make one operator, which values
never link, how much each field weighs, and the caps (docs/identity.md).

A frozen value the stage adapters build from settings; the decisions read nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from clickpath.contracts.models.identity import IdentifierKind

DETERMINISTIC: Final[frozenset[str]] = frozenset({"click_id", "email_hash", "phone_hash", "customer_id"})
PROBABILISTIC: Final[frozenset[str]] = frozenset({"device_id", "ip_prefix", "ua_family"})
DEFAULT_OPERATOR: Final = "default"


@dataclass(frozen=True, slots=True)
class FieldModel:
    """Fellegi-Sunter parameters of one probabilistic field: m = P(agree | same person),
    u = P(agree | different people) for a value of unknown frequency."""

    m: float
    u: float

    def weight(self, u: float | None = None) -> float:
        """log2(m/u): what agreement on this field adds to a pair's score."""
        return math.log2(self.m / (u if u is not None else self.u))


DEFAULT_FIELDS: Final[Mapping[str, FieldModel]] = {
    "device_id": FieldModel(m=0.9, u=1e-5),
    "ip_prefix": FieldModel(m=0.7, u=1e-3),
    "ua_family": FieldModel(m=0.9, u=0.05),
}


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    """`operators`: brand -> operator (a brand not named belongs to DEFAULT_OPERATOR).
    `prior`: λ, P(two accounts are one person) before any evidence.
    `threshold`: a cross-brand pair whose score reaches it merges; below it the link is possible.
    `max_accounts`: an identifier seen on more accounts than this is shared and links nobody.
    `frequencies`: a frozen table kind -> value -> u (rarer values weigh more).
    `window`: two accounts share an identifier only if they were seen with it within this
    of each other (the gap between their ranges of sightings; values.py).
    `lookback`/`skew`: the contract attribution's window, for touchpoints.
    `max_clicks`: the clicks one identifier keeps for touchpoints (newest by event time).
    `max_per_account`: the values of one kind an account's events count with (the earliest
    ones to arrive; later new ones are left out).
    `person_key`: keys the person ids, so that one cannot be recomputed from an account an
    operator's key does not see (a worker passes the pseudonym key)."""

    operators: Mapping[str, str] = field(default_factory=dict)
    prior: float = 1e-4
    threshold: float = 6.0
    fields: Mapping[str, FieldModel] = field(default_factory=lambda: dict(DEFAULT_FIELDS))
    frequencies: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    refused: frozenset[str] = frozenset()
    max_accounts: int = 10
    window: timedelta = timedelta(days=30)
    lookback: timedelta = timedelta(days=30)
    skew: timedelta = timedelta(minutes=5)
    max_clicks: int = 50
    max_per_account: int = 20
    person_key: bytes = b""

    def operator_of(self, brand_id: str) -> str:
        return self.operators.get(brand_id, DEFAULT_OPERATOR)

    def prior_weight(self) -> float:
        """log2(λ/(1-λ)): the score of a pair with no evidence."""
        return math.log2(self.prior / (1 - self.prior))

    def weight_of(self, kind: IdentifierKind, value: str) -> float:
        """The weight agreement on `value` adds: 0 for deterministic kinds (they decide by rule,
        not by score), log2(m/u) with u from the frozen table when it lists the value."""
        model = self.fields.get(kind)
        if model is None:
            return 0.0
        return model.weight(self.frequencies.get(kind, {}).get(value))
