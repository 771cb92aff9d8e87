"""The plan book: every plan's versions and assignments, and which version applies when.

Pure: built from configuration and admin records handed in; `plan_for` is what the commission
stage asks. Errors are `PlanError`s whose message names the plan and the field
(`plans.alpha.versions[0].revshare.bands: ...`) so that an operator can find the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from clickpath.domain.plans.models import (
    PLAN_ID_PATTERN,
    Assignment,
    CpaTerms,
    PlanVersion,
    VersionTerms,
)


class PlanError(ValueError):
    """A plan that cannot be applied; the message starts with the path of the bad field."""


class VersionConfig(VersionTerms):
    """A version as written in `[[plans.<id>.versions]]`; `version` defaults to its position."""

    version: int | None = Field(default=None, ge=1)


class AssignConfig(BaseModel):
    """`[[plans.<id>.assign]]`: affiliate, and optionally brand and country."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    affiliate: str = Field(min_length=1, max_length=64)
    brand: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")


class PlanConfig(BaseModel):
    """One `[plans.<id>]` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    versions: list[VersionConfig] = Field(min_length=1)
    assign: list[AssignConfig] = []


_FIELD_PREFIX = re.compile(r"^([a-z_]+): (.*)$", re.DOTALL)


def error_path(prefix: str, error: ValidationError) -> str:
    """The errors of `error` as `prefix.field[0].sub: message` lines."""
    lines = []
    for item in error.errors():
        path = prefix
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = str(item["msg"]).removeprefix("Value error, ")
        named = _FIELD_PREFIX.match(message)
        if named:  # a model validator names the field it is about: put it in the path
            path, message = f"{path}.{named.group(1)}", named.group(2)
        lines.append(f"{path}: {message}")
    return "; ".join(lines)


def parse_plans(raw: Mapping[str, Any], recorded_at: datetime) -> tuple[list[PlanVersion], list[Assignment]]:
    """`[plans]` from the TOML as versions (source "config") and assignments, or PlanError."""
    versions: list[PlanVersion] = []
    assignments: list[Assignment] = []
    for plan_id, table in raw.items():
        where = f"plans.{plan_id}"
        if not re.match(PLAN_ID_PATTERN, plan_id):
            raise PlanError(f"{where}: a plan id must match {PLAN_ID_PATTERN}")
        try:
            plan = PlanConfig.model_validate(table)
        except ValidationError as e:
            raise PlanError(error_path(where, e)) from None
        for position, item in enumerate(plan.versions):
            terms = item.model_dump(exclude={"version"}, by_alias=True, exclude_none=True)
            versions.append(
                PlanVersion.model_validate(
                    terms
                    | {
                        "plan_id": plan_id,
                        "version": item.version or position + 1,
                        "source": "config",
                        "recorded_at": recorded_at,
                    }
                )
            )
        assignments += [
            Assignment(plan_id=plan_id, affiliate_id=a.affiliate, brand_id=a.brand, country=a.country)
            for a in plan.assign
        ]
    return versions, assignments


def _where(version: PlanVersion, versions: list[PlanVersion]) -> str:
    same = [v for v in versions if v.plan_id == version.plan_id]
    return f"plans.{version.plan_id}.versions[{same.index(version)}]"


class PlanBook:
    """Every plan's versions (oldest first) and the assignments of affiliates to plans."""

    def __init__(self, versions: Iterable[PlanVersion], assignments: Iterable[Assignment]) -> None:
        listed = list(versions)
        self._versions: dict[str, list[PlanVersion]] = {}
        for item in listed:
            same = self._versions.setdefault(item.plan_id, [])
            for other in same:
                if other.effective_from == item.effective_from:
                    raise PlanError(
                        f"{_where(item, listed)}.effective_from: version {other.version} of plan "
                        f"{item.plan_id!r} is already effective from {item.effective_from}"
                    )
                if other.version == item.version:
                    raise PlanError(
                        f"{_where(item, listed)}.version: plan {item.plan_id!r} already has a "
                        f"version {item.version} ({other.source}, effective {other.effective_from})"
                    )
            same.append(item)
        for same in self._versions.values():
            same.sort(key=lambda v: v.effective_from)
        self._assignments: dict[tuple[str, str | None, str | None], Assignment] = {}
        for assignment in assignments:
            key = (assignment.affiliate_id, assignment.brand_id, assignment.country)
            where = f"plans.{assignment.plan_id}.assign"
            if assignment.plan_id not in self._versions:
                raise PlanError(f"{where}: no plan {assignment.plan_id!r} has versions")
            taken = self._assignments.get(key)
            if taken is not None and taken.plan_id != assignment.plan_id:
                raise PlanError(
                    f"{where}: affiliate {assignment.affiliate_id!r} (brand {assignment.brand_id!r}, "
                    f"country {assignment.country!r}) is already on plan {taken.plan_id!r}"
                )
            self._assignments[key] = assignment

    def plan_ids(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, plan_id: str) -> list[PlanVersion]:
        """The plan's versions, oldest effective_from first; [] for an unknown plan."""
        return list(self._versions.get(plan_id, []))

    def assignments(self, plan_id: str | None = None) -> list[Assignment]:
        found = [a for a in self._assignments.values() if plan_id is None or a.plan_id == plan_id]
        return sorted(found, key=lambda a: (a.affiliate_id, a.brand_id or "", a.country or ""))

    def assignment_for(
        self, affiliate_id: str, brand_id: str | None, country: str | None
    ) -> Assignment | None:
        """The most specific assignment: +brand+country > +brand > +country > affiliate only."""
        for key in (
            (affiliate_id, brand_id, country),
            (affiliate_id, brand_id, None),
            (affiliate_id, None, country),
            (affiliate_id, None, None),
        ):
            found = self._assignments.get(key)
            if found is not None:
                return found
        return None

    def plan_for(
        self, affiliate_id: str, brand_id: str | None, country: str | None, on: date
    ) -> PlanVersion | None:
        """The assigned plan's newest version effective on `on`; None when there is none."""
        assignment = self.assignment_for(affiliate_id, brand_id, country)
        if assignment is None:
            return None
        effective = [v for v in self._versions[assignment.plan_id] if v.effective_from <= on]
        return effective[-1] if effective else None

    def version(self, plan_id: str, version: int) -> PlanVersion:
        """A version by number (ledger entries name theirs); KeyError when unknown."""
        for item in self._versions.get(plan_id, []):
            if item.version == version:
                return item
        raise KeyError(f"plan {plan_id!r} has no version {version}")

    def next_version(self, plan_id: str) -> int:
        return max((v.version for v in self._versions.get(plan_id, [])), default=0) + 1


def cpa_amount_for(terms: CpaTerms, brand_id: str | None, country: str | None) -> Decimal:
    """The CPA for a player of this brand and country: the most specific override, else `amount`."""
    best: tuple[int, Decimal] | None = None
    for item in terms.amounts:
        if item.brand_id is not None and item.brand_id != brand_id:
            continue
        if item.country is not None and item.country != country:
            continue
        rank = (2 if item.brand_id is not None else 0) + (1 if item.country is not None else 0)
        if best is None or rank > best[0]:
            best = (rank, item.amount)
    return terms.amount if best is None else best[1]
