"""Helpers for testing the HTTP service in-process, without a broker: a producer that
acknowledges everything, and a raw ASGI call that says how much of a request body was read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.contracts.models import IngressEvent, Record
from clickpath.contracts.topics import Topic
from clickpath.domain.catalogue import AffiliateConfig, CampaignConfig
from clickpath.settings import Settings

LANDING = "https://casino.example/welcome?cid={click_id}"
AUDIT_KEY = "unit-test-audit-key-of-at-least-32-bytes"  # an operator's own: not the shipped one


class AckingProducer:
    """Stands in for AckedProducer: every event acknowledged, or every one failing with `error`."""

    def __init__(self, error: str | None = None) -> None:
        self.sent: list[IngressEvent] = []
        self.records: list[tuple[Topic, str, Record]] = []
        self.error = error

    async def send(self, events: list[IngressEvent]) -> list[str | None]:
        self.sent.extend(events)
        return [self.error] * len(events)

    async def send_record(self, topic: Topic, key: str, record: Record) -> str | None:
        self.records.append((topic, key, record))
        return self.error

    def close(self) -> None:
        pass


def service_settings(tmp_path: Path, **overrides: Any) -> Settings:
    campaign = CampaignConfig(brand_id="brand-a", landing_url=LANDING, tracking_code="spring1")
    return Settings(
        data_dir=tmp_path / "data", pseudonym_key="unit-test-key", audit_key=AUDIT_KEY,
        affiliates={"aff-1": AffiliateConfig(name="One", campaigns={"spring": campaign})},
        **overrides,
    )


def service(tmp_path: Path, producer: AckingProducer | None = None,
            **overrides: Any) -> tuple[FastAPI, IngressContext]:
    settings = service_settings(tmp_path, **overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # as `up` makes it (a CLI read makes none)
    ctx = IngressContext.from_settings(settings)
    ctx._producer = producer or AckingProducer()  # type: ignore[assignment]
    return create_service(settings, ctx), ctx


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    body_bytes_read: int


def chunks(total: int, size: int = 65536) -> Iterator[bytes]:
    """A body of `total` bytes, made only as it is read."""
    while total > 0:
        n = min(size, total)
        total -= n
        yield b"x" * n


def raw_call(app: FastAPI, method: str, path: str, *, headers: dict[str, str] | None = None,
             body: Iterator[bytes] = iter(()), query: str = "",
             client: tuple[str, int] = ("203.0.113.9", 40000)) -> RawAnswer:
    """One request straight into the ASGI app, the body handed over chunk by chunk as the app
    asks for it (as a server does with a chunked body): the answer and the body bytes read."""
    read = 0
    pending = iter(body)
    done = False

    async def receive() -> dict[str, Any]:
        nonlocal read, done
        if done:
            await asyncio.Event().wait()  # a real server: nothing more until disconnect
        chunk = next(pending, None)
        if chunk is None:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "client": client, "server": ("127.0.0.1", 8000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return RawAnswer(
        status=start["status"],
        headers={k.decode(): v.decode() for k, v in start["headers"]},
        body=b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
        body_bytes_read=read,
    )
