"""The delivery engine (postbacks and webhooks): endpoints, the SSRF guard's exceptions,
retries, concurrency, rate limits and circuit breakers (docs/delivery.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode

from clickpath.domain.endpoints import Endpoint
from clickpath.domain.retry_policy import DEFAULT_SCHEDULE


class DeliverySettings(BaseModel):
    """Where deliveries go, how they are retried and how hard one endpoint is pushed."""

    postback_timeout_s: float = 5.0
    postback_max_attempts: int = Field(default=5, ge=1)
    postback_backoff_s: float = 0.2
    postback_backoff_max_s: float = Field(default=60.0, gt=0, description="Cap of one retry wait.")
    endpoints: list[Endpoint] = Field(
        default=[], description="Postback and webhook endpoints (besides affiliates' postback_url)."
    )
    endpoints_path: Path | None = Field(
        default=None, description="Endpoints added by CLI/admin API; default <data_dir>/endpoints.json."
    )
    egress_allow: Annotated[list[str], NoDecode] = Field(
        default=[], description="CIDRs deliveries may reach although private/loopback (SSRF guard)."
    )
    delivery_schedule_s: list[float] | None = Field(
        default=list(DEFAULT_SCHEDULE),
        description="Retry delays (±10 % jitter), about 11 h in all; null: exponential backoff "
        "with full jitter from postback_backoff_s up to postback_backoff_max_s, "
        "postback_max_attempts attempts.",
    )
    delivery_inline_retry_max_s: float = Field(
        default=30.0, ge=0, description="Retries due sooner stay in memory; later ones are parked."
    )
    delivery_endpoint_concurrency: int = Field(default=8, ge=1, le=256)
    delivery_rate_per_s: float = Field(default=200.0, gt=0, description="Requests/s per endpoint.")
    delivery_rate_burst: int = Field(default=200, ge=1)
    circuit_failures: int = Field(default=5, ge=1, description="Failures in a row that open it.")
    circuit_cooldown_s: float = Field(default=30.0, gt=0, description="Open this long, then probe.")
    delivery_max_pending: int = Field(default=20000, ge=1, description="Deliveries in memory.")
    delivery_commit_s: float = Field(default=0.5, gt=0)
    webhooks_enabled: bool = Field(
        default=False, description="Read canonical events for webhooks even before one is set up."
    )

    @field_validator("egress_allow", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):  # CIDRs, comma-separated, or a JSON list (to_env writes one)
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
