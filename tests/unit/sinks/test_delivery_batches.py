"""The delivery engine reads canonical.events as the stage runtime writes it, in batch records:
each event gets its webhook jobs with its own bytes, a bad item is a dead letter on its own, and
the record's offset is committed only once every job it caused has ended."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from clickpath.contracts.models import CanonicalEvent, DeadLetter
from clickpath.contracts.topics import Topic
from clickpath.infra.batching import BatchEncoder
from tests.unit.sinks.conftest import START, Message, endpoint

WHEN = datetime.fromtimestamp(START - 60, UTC)


def canonical(event_id: str, event_type: str, is_ftd: bool = False) -> CanonicalEvent:
    return CanonicalEvent(event_id=event_id, event_type=event_type, occurred_at=WHEN,
                          processed_at=WHEN, brand_id="brand-a", source="crm",
                          person_id="brand-a:p1", is_ftd=is_ftd, payload="{}")


def test_each_event_of_a_batch_record_gets_its_webhooks_and_the_offset_waits_for_all(
        make_engine) -> None:
    h = make_engine([endpoint("wh", kind="webhook", method="POST", affiliate=None, path="/hook")])
    events = [canonical("e-reg", "registration"), canonical("e-login", "login"),
              canonical("e-ftd", "deposit", is_ftd=True)]
    items = [("brand-a:p1", h.codec.encode(e)) for e in events]
    items.insert(1, ("brand-a:p1", b"\x00garbage"))
    batch = BatchEncoder(h.codec).encode(items)
    h.engine.accept(Message(h.topic(Topic.CANONICAL), 0, 5, batch, b"brand-a:p1"))

    jobs = [queued.job for queued in h.pending("wh")]
    assert sorted(job.event for job in jobs) == ["ftd", "registration"]  # a login asks for none
    assert sorted(h.codec.decode(job.record).event_id for job in jobs) == ["e-ftd", "e-reg"]
    [letter] = h.produced(Topic.DEAD_LETTER)
    assert isinstance(letter, DeadLetter)
    assert (letter.offset, letter.batch_index, letter.original_value) == (5, 1, b"\x00garbage")

    async def deliver_one_then_the_other() -> list[dict[tuple[str, int], int]]:
        await h.engine.attempt_next("wh")
        await h.engine.commits.commit()  # one job of offset 5 still open: 5 is read again
        await h.engine.attempt_next("wh")
        await h.engine.commits.commit()
        return h.consumer.commits

    commits = asyncio.run(deliver_one_then_the_other())
    assert len(h.partner.requests) == 2
    assert [c.get((h.topic(Topic.CANONICAL), 0)) for c in commits] == [5, 6]
