"""The plans in effect: configuration plus the admin API's versions, kept in the data directory.

`<data_dir>/plans.json` holds only what an admin added: per plan, its versions (each with when it
was recorded) and, if set, its assignments, which replace the configured ones of that plan.
Configuration stays the base; an admin version is numbered after the configured ones of its
plan, so it wins from its `effective_from` on, and nothing is ever edited in place. Every process
re-reads the file when it changes (one stat per call at most every `recheck_s`), so a running
worker applies a new version without a restart, and a restart of `clickpath up` keeps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError

from clickpath.domain.plans import (
    Assignment,
    AssignRule,
    PlanBook,
    PlanConfig,
    PlanError,
    PlanTerms,
    PlanVersion,
    parse_plan,
)
from clickpath.infra.jsonstore import WatchedJsonFile
from clickpath.settings import Settings

log = structlog.get_logger(__name__)


def build_book(configured: Mapping[str, PlanConfig], stored: Mapping[str, Any]) -> PlanBook:
    """The book from configuration and the stored admin changes (validated again: a hand-edited
    file is not trusted)."""
    versions: list[PlanVersion] = []
    assignments: list[Assignment] = []
    admin = stored.get("plans", {})
    for plan_id in sorted(set(configured) | set(admin)):
        plan = configured.get(plan_id)
        n = 0
        if plan is not None:
            for terms in sorted(plan.versions, key=lambda t: t.effective_from):
                n += 1
                versions.append(_version(plan_id, n, terms, "config", None))
        change = admin.get(plan_id, {})
        for raw in change.get("versions", []):
            n += 1
            terms = PlanTerms.model_validate({k: v for k, v in raw.items() if k != "recorded_at"})
            versions.append(_version(plan_id, n, terms, "admin", datetime.fromisoformat(raw["recorded_at"])))
        rules = ([AssignRule.model_validate(r) for r in change["assign"]] if "assign" in change
                 else list(plan.assign) if plan is not None else [])
        assignments += [Assignment(plan_id=plan_id, affiliate_id=r.affiliate, brand_id=r.brand,
                                   country=r.country) for r in rules]
    return PlanBook(versions, assignments)


def _version(plan_id: str, n: int, terms: PlanTerms, source: str, at: datetime | None) -> PlanVersion:
    return PlanVersion.model_validate(
        {**terms.model_dump(by_alias=True), "plan_id": plan_id, "version": n, "source": source,
         "recorded_at": at}
    )


class PlanStore:
    def __init__(self, path: Path, configured: Mapping[str, PlanConfig], recheck_s: float = 0.0) -> None:
        self.path = path
        self.configured = dict(configured)
        self._file = WatchedJsonFile(path, empty={}, recheck_s=recheck_s)
        self._book = build_book(self.configured, {})
        self.changed_at = 0  # how many times the book was rebuilt (policies cache on it)

    def current(self) -> PlanBook:
        """The book in effect; re-read only when the file changed. A bad file keeps the last
        good book, and says so."""
        try:
            data = self._file.changed()
        except (OSError, ValueError) as e:
            log.error("plans_unreadable", path=str(self.path), error=str(e))
            return self._book
        if data is not None:
            self._rebuild(data)
        return self._book

    def _rebuild(self, data: Mapping[str, Any]) -> None:
        try:
            self._book = build_book(self.configured, data)
            self.changed_at += 1
        except (ValueError, ValidationError, KeyError) as e:
            log.error("plans_invalid", path=str(self.path), error=str(e))

    def add_version(self, plan_id: str, raw: Mapping[str, Any], now: datetime) -> PlanVersion:
        """Add a version to a plan (a new plan needs `assign`): `raw` is a `[plans.<id>]` table
        with one version. PlanError names the field."""
        parsed = parse_plan(plan_id, {"versions": raw.get("versions", []), "assign": raw.get("assign", [])})
        if len(parsed.versions) != 1:
            raise PlanError(f"plans.{plan_id}.versions: add one version at a time")
        [terms] = parsed.versions
        with self._file.edit() as data:
            plans = data.setdefault("plans", {})
            change = plans.setdefault(plan_id, {})
            known = [v.effective_from for v in build_book(self.configured, data).versions_of(plan_id)]
            if terms.effective_from in known:
                raise PlanError(f"plans.{plan_id}.versions[0].effective_from: plan {plan_id} already"
                                f" has a version from {terms.effective_from}; add one with a later date")
            if plan_id not in self.configured and not known and "assign" not in raw:
                raise PlanError(f"plans.{plan_id}.assign: a new plan says which affiliates it pays")
            change.setdefault("versions", []).append(
                {**terms.model_dump(mode="json", by_alias=True), "recorded_at": now.isoformat()}
            )
            if "assign" in raw:
                change["assign"] = [r.model_dump(mode="json") for r in parsed.assign]
            build_book(self.configured, data)  # refuse a change that breaks the book (PlanError)
        self._rebuild(self._file.read())
        return self._book.versions_of(plan_id)[-1]


def plan_store_of(settings: Settings, recheck_s: float = 0.0) -> PlanStore:
    """The store of the deployment: `[plans]`, the deprecated `CLICKPATH_AFFILIATE_CPA`, and
    `<data_dir>/plans.json`."""
    legacy = {aff: (str(m.amount), m.currency) for aff, m in settings.affiliate_cpa_money.items()}
    return PlanStore(settings.plans_path, settings.configured_plans(legacy), recheck_s=recheck_s)
