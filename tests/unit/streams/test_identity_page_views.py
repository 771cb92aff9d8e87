"""Page views as evidence, through the two identity stages on the real runtime in memory: the
visitor's device, IP prefix and user agent on a click's landing page are the sightings of the
account whose registration named the click, whatever the order and however often each comes."""

from __future__ import annotations

import random
from typing import Any

import pytest

from clickpath.contracts.models import CanonicalEvent, PageView
from clickpath.contracts.topics import Topic
from tests.factories import at
from tests.unit.streams.crash_harness import Broker, Worker
from tests.unit.streams.test_identity_stages import CHROME, STAGES, clicked, persons, reg

ORDER = (Topic.CANONICAL, Topic.PAGE_VIEWS, Topic.IDENTITY_SIGHTINGS, Topic.IDENTITY_INBOX)
PREFIX = "198.51.100.0/24"


def view(click_id: str, minutes: float, n: int = 0, **fields: Any) -> PageView:
    return PageView(event_id=f"pv-{click_id}-{n}", occurred_at=at(minutes), brand_id="brand-a",
                    source="sdk", click_id=click_id, **fields)


def run(records: list[CanonicalEvent | PageView], seed: int | None = None) -> Broker:
    if seed is not None:
        records = random.Random(seed).sample(records, len(records))
    worker = Worker(Broker(), STAGES)
    for record in records:
        if isinstance(record, PageView):
            worker.broker.produce(Topic.PAGE_VIEWS, record.click_id, record)
            worker.step(Topic.PAGE_VIEWS)
        else:
            worker.broker.produce(Topic.CANONICAL, record.person_id or record.click_id or "", record)
            worker.step(Topic.CANONICAL)
    worker.drain(ORDER)
    return worker.broker


LANDING = dict(device_id="dev-landing", ip_prefix=PREFIX, user_agent=CHROME)
SCENE: list[CanonicalEvent | PageView] = [
    clicked("c1", 0),
    view("c1", 1, **LANDING),  # the visitor on the landing page
    reg("brand-a", "p1", 10, click_id="c1"),  # registers naming c1, with nothing else
    reg("brand-b", "q1", 30, device_id="dev-landing", ip_prefix=PREFIX),  # the same device
]


@pytest.mark.parametrize("seed", [None, 1, 2, 3, 4])
def test_the_landing_pages_device_is_the_registering_accounts_evidence(seed: int | None) -> None:
    found = persons(run(SCENE, seed), ["brand-a:p1", "brand-b:q1"])
    assert found["brand-a:p1"] == found["brand-b:q1"]  # device + IP prefix, across brands


def test_copies_of_every_record_change_nothing() -> None:
    once = persons(run(SCENE), ["brand-a:p1", "brand-b:q1"])
    assert persons(run(SCENE * 3, seed=9), ["brand-a:p1", "brand-b:q1"]) == once


def test_without_the_page_view_the_accounts_stay_apart() -> None:
    found = persons(run([r for r in SCENE if not isinstance(r, PageView)]),
                    ["brand-a:p1", "brand-b:q1"])
    assert found["brand-a:p1"] != found["brand-b:q1"]


def test_a_page_view_of_a_click_nobody_named_links_nobody() -> None:
    found = persons(run([clicked("c2", 0), view("c2", 1, **LANDING),
                         reg("brand-b", "q1", 30, device_id="dev-landing", ip_prefix=PREFIX)]),
                    ["brand-b:q1"])
    assert len(found) == 1


def test_a_refused_device_on_the_landing_page_is_left_out() -> None:
    records = [clicked("c1", 0), view("c1", 1, device_id="unknown"),
               reg("brand-a", "p1", 10, click_id="c1"),
               reg("brand-b", "q1", 30, device_id="unknown")]
    found = persons(run(records), ["brand-a:p1", "brand-b:q1"])
    assert found["brand-a:p1"] != found["brand-b:q1"]
