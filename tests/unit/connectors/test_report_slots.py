"""Report slots (connectors/report_slots.py) and how the analyst routes use them: per key, per
brand and per service, each 429 naming its limit; a slot is held until the work really ends
(issue 21 items 18 and 19: one key looping heavy reports gave another brand 16 of 16 x 429)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient

from clickpath.connectors import analyst_routes
from clickpath.connectors.auth import ReportScope
from clickpath.connectors.keys import ApiKey
from clickpath.infra.report_slots import ReportSlots, SlotsBusy
from clickpath.infra.reports import ReportsBusy
from tests.unit.connectors.http_support import service


def test_one_key_one_brand_never_hold_more_than_their_share() -> None:
    slots = ReportSlots(total=2, per_brand=1, per_key=1)
    first = slots.claim("k1", "brand-a")
    with pytest.raises(SlotsBusy, match="this key") as busy:
        slots.claim("k1", "brand-a")
    assert busy.value.limit == "key"
    with pytest.raises(SlotsBusy, match="brand 'brand-a'"):
        slots.claim("k2", "brand-a")
    other = slots.claim("k3", "brand-b")  # another brand still finds a slot
    with pytest.raises(SlotsBusy, match="the service runs 2") as busy:
        slots.claim("k4", "brand-c")
    assert busy.value.limit == "service"
    slots.release(first)
    slots.claim("k2", "brand-a")
    slots.release(other)
    slots.claim("admin-1", None)
    with pytest.raises(SlotsBusy, match="every brand"):  # admin keys over every brand share one
        slots.claim("admin-2", None)


def key(key_id: str, brand: str | None) -> ApiKey:
    return ApiKey.model_validate(
        {"key_id": key_id, "role": "analyst", "brand_id": brand, "digest": "d",
         "created_at": "2026-01-01T00:00:00Z"}
    )


def test_a_slot_is_held_until_the_thread_returns_even_if_the_request_is_given_up() -> None:
    """The slot is not the request's but the work's: a cancelled request (a client gone, a
    timeout) cannot free it while ClickHouse still runs the query."""
    slots = ReportSlots()
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        assert release.wait(10)
        return "done"

    async def scenario() -> None:
        task = asyncio.create_task(
            analyst_routes.ask(slots, key("k1", "brand-a"), ReportScope("brand-a", None), slow)
        )
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.sleep(0.05)
        assert slots.running == 1  # the query still runs: its slot is still taken
        with pytest.raises(HTTPException) as busy:
            await analyst_routes.ask(slots, key("k1", "brand-a"), ReportScope("brand-a", None), slow)
        assert busy.value.status_code == 429
        release.set()
        for _ in range(500):
            if slots.running == 0:
                break
            await asyncio.sleep(0.01)
        assert slots.running == 0
        with pytest.raises(BaseException):  # noqa: B017 - cancelled, or its answer: either way over
            await task

    asyncio.run(scenario())


def test_the_sinks_busy_answer_is_a_429_with_its_reason(tmp_path, monkeypatch) -> None:
    app, ctx = service(tmp_path)
    _, analyst = ctx.keys.create("analyst", brand_id="brand-a")

    def busy(*_args: Any, **_kwargs: Any) -> Any:
        raise ReportsBusy("2 analyst queries are running; try again shortly", 5)

    monkeypatch.setattr(analyst_routes, "analyst_query", busy)
    with TestClient(app) as client:
        r = client.post("/v1/sql", json={"query": "SELECT 1"},
                        headers={"Authorization": f"Bearer {analyst}"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "5"
    assert "analyst queries are running" in r.json()["detail"]
