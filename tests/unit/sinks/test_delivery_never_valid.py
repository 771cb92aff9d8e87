"""A delivery whose URL can never be sent ends in the dead-letter topic with its reason
(issue 21, item 25): before, an invalid IDNA host (`http://xn--/pb`) raised inside the attempt
and re-parked its job every 60 s forever; an endpoints.json entry that no longer validates
took every delivery down with it."""

from __future__ import annotations

import asyncio
import json

from clickpath.contracts.models import DeadLetter, DeliveryJob
from clickpath.contracts.topics import Topic
from clickpath.domain.endpoints import Endpoint
from clickpath.infra.endpoint_store import EndpointStore
from tests.unit.sinks.conftest import PARTNER, endpoint, postback


def test_an_invalid_idna_host_is_dead_lettered_with_its_reason_not_re_parked(make_engine) -> None:
    # Stored before configuration refused it: built without validation, as an old file would be.
    stale = Endpoint.model_construct(**{**endpoint().model_dump(), "url": "http://xn--/pb?c={click_id}"})
    h = make_engine([stale])
    h.read(postback(1), offset=0)
    asyncio.run(h.engine.attempt_next("ep"))
    assert h.produced(Topic.DELIVERY_RETRIES) == []
    [attempt] = h.produced(Topic.DELIVERY_ATTEMPTS)
    assert attempt.outcome == "refused" and "xn--" in (attempt.error or "")
    [letter] = h.produced(Topic.DEAD_LETTER)
    assert isinstance(letter, DeadLetter) and "not a valid name" in letter.reason
    assert isinstance(h.codec.decode(letter.original_value), DeliveryJob)
    assert h.partner.requests == []


def test_an_endpoints_file_entry_that_no_longer_validates_ends_its_jobs_naming_why(
    make_engine, tmp_path,
) -> None:
    h = make_engine([])
    path = tmp_path / "endpoints.json"
    good = endpoint("good").model_dump(mode="json")
    bad = endpoint("bad").model_dump(mode="json") | {"url": "http://user:pw@93.184.216.34/pb"}
    path.write_text(json.dumps({"good": good, "bad": bad}))
    h.engine.store = h.engine.outcomes.store = EndpointStore(path)
    assert set(h.engine.store.current()) == {"good"}
    assert "credentials" in h.engine.store.invalid["bad"]

    h.read(postback(1), offset=0)  # of aff-1's two endpoints, only the valid one gets a job
    assert [item.job.endpoint_id for item in h.pending("good")] == ["good"] and h.pending("bad") == []
    parked = h.engine.lane("good").heap[0].job.model_copy(update={"endpoint_id": "bad"})
    h.read(parked, offset=0, topic=Topic.DELIVERY_RETRIES)  # a job parked before the change
    asyncio.run(h.attempt_all_due("bad"))
    [letter] = h.produced(Topic.DEAD_LETTER)
    assert letter.reason.startswith("bad: endpoint disabled: invalid: url: credentials")
    assert all(str(r.url).startswith(PARTNER) for r in h.partner.requests)
