"""Undoing a merge through the real pipeline (embedded broker, the worker's identity stages and
the ClickHouse sink in their own processes, the HTTP service in this one): the same e-mail at
three brands of one operator is one person; the admin API's unmerge splits one account off and
`clickpath identity unmerge` another, and ClickHouse's `persons` and `person_changes` show it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest

from clickpath.connectors.context import IngressContext
from clickpath.connectors.http_service import create_service
from clickpath.domain.identity.account_state import person_id_of
from tests.integration.harness import ServedApp, holds_for, wait_until

A, B, C = "brand-a:p1", "brand-b:q1", "brand-c:r1"
WAIT_S = 180  # a worker and a sink starting on a shared 2-core machine


def registration(account: str, minute: int) -> dict:
    _, player = account.split(":")
    return {"event_type": "registration", "event_id": f"reg-{player}", "player_id": player,
            "occurred_at": f"2026-11-25T10:0{minute}:00Z", "email": " Ann@Example.com "}


@pytest.fixture
def service(settings):
    ctx = IngressContext.from_settings(settings)
    with ServedApp(create_service(settings, ctx)) as served:  # its producer: the real broker's
        _, admin = ctx.keys.create("admin")
        served.admin = httpx.Client(base_url=served.url, timeout=60,
                                    headers={"Authorization": f"Bearer {admin}"})
        served.ctx = ctx
        yield served
        served.admin.close()


def sql(service, query: str) -> list[list]:
    r = service.admin.post("/v1/sql", json={"query": query})
    if r.status_code == 503:  # the sink is still starting
        return []
    assert r.status_code == 200, r.text
    return r.json()["rows"]


def persons(service) -> dict[str, str]:
    """Each account's person now, once the `persons` view has all three."""
    found = dict(sql(service, "SELECT account, person_id FROM persons ORDER BY account"))
    return found if {A, B, C} <= set(found) else {}


def changes(service) -> list[tuple[str, str, str]]:
    rows = sql(service, "SELECT account, kind, reason FROM person_changes ORDER BY account, version")
    return [tuple(r) for r in rows]


def test_an_unmerge_by_the_api_and_by_the_cli_splits_the_person(settings, service, start_role):
    start_role("worker")
    start_role("sink", "clickhouse")
    for account, minute in ((A, 0), (B, 1), (C, 2)):
        _, secret = service.ctx.keys.create("operator", brand_id=account.split(":")[0])
        r = httpx.post(f"{service.url}/v1/events", json={"events": [registration(account, minute)]},
                       headers={"Authorization": f"Bearer {secret}"}, timeout=60)
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text

    def one_person() -> dict[str, str] | None:
        found = persons(service)
        return found if found and len(set(found.values())) == 1 else None

    merged = wait_until(one_person, WAIT_S, "one person for the three accounts", every_s=1)
    key = settings.pseudonym_key.get_secret_value().encode()
    assert merged[B] == person_id_of("default", A, key)  # the earliest account's person survives

    # The admin API: C leaves the person, A and B stay one.
    r = service.admin.post("/v1/admin/identity/unmerge",
                           json={"brand_id": "brand-c", "player_id": "r1", "reason": "ticket 12"})
    assert r.status_code == 202, r.text
    assert uuid.UUID(r.json()["request_id"]) and r.json()["account"] == C

    def c_alone() -> dict[str, str] | None:
        found = persons(service)
        return found if found[A] == found[B] == merged[A] != found[C] else None

    wait_until(c_alone, WAIT_S, "brand-c:r1 a person of its own", every_s=1)
    holds_for(lambda: c_alone() is not None, "A and B one person, C its own")

    # The CLI, straight to the broker: B leaves too; three persons.
    env = {**os.environ, **settings.to_env()}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    done = subprocess.run(
        [sys.executable, "-m", "clickpath.run.cli", "identity", "unmerge", "--brand", "brand-b", "q1",
         "--reason", "ticket 13"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert uuid.UUID(printed["request_id"])
    assert (printed["account"], printed["reason"]) == (B, "ticket 13")
    assert printed["requested_by"].startswith("local-cli")

    def three_persons() -> dict[str, str] | None:
        found = persons(service)
        return found if len(set(found.values())) == 3 else None

    wait_until(three_persons, WAIT_S, "three persons again", every_s=1)
    holds_for(lambda: three_persons() is not None, "three persons")

    # The merge log keeps the merges and both operator unmerges, with their reason.
    log = changes(service)
    assert {(a, "merge") for a in (B, C)} <= {(a, kind) for a, kind, _ in log}
    assert {(C, "unmerge", "unmerge_request"), (B, "unmerge", "unmerge_request")} <= set(log)
    assert not any(a == A and reason == "unmerge_request" for a, _, reason in log)
