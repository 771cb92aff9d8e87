"""After a crash that kept the state and lost a batch's outputs, replaying the batch's records
sends exactly the entries the batch wrote, with the same ids: the sink drops none twice and
misses none (a row's several versions in one batch included)."""

from __future__ import annotations

from datetime import date, timedelta

from clickpath.contracts.serde import build_codec
from tests.unit.domain.commission_factories import (
    NOW,
    Engine,
    at,
    banded,
    book,
    cpa,
    flag,
    flat,
    policy,
    qualification,
    value,
    version,
)


def test_replaying_a_lost_batch_sends_exactly_its_entries() -> None:
    rules = policy(
        book([version(cpa=cpa("100", monthly_cap=1),
                      revshare=banded("tiered", [("0", "0.2"), ("1000", "0.3")],
                                      negative_carry_over=True)),
              version("parent", revshare=flat("0"), sub_affiliate_share="0.1")],
             {"aff-a": "p", "aff-p": "parent"}),
        parents={"aff-a": "aff-p"},
    )
    engine = Engine(rules)
    engine.send(value("p1", "2026-02", 1, ngr="-500"), NOW)
    engine.send(qualification("p2", 1, qualified_at=at("2026-03-09")), NOW)
    batch = [
        value("p1", "2026-03", 1, ngr="700"),
        value("p1", "2026-03", 2, ngr="900"),  # the same row twice in the batch
        value("p2", "2026-03", 1, ngr="400"),
        qualification("p1", 1, qualified_at=at("2026-03-02")),  # bumps p2 under the cap
        flag("f1", "p2", "hold", at("2026-03-20")),
    ]
    later = NOW + timedelta(seconds=5)
    engine.entries.clear()
    for record in batch:
        engine.send(record, later)
    lost = {e.entry_id: e for e in engine.entries}
    assert len(lost) == len(engine.entries) > len(batch)
    replayed = [e for record in batch for e in engine.replay(record, later + timedelta(seconds=9))]
    assert {e.entry_id: e for e in replayed} == lost
    assert len(replayed) == len(lost)


def test_a_record_that_wrote_nothing_replays_nothing() -> None:
    engine = Engine(policy(book([version(cpa=cpa("100"))], {"aff-a": "p"})))
    record = qualification("p1", 1, "pending", occurred_at=at("2026-03-02"))
    engine.send(record)
    assert engine.replay(record) == []


def test_entries_travel_as_avro_unchanged() -> None:
    rules = policy(book([version(currency="USD", cpa=cpa("33.333"), revshare=flat("0.3333"))],
                        {"aff-a": "p"}), rates=[("USD", "0.91234567", date(2026, 1, 1))])
    engine = Engine(rules)
    engine.send(qualification("p1", 1, qualified_at=at("2026-03-09")))
    engine.send(value("p1", "2026-03", 1, ngr="1234.5678", currency="USD"))
    codec = build_codec(None, None)
    assert len(engine.entries) == 2
    for entry in engine.entries:
        assert codec.decode(codec.encode(entry)) == entry
