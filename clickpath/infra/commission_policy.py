"""The commission stages' policies as a running worker sees them: rebuilt when the plans or the
catalogue change in the data directory (admin versions, `parent_id`, `payout_currency`).

One stat of each file per second at most (WatchedJsonFile's `recheck_s`), so a new plan
version reaches the running engine within a second, and a decision never reads a file itself:
the stage adapters call `policies.earnings()` / `policies.commissions()` and pass the result in.
"""

from __future__ import annotations

from typing import Any

from clickpath.domain.commissions import CommissionPolicy
from clickpath.domain.earnings import EarningsPolicy
from clickpath.domain.fx import FxTable
from clickpath.domain.tracking import overlay
from clickpath.infra.jsonstore import WatchedJsonFile
from clickpath.infra.plan_store import PlanStore, plan_store_of
from clickpath.infra.pseudonym_keys import stable_key
from clickpath.settings import Settings

DEFAULT_PAYOUT_CURRENCY = "EUR"  # with no CLICKPATH_REPORTING_CURRENCY and no payout_currency


class CommissionPolicies:
    def __init__(self, settings: Settings, recheck_s: float = 1.0) -> None:
        self._settings = settings
        self._plans: PlanStore = plan_store_of(settings, recheck_s=recheck_s)
        self._catalogue = WatchedJsonFile(settings.catalogue_path, empty={}, recheck_s=recheck_s)
        self._stored_affiliates: dict[str, Any] = {}
        self._seen: tuple[int, int] = (-1, -1)
        self._catalogue_changes = 0
        self._earnings: EarningsPolicy | None = None
        self._commissions: CommissionPolicy | None = None

    def _fresh(self) -> bool:
        self._plans.current()  # re-reads plans.json when it changed
        book_version = self._plans.changed_at
        try:
            data = self._catalogue.changed()
        except (OSError, ValueError):
            data = None  # keep the last good catalogue (the tracker logs a bad file)
        if data is not None:
            self._stored_affiliates = dict(data.get("affiliates", {}))
            self._catalogue_changes += 1
        seen = (book_version, self._catalogue_changes)
        if seen == self._seen and self._commissions is not None:
            return False
        self._seen = seen
        return True

    def _rebuild(self) -> None:
        s = self._settings
        book = self._plans.current()
        try:
            affiliates = overlay(s.affiliates, self._stored_affiliates)
        except ValueError:
            affiliates = dict(s.affiliates)
        fx = FxTable(s.reporting_currency or DEFAULT_PAYOUT_CURRENCY, s.fx_rates)
        self._earnings = EarningsPolicy(book=book, time_zone=s.commission_zone, fx=fx)
        self._commissions = CommissionPolicy(
            plans=book,
            fx=fx,
            pseudonym_key=stable_key(s),  # player tokens never rotate (docs/privacy.md)
            parents={a: c.parent_id for a, c in affiliates.items()},
            payout_currencies={a: c.payout_currency for a, c in affiliates.items() if c.payout_currency},
            time_zone=s.commission_zone,
        )

    def earnings(self) -> EarningsPolicy:
        if self._fresh() or self._earnings is None:
            self._rebuild()
        assert self._earnings is not None
        return self._earnings

    def commissions(self) -> CommissionPolicy:
        if self._fresh() or self._commissions is None:
            self._rebuild()
        assert self._commissions is not None
        return self._commissions
