"""Poison input mixed into real traffic: every bad record lands on the dead-letter topic with its
reason, the worker keeps going, and the counts of the good traffic stay exact."""

from __future__ import annotations

import os
import struct
from datetime import UTC, datetime
from decimal import Decimal

from clickpath.contracts.models import BatchItem, DeadLetter, Deposit, EventBatch
from clickpath.contracts.topics import Topic, topic_name
from clickpath.devtools.bench.phases import wait_for_outputs
from clickpath.devtools.loadgen import LoadGenerator, Population
from clickpath.devtools.verify import VERIFY_POSTBACK_PATH, verify
from clickpath.domain.catalogue import AffiliateConfig
from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import funnel_rows
from tests.integration.harness import read_topic

POPULATION = Population.synthetic(brands=1, affiliates=3, campaigns=1)


def deposit_unchecked(n: int, **fields) -> Deposit:
    """A deposit built without validation, as a broken producer would send it."""
    values = dict(
        event_id=f"poison-{n}", event_type="deposit", occurred_at=datetime.now(UTC),
        received_at=None, brand_id="brand-1", source="crm", player_id=f"p-poison-{n}",
        transaction_id=f"tx-poison-{n}", amount=Decimal("10.00"), currency="EUR", method=None,
    )
    return Deposit.model_construct(**{**values, **fields})


def poison(codec) -> list[tuple[str, bytes, str]]:
    """(name, value, a word the dead-letter reason must contain)."""
    valid = codec.encode(deposit_unchecked(0))
    return [
        ("random bytes", b"\x07" + os.urandom(200), "not Confluent wire format"),
        ("empty", b"", "empty or truncated"),
        ("truncated avro", valid[: len(valid) // 2], "undecodable"),
        ("unknown schema id", b"\x00" + struct.pack(">I", 987654) + valid[5:], "unknown schema id"),
        ("huge string", codec.encode(deposit_unchecked(1, player_id="x" * 200_000)), "player_id"),
        ("negative amount", codec.encode(deposit_unchecked(2, amount=Decimal("-5.00"))), "amount"),
        ("absurd amount", codec.encode(deposit_unchecked(3, amount=Decimal("9" * 15))), "amount"),
        ("unknown currency", codec.encode(deposit_unchecked(4, currency="XXQ")), "currency"),
    ]


def test_poison_goes_to_dead_letters_and_good_traffic_stays_exact(
    settings, codec, receiver, start_role
) -> None:
    template = receiver.url + VERIFY_POSTBACK_PATH
    settings = settings.with_overrides(
        affiliates={a: AffiliateConfig(name=a, postback_url=template) for a in POPULATION.affiliates}
    )
    for args in (("worker", "--index", "0"), ("sink", "clickhouse"), ("sink", "postbacks")):
        start_role(*args, role_settings=settings)
    gen = LoadGenerator(POPULATION, seed=5)
    bad = poison(codec)
    events_topic = topic_name(settings, Topic.EVENTS)
    with EventProducer(settings, codec=codec) as producer:
        for i, event in enumerate(gen.events(800)):
            producer.send(event)
            if i % 100 == 50 and bad:
                name, value, _ = bad[len(bad) - 1]
                producer.send_raw(events_topic, f"brand-1:p-poison-{i}".encode(), value)
                bad.pop()
        for _, value, _ in bad:  # whatever did not fit in between
            producer.send_raw(events_topic, b"brand-1:p-poison-tail", value)
    truth = gen.truth

    wait_for_outputs(settings, truth, receiver, 120)
    verdict = verify(truth, funnel_rows(settings), [r["path"] for r in receiver.requests()])
    assert verdict.ok, verdict.summary()

    expected = poison(codec)
    letters = [r for _, r in read_topic(settings, codec, Topic.DEAD_LETTER, expect=len(expected))]
    assert all(isinstance(r, DeadLetter) and r.stage == "players" for r in letters)
    assert len(letters) == len(expected)
    reasons = sorted(r.reason for r in letters)
    for name, _, word in expected:
        assert any(word in reason for reason in reasons), f"{name}: no reason with {word!r}: {reasons}"
    huge = next(r for r in letters if "player_id" in r.reason)
    assert len(huge.original_value) > 200_000  # the record is kept whole for replay


def test_a_bad_event_inside_a_batch_record_fails_alone(settings, codec, start_role) -> None:
    """One record, five events: the two bad ones are dead-lettered with their index and their
    own bytes, the duplicate is dropped, the two good deposits are applied once each."""
    start_role("worker", "--index", "0")
    key = "brand-1:p-batch"
    good = [deposit_unchecked(10 + i, player_id="p-batch", transaction_id=f"tx-b{i}") for i in range(2)]
    wrong_key = deposit_unchecked(20, player_id="p-elsewhere")
    items = [
        BatchItem(key=key, value=codec.encode(good[0])),
        BatchItem(key=key, value=b"\x00\x00\x00\x00\x01broken"),
        BatchItem(key=key, value=codec.encode(good[1])),
        BatchItem(key=key, value=codec.encode(wrong_key)),
        BatchItem(key=key, value=codec.encode(good[0])),
    ]
    with EventProducer(settings, codec=codec) as producer:
        batch = codec.encode(EventBatch(items=items))
        producer.send_raw(topic_name(settings, Topic.EVENTS), key.encode(), batch)

    letters = [r for _, r in read_topic(settings, codec, Topic.DEAD_LETTER, expect=2)]
    assert sorted((r.batch_index, r.stage) for r in letters) == [(1, "players"), (3, "players")]
    by_index = {r.batch_index: r for r in letters}
    assert by_index[1].original_value == items[1].value and "schema id" in by_index[1].reason
    assert by_index[3].original_value == items[3].value and "must be" in by_index[3].reason
    assert by_index[3].topic == topic_name(settings, Topic.EVENTS)
    assert by_index[3].original_key == key.encode()
    # Reading for more than arrived watches, for the whole timeout, that no third one comes.
    canonical = read_topic(settings, codec, Topic.CANONICAL, expect=3, timeout_s=8, require=False)
    assert sorted(r.event_id for _, r in canonical) == ["poison-10", "poison-11"]
