"""Where outward deliveries go: postback endpoints of affiliates and webhook endpoints.

An affiliate may have several postback endpoints (each a URL template with macros, GET or
POST with a form or JSON body, the events it wants, an optional signing secret); operators
and affiliate managers have webhook endpoints (Standard Webhooks, JSON). The models and
their validation live here; where they are kept is `clickpath.infra.endpoint_store`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from clickpath.domain import presets
from clickpath.domain.postback_template import MACROS, url_problem, validate_template

POSTBACK_EVENTS = ("registration", "ftd", "deposit", "qualified_cpa", "chargeback")
WEBHOOK_EVENTS = (
    "registration", "ftd", "kyc_changed", "qualified_cpa", "fraud_alert", "statement_closed",
)
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint_id: str = Field(description="Unique name, e.g. aff-1-main.")
    kind: Literal["postback", "webhook"] = "postback"
    affiliate_id: str | None = Field(
        default=None, description="Postbacks: the affiliate. Webhooks: an affiliate manager's scope."
    )
    brand_id: str | None = Field(default=None, description="Webhooks: only this brand's events.")
    url: str = Field(description="Postbacks: a URL template with macros. Webhooks: a URL.")
    method: Literal["GET", "POST"] = "GET"
    body: Literal["none", "form", "json"] = Field(
        default="none", description="POST postbacks: the macros' values as a form or JSON body."
    )
    events: list[str] = Field(min_length=1)
    preset: str | None = Field(
        default=None, description="Postbacks: a tracker preset (docs/postback-presets.md); "
        "`url` is then the tracker's base URL and the preset adds the parameters."
    )
    params: dict[str, str] = Field(
        default={}, description="Preset overrides, e.g. goal_ftd=3 (docs/postback-presets.md)."
    )
    secret: str | None = Field(
        default=None, description="Signing secret (whsec_...): Standard Webhooks signatures."
    )
    previous_secrets: list[str] = Field(
        default=[], description="Secrets being rotated out: requests are signed with each too."
    )
    enabled: bool = True
    disabled_reason: str | None = None
    disabled_at: datetime | None = None

    @field_validator("endpoint_id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("letters, digits, '.', '_' and '-' only, at most 64")
        return value

    @model_validator(mode="before")
    @classmethod
    def _preset_events(cls, data: object) -> object:
        """A preset brings its default events, so `events` is optional with one."""
        if not isinstance(data, dict) or data.get("events"):
            return data
        name = str(data.get("preset") or "")
        if name:
            presets.preset_of(name)  # an unknown preset: its error (the known ones), not "events"
            params = data.get("params")
            params = params if isinstance(params, dict) else {}
            return {**data, "events": presets.default_events(name, params)}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Endpoint:
        known = POSTBACK_EVENTS if self.kind == "postback" else WEBHOOK_EVENTS
        unknown = sorted(set(self.events) - set(known))
        if unknown:
            raise ValueError(f"events: unknown {unknown}; a {self.kind} takes {list(known)}")
        if self.kind == "postback":
            if not self.affiliate_id:
                raise ValueError("affiliate_id: a postback endpoint belongs to an affiliate")
            if self.preset is not None:
                self._check_preset()
            else:
                if self.params:
                    raise ValueError("params: overrides are for a preset (give preset too)")
                validate_template(self.url)
            if self.method == "GET" and self.body != "none":
                raise ValueError("body: a GET postback has no body; use method POST")
        else:
            if self.preset is not None or self.params:
                raise ValueError("preset: presets are for postbacks, not webhooks")
            if not self.url.startswith(("http://", "https://")) or "{" in self.url:
                raise ValueError("url: a webhook URL is a plain http(s) URL without macros")
            problem = url_problem(urlsplit(self.url))
            if problem is not None:
                raise ValueError(f"url: {problem}")
            if self.method != "POST":
                raise ValueError("method: webhooks are POSTed")
            if "statement_closed" in self.events and self.brand_id is not None:
                raise ValueError(
                    "events: statement_closed is an affiliate's statement over every brand;"
                    " an endpoint scoped to one brand (brand_id) cannot take it"
                )
        for secret in [self.secret, *self.previous_secrets]:
            if secret is not None and not secret.startswith("whsec_"):
                raise ValueError("secret: must be a whsec_ secret (clickpath postbacks secret)")
        return self

    def _check_preset(self) -> None:
        assert self.preset is not None
        presets.check(self.preset, self.url, self.params, self.events)
        if self.method != "GET" or self.body != "none":
            raise ValueError("method: trackers take preset postbacks as GET without a body")
        for event in self.events:
            for reverses in ("ftd", "deposit") if event == presets.REVERSAL else (None,):
                validate_template(self.template_for(event, reverses))

    def template_for(self, event: str, reverses: str | None = None) -> str:
        """The URL template sent for `event` (a preset's per-event template, or `url`)."""
        if self.preset is None:
            return self.url
        return presets.template(self.preset, self.url, self.params, event, reverses)

    def wants(self, event: str) -> bool:
        return self.enabled and event in self.events


def validation_message(error: ValidationError) -> str:
    """The first problem of an endpoint that failed validation, as `field: why` (a preset's
    messages name the override themselves: `params.goal_ftd: ...`)."""
    first = error.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    where = ".".join(map(str, first["loc"]))
    return f"{where}: {message}" if where else message


def legacy_endpoints(affiliates: Mapping[str, object]) -> list[Endpoint]:
    """Each affiliate's configured `postback_url` as its `<affiliate>-default` endpoint."""
    found = []
    for affiliate_id, config in affiliates.items():
        url = getattr(config, "postback_url", None)
        if url:
            found.append(Endpoint(
                endpoint_id=f"{affiliate_id}-default", affiliate_id=affiliate_id, url=url,
                events=list(getattr(config, "postback_events", ["registration", "ftd"])),
            ))
    return found


__all__ = ["MACROS", "Endpoint", "legacy_endpoints"]
