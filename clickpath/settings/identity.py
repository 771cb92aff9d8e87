"""The identity graph: which brands make one operator (`[operators.<id>] brands = [...]`), and
the knobs of its scores and caps (docs/identity.md).

Knobs only: `clickpath.infra.identity_policy` makes the stages' `IdentityPolicy` of them. A
brand named by two operators, or a frequency table that is not kind -> value -> u, stops the
start, naming what is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from clickpath.domain.identity.policy import DEFAULT_FIELDS, PROBABILISTIC


class OperatorConfig(BaseModel):
    """One `[operators.<id>]` table: the brands whose accounts may be one person."""

    model_config = ConfigDict(extra="forbid")

    brands: list[str] = []


def read_frequency_table(path: Path) -> dict[str, dict[str, float]]:
    """A frequency table file: JSON `{kind: {value: u}}`, kinds the probabilistic fields, each u
    a probability (0 < u <= 1). ValueError names the file and what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"{path}: cannot be read ({e.strerror or e})") from None
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected an object of kind -> value -> u")
    table: dict[str, dict[str, float]] = {}
    for kind, values in data.items():
        if kind not in PROBABILISTIC:
            raise ValueError(f"{path}: {str(kind)[:40]!r} is not a scored kind "
                             f"({', '.join(sorted(PROBABILISTIC))})")
        if not isinstance(values, dict):
            raise ValueError(f"{path}: {kind}: expected an object of value -> u")
        for value, u in values.items():
            if isinstance(u, bool) or not isinstance(u, int | float) or not 0 < u <= 1:
                raise ValueError(f"{path}: {kind}.{str(value)[:40]!r}: u must be a number"
                                 " above 0 and at most 1")
        table[kind] = {str(value): float(u) for value, u in values.items()}
    return table


def _m(kind: str) -> float:
    return DEFAULT_FIELDS[kind].m


def _u(kind: str) -> float:
    return DEFAULT_FIELDS[kind].u


class IdentitySettings(BaseModel):
    """Operators (brand groups) and the identity graph's scores, caps and windows."""

    operators: dict[str, OperatorConfig] = Field(
        default={}, description="[operators.<id>] brands = [...]: persons join only within an"
        " operator; a brand no operator names belongs to the operator 'default'.",
    )
    identity_prior: float = Field(
        default=1e-4, gt=0, lt=1,
        description="λ: the chance two accounts are one person before any evidence.",
    )
    identity_threshold: float = Field(
        default=6.0, description="A cross-brand pair whose score reaches this merges; below, possible.",
    )
    identity_device_id_m: float = Field(default=_m("device_id"), gt=0, le=1)
    identity_device_id_u: float = Field(default=_u("device_id"), gt=0, lt=1)
    identity_ip_prefix_m: float = Field(default=_m("ip_prefix"), gt=0, le=1)
    identity_ip_prefix_u: float = Field(default=_u("ip_prefix"), gt=0, lt=1)
    identity_ua_family_m: float = Field(default=_m("ua_family"), gt=0, le=1)
    identity_ua_family_u: float = Field(default=_u("ua_family"), gt=0, lt=1)
    identity_frequencies_file: Path | None = Field(
        default=None, description="A JSON file kind -> value -> u (rarer values weigh more);"
        " a value it does not list takes its field's u.",
    )
    identity_refused: list[str] = Field(
        default=[], description="Values that never link, besides the documented default list.",
    )
    identity_max_accounts: int = Field(
        default=10, ge=2, le=100_000,
        description="An identifier seen on more accounts than this is shared: it links nobody.",
    )
    identity_window_days: int = Field(
        default=30, ge=1, le=365,
        description="Two accounts share an identifier only if they were seen with it within"
        " this many days of each other (docs/identity.md).",
    )
    identity_lookback_days: int | None = Field(
        default=None, ge=1, le=365,
        description="Touchpoints' lookback; unset: attribution_lookback_days.",
    )
    identity_max_clicks: int = Field(
        default=50, ge=1, le=10_000, description="Clicks one identifier keeps for touchpoints.",
    )
    identity_max_per_account: int = Field(
        default=20, ge=1, le=10_000,
        description="Values of one kind an account is seen with that count; further ones are"
        " left out (and counted): an account seen from thousands of addresses must not grow"
        " without end.",
    )
    _frequencies: tuple[Path | None, dict[str, dict[str, float]]] | None = PrivateAttr(default=None)

    @field_validator("operators")
    @classmethod
    def _valid_operators(cls, value: dict[str, OperatorConfig]) -> dict[str, OperatorConfig]:
        owner: dict[str, str] = {}
        for operator_id, config in value.items():
            if not operator_id or "|" in operator_id:
                raise ValueError(f"operators: {operator_id[:40]!r} is not an operator id"
                                 " (non-empty, without '|')")
            for brand in config.brands:
                if not brand:
                    raise ValueError(f"operators.{operator_id}.brands: an empty brand id")
                if owner.get(brand, operator_id) != operator_id:
                    raise ValueError(f"operators: brand {brand!r} is named by both"
                                     f" {owner[brand]!r} and {operator_id!r}; a brand belongs"
                                     " to one operator")
                owner[brand] = operator_id
        return value

    @field_validator("identity_refused")
    @classmethod
    def _valid_refused(cls, value: list[str]) -> list[str]:
        if any(not v.strip() for v in value):
            raise ValueError("an empty value (empty values never link anyway)")
        return value

    @field_validator("identity_frequencies_file")
    @classmethod
    def _valid_frequencies_file(cls, path: Path | None) -> Path | None:
        if path is not None:
            read_frequency_table(path)  # at start: fail early
        return path

    @model_validator(mode="after")
    def _agreement_counts(self) -> Self:
        for kind in sorted(PROBABILISTIC):
            m, u = getattr(self, f"identity_{kind}_m"), getattr(self, f"identity_{kind}_u")
            if not u < m:
                raise ValueError(f"identity_{kind}_u ({u}) must be below identity_{kind}_m ({m}):"
                                 " agreeing on the field must count for a match")
        return self

    @property
    def operator_of_brand(self) -> dict[str, str]:
        """Brand -> operator, of the brands an operator names (every other is 'default')."""
        return {brand: op for op, config in self.operators.items() for brand in config.brands}

    @property
    def identity_fields(self) -> dict[str, tuple[float, float]]:
        """Each scored field's (m, u)."""
        return {kind: (getattr(self, f"identity_{kind}_m"), getattr(self, f"identity_{kind}_u"))
                for kind in sorted(PROBABILISTIC)}

    def identity_frequencies(self) -> dict[str, dict[str, float]]:
        """The frequency table of `identity_frequencies_file` (empty without one), read once."""
        if self._frequencies is None or self._frequencies[0] != self.identity_frequencies_file:
            path = self.identity_frequencies_file
            self._frequencies = (path, read_frequency_table(path) if path is not None else {})
        return self._frequencies[1]
