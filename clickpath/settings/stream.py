"""The stream workers: how many, where their tables live, and how they fetch, batch and send."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class StreamSettings(BaseModel):
    """Faust workers and their agents' batches; the sinks' fetch wait; the dedup window."""

    workers: int = Field(default=1, ge=1, le=16, description="Faust worker processes in `up`.")
    table_store: Literal["rocksdb", "memory"] = "rocksdb"
    fetch_wait_ms: int = Field(default=10, ge=1, le=5000)
    sink_fetch_wait_ms: int = Field(
        default=50, ge=1, le=5000,
        description="The sinks' fetch wait: each idle fetch costs the broker CPU (docs/topics.md).",
    )
    producer_linger_ms: int = Field(
        default=2, ge=0, le=1000, description="How long Faust's producer waits to fill a batch."
    )
    agent_batch_max: int = Field(
        default=500, ge=1, le=10000, description="Most records an agent applies as one batch."
    )
    agent_batch_wait_ms: int = Field(
        default=5, ge=1, le=5000, description="How long an agent waits to fill a batch."
    )
    dedup_recent_ids: int = Field(
        default=256, ge=16, description="Per-player window of event ids kept for dedup."
    )
