"""Commissions: the configured plans (`[plans.<id>]`, docs/commissions.md) and the time zone
whose calendar months are the periods."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from pydantic import BaseModel, Field, field_validator

from clickpath.domain.cohorts import check_time_zone
from clickpath.domain.plans import PlanConfig, parse_plan

log = structlog.get_logger(__name__)

LEGACY_CPA_PREFIX = "legacy-cpa-"

# The deprecation is said once per process (and set of affiliates), however many stores a
# process builds or re-builds: a warning on every reload of the plans would drown the log.
_warned_legacy: set[frozenset[str]] = set()


class CommissionSettings(BaseModel):
    """Plans from the configuration file; admin changes live in the data directory."""

    plans: dict[str, Any] = Field(
        default={}, description="[plans.<id>]: versions (CPA, RevShare, hybrid) and assignments"
        " (docs/commissions.md).",
    )
    commission_time_zone: str = Field(
        default="UTC", description="IANA time zone whose calendar months are commission periods.",
    )

    @field_validator("plans")
    @classmethod
    def _valid_plans(cls, value: dict[str, Any]) -> dict[str, Any]:
        for plan_id, raw in value.items():
            if not isinstance(raw, dict):
                raise ValueError(f"plans.{plan_id}: expected a table")
            parse_plan(plan_id, raw)  # PlanError names the plan and field
        return value

    @field_validator("commission_time_zone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        check_time_zone(value, "commission_time_zone")
        return value

    @property
    def commission_zone(self) -> ZoneInfo:
        return ZoneInfo(self.commission_time_zone)

    def configured_plans(self, affiliate_cpa: dict[str, tuple[str, str]]) -> dict[str, PlanConfig]:
        """The configured plans, with `CLICKPATH_AFFILIATE_CPA` (affiliate -> (amount,
        currency)) as one flat CPA plan per affiliate that no plan is assigned to (deprecated)."""
        plans = {plan_id: parse_plan(plan_id, raw) for plan_id, raw in self.plans.items()}
        assigned = {a.affiliate for p in plans.values() for a in p.assign}
        legacy = {aff: cpa for aff, cpa in affiliate_cpa.items() if aff not in assigned}
        if legacy and frozenset(legacy) not in _warned_legacy:
            _warned_legacy.add(frozenset(legacy))
            log.warning("affiliate_cpa_deprecated", affiliates=sorted(legacy),
                        advice="CLICKPATH_AFFILIATE_CPA is read as a flat CPA plan per affiliate;"
                        " write [plans.<id>] instead (docs/commissions.md)")
        for aff, (amount, currency) in legacy.items():
            plans[f"{LEGACY_CPA_PREFIX}{aff}"] = parse_plan(f"{LEGACY_CPA_PREFIX}{aff}", {
                "name": f"CLICKPATH_AFFILIATE_CPA of {aff} (deprecated)",
                "versions": [{"effective_from": date(1970, 1, 1), "currency": currency,
                              "cpa": {"amount": amount, "within_days": 30}}],
                "assign": [{"affiliate": aff}],
            })
        return plans
