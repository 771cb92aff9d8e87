"""The plan book: every plan's versions and assignments, and which version pays whom when.

Versions are never edited in place: a change is a new version with its `effective_from`, and a
date's terms are the newest version in effect on it, so earlier periods keep theirs. Plans come
from `[plans.<id>]` in the configuration file and from the admin API (kept in the data
directory); an admin version of a plan is added after the configured ones, so it wins from its
date on. Errors name the plan and the field (`plans.alpha.versions[0].revshare.bands: ...`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clickpath.domain.plans.terms import Assignment, AssignRule, PlanTerms, PlanVersion

PLAN_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class PlanConfig(BaseModel):
    """`[plans.<id>]` as written: its versions and assignments."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = Field(default=None, max_length=200)
    versions: list[PlanTerms] = Field(min_length=1)
    assign: list[AssignRule] = []


class PlanError(ValueError):
    """A plan that cannot be used; the message names the plan and field."""


def _where(prefix: str, e: ValidationError) -> str:
    problems = []
    for err in e.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        problems.append(f"{prefix}{loc}: {err['msg']}")
    return "; ".join(problems)


def parse_plan(plan_id: str, raw: Mapping[str, Any]) -> PlanConfig:
    """Validate one `[plans.<id>]` table."""
    if not re.match(PLAN_ID, plan_id):
        raise PlanError(f"plans.{plan_id[:64]!r}: a plan id is letters, digits, '.', '_', '-'")
    try:
        plan = PlanConfig.model_validate(raw)
    except ValidationError as e:
        raise PlanError(_where(f"plans.{plan_id}", e)) from None
    days = [v.effective_from for v in plan.versions]
    if len(set(days)) != len(days):
        raise PlanError(f"plans.{plan_id}.versions: each effective_from once")
    return plan


class PlanBook:
    """Lookups for the engine: plain data, no I/O."""

    def __init__(self, versions: Iterable[PlanVersion], assignments: Iterable[Assignment]) -> None:
        self._versions: dict[str, list[PlanVersion]] = {}
        for v in versions:
            self._versions.setdefault(v.plan_id, []).append(v)
        for vs in self._versions.values():
            vs.sort(key=lambda v: v.version)
        self.assignments = list(assignments)
        self._by_affiliate: dict[str, list[Assignment]] = {}
        seen: dict[tuple[str, str | None, str | None], str] = {}
        for a in self.assignments:
            if a.plan_id not in self._versions:
                raise PlanError(f"plans.{a.plan_id}: assigned but has no version")
            other = seen.setdefault((a.affiliate_id, a.brand_id, a.country), a.plan_id)
            if other != a.plan_id:
                raise PlanError(
                    f"plans.{a.plan_id}.assign: affiliate {a.affiliate_id} (brand {a.brand_id},"
                    f" country {a.country}) is already assigned to plan {other}"
                )
            self._by_affiliate.setdefault(a.affiliate_id, []).append(a)

    @classmethod
    def build(cls, configured: Mapping[str, PlanConfig], added: Iterable[PlanVersion] = (),
              recorded_at: datetime | None = None) -> PlanBook:
        """The book from configuration plus admin versions (`added`, numbered after them)."""
        versions: list[PlanVersion] = []
        assignments: list[Assignment] = []
        for plan_id, plan in configured.items():
            for n, terms in enumerate(sorted(plan.versions, key=lambda t: t.effective_from), 1):
                versions.append(PlanVersion(**terms.model_dump(by_alias=True), plan_id=plan_id,
                                            version=n, source="config", recorded_at=recorded_at))
            assignments += [Assignment(plan_id=plan_id, affiliate_id=r.affiliate, brand_id=r.brand,
                                       country=r.country) for r in plan.assign]
        versions.extend(added)
        return cls(versions, assignments)

    def plan_ids(self) -> list[str]:
        return sorted(self._versions)

    def versions_of(self, plan_id: str) -> list[PlanVersion]:
        return list(self._versions.get(plan_id, []))

    def version(self, plan_id: str, version: int) -> PlanVersion:
        for v in self._versions.get(plan_id, []):
            if v.version == version:
                return v
        raise KeyError(f"plan {plan_id} has no version {version}")

    def in_effect(self, plan_id: str, on: date) -> PlanVersion | None:
        """The version of `plan_id` in effect on `on`: the latest effective_from not after it
        (of two with one date, the newer version)."""
        found = [v for v in self._versions.get(plan_id, []) if v.effective_from <= on]
        return max(found, key=lambda v: (v.effective_from, v.version)) if found else None

    def plan_id_for(self, affiliate_id: str, brand_id: str | None, country: str | None) -> str | None:
        """The most specific assignment: affiliate+brand+country > +brand > +country > affiliate."""
        best: tuple[int, str] | None = None
        for a in self._by_affiliate.get(affiliate_id, []):
            if a.brand_id not in (None, brand_id) or a.country not in (None, country):
                continue
            if best is None or a.specificity > best[0]:
                best = (a.specificity, a.plan_id)
        return best[1] if best else None

    def plan_for(self, affiliate_id: str, brand_id: str | None, country: str | None,
                 on: date) -> PlanVersion | None:
        plan_id = self.plan_id_for(affiliate_id, brand_id, country)
        return self.in_effect(plan_id, on) if plan_id else None
