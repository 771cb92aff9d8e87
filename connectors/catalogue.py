"""The affiliate and campaign catalogue in effect: configuration plus the admin API's changes.

Changes are kept in `<data_dir>/catalogue.json` (written atomically under a lock), so they
survive a restart; every process re-reads the file when it changes, so an admin change reaches
the running tracker (and every other service process) at once. Configuration stays the base:
the file holds only what the admin API set, laid over it by `clickpath.domain.tracking.overlay`.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError

from clickpath.domain.catalogue import (
    AffiliateConfig,
    CampaignConfig,
    parent_problems,
    tracking_code_clashes,
)
from clickpath.domain.tracking import Catalogue, overlay
from clickpath.infra.jsonstore import WatchedJsonFile

log = structlog.get_logger(__name__)


class CatalogueError(ValueError):
    """An admin change refused: the field it is about, why, and the HTTP status to answer."""

    def __init__(self, field: str, reason: str, status: int = 422) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.status = field, reason, status


class CatalogueStore:
    def __init__(self, path: Path, configured: Mapping[str, AffiliateConfig]) -> None:
        self.path = path
        self.configured = dict(configured)
        self._file = WatchedJsonFile(path, empty={})
        self._catalogue = Catalogue.build(self.configured)
        self._lock = threading.Lock()

    # --- read side (every request) ------------------------------------------------------

    def current(self) -> Catalogue:
        """The catalogue in effect; one stat() per call, a re-read only when the file changed."""
        try:
            data = self._file.changed()
        except (OSError, ValueError) as e:
            log.error("catalogue_unreadable", path=str(self.path), error=str(e))
            return self._catalogue
        if data is not None:
            self._rebuild(data)
        return self._catalogue

    def _rebuild(self, data: Mapping[str, Any]) -> None:
        try:
            catalogue = Catalogue.build(overlay(self.configured, data.get("affiliates", {})))
        except (ValueError, ValidationError) as e:
            # A hand-edited file gone bad must not take the tracker down: keep the last good
            # catalogue and say so.
            log.error("catalogue_invalid", path=str(self.path), error=str(e))
            return
        with self._lock:
            self._catalogue = catalogue

    # --- write side (the admin API) -----------------------------------------------------

    def put_affiliate(self, affiliate_id: str, changes: Mapping[str, Any]) -> tuple[AffiliateConfig, bool]:
        """Add an affiliate or change the fields in `changes`; (the affiliate now, created?)."""
        with self._editing() as stored:
            created = affiliate_id not in self.current().affiliates
            stored.setdefault(affiliate_id, {}).update(changes)
        return self.current().affiliates[affiliate_id], created

    def put_campaign(
        self, affiliate_id: str, campaign_id: str, campaign: CampaignConfig
    ) -> tuple[CampaignConfig, bool]:
        """Add or replace a campaign; (the campaign now, created?)."""
        with self._editing() as stored:
            affiliate = self._existing_affiliate(affiliate_id)
            created = campaign_id not in affiliate.campaigns
            campaigns = stored.setdefault(affiliate_id, {}).setdefault("campaigns", {})
            campaigns[campaign_id] = campaign.model_dump(mode="json")
        return self.current().affiliates[affiliate_id].campaigns[campaign_id], created

    def patch_campaign(
        self, affiliate_id: str, campaign_id: str, changes: Mapping[str, Any]
    ) -> CampaignConfig:
        """Change some fields of an existing campaign."""
        with self._editing() as stored:
            affiliate = self._existing_affiliate(affiliate_id)
            if campaign_id not in affiliate.campaigns:
                raise CatalogueError(
                    "campaign_id", f"affiliate {affiliate_id!r} has no campaign {campaign_id!r}", 404
                )
            merged = {**affiliate.campaigns[campaign_id].model_dump(mode="json"), **changes}
            try:
                campaign = CampaignConfig.model_validate(merged)
            except ValidationError as e:
                first = e.errors()[0]
                raise CatalogueError(".".join(map(str, first["loc"])), first["msg"]) from None
            campaigns = stored.setdefault(affiliate_id, {}).setdefault("campaigns", {})
            campaigns[campaign_id] = campaign.model_dump(mode="json")
        return self.current().affiliates[affiliate_id].campaigns[campaign_id]

    def _existing_affiliate(self, affiliate_id: str) -> AffiliateConfig:
        affiliate = self.current().affiliates.get(affiliate_id)
        if affiliate is None:
            raise CatalogueError("affiliate_id", f"no affiliate {affiliate_id!r}; add it first", 404)
        return affiliate

    @contextmanager
    def _editing(self) -> Iterator[dict[str, dict[str, Any]]]:
        """A copy of the stored changes to edit under the file's lock; written back only when
        the result is a valid catalogue, so a refused change leaves the file as it was."""
        with self._file.edit() as data:
            self._rebuild(data)  # the file as it is now, whoever wrote it last
            stored = copy.deepcopy(data.get("affiliates", {}))
            yield stored
            clashes = tracking_code_clashes(overlay(self.configured, stored))
            if clashes:
                raise CatalogueError("tracking_code", f"must be unique: {'; '.join(clashes)}")
            problems = parent_problems(overlay(self.configured, stored))
            if problems:
                raise CatalogueError("parent_id", "; ".join(problems))
            data.clear()
            data["affiliates"] = stored
        self._rebuild(data)  # read our own write at once, whatever the file's mtime says
