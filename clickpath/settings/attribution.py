"""Attribution: the affiliates and their campaigns, and which click a registration is credited to."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator

from clickpath.domain.attribution import DEFAULT_CLOCK_SKEW_S, DEFAULT_LOOKBACK_DAYS
from clickpath.domain.catalogue import AffiliateConfig, parent_problems, tracking_code_clashes


class AttributionSettings(BaseModel):
    """The affiliate catalogue of the configuration, the lookback and the clocks' allowed skew."""

    attribution_lookback_days: int = Field(default=DEFAULT_LOOKBACK_DAYS, ge=1, le=365)
    attribution_clock_skew_s: int = Field(
        default=DEFAULT_CLOCK_SKEW_S, ge=0, le=86400,
        description="A click up to this many seconds after the registration still counts "
        "(the tracker's and the operator's clocks differ; docs/touchpoints.md).",
    )
    affiliates: dict[str, AffiliateConfig] = {}

    @model_validator(mode="after")
    def _unique_tracking_codes(self) -> Self:
        clashes = tracking_code_clashes(self.affiliates)
        if clashes:
            raise ValueError(f"tracking codes must be unique: {'; '.join(clashes)}")
        problems = parent_problems(self.affiliates)
        if problems:
            raise ValueError("; ".join(problems))
        return self
