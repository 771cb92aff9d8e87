"""One record ClickHouse cannot hold no longer stops ingestion (issue 13, High 2): the sink
writes every other row of the batch to the embedded chdb, dead-letters the one with its reason
and where it was, and commits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from clickpath.contracts.models import (
    CanonicalEvent,
    CurrencyTotals,
    DeadLetter,
    PlayerDayFact,
    PlayerProfile,
)
from clickpath.contracts.topics import Topic, topic_name
from clickpath.infra.producer import EventProducer
from clickpath.sinks.clickhouse.writer import ClickHouseSink
from tests.integration.harness import read_topic, wait_until

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def event(n: int, occurred_at: datetime = NOW) -> CanonicalEvent:
    return CanonicalEvent(
        event_id=f"click-{n}", event_type="click", occurred_at=occurred_at, processed_at=NOW,
        brand_id="brand-a", source="tracker", person_id=f"click:{n}", click_id=f"c{n}",
        affiliate_id="aff-1", campaign_id="camp-1", is_ftd=False, payload="{}",
    )


def fact(n: int, day: date = NOW.date()) -> PlayerDayFact:
    return PlayerDayFact(
        person_id=f"brand-a:p{n}", brand_id="brand-a", day=day, currency="EUR",
        affiliate_id="aff-1", campaign_id="camp-1", registrations=1, ftds=1, deposits=1,
        deposit_sum=Decimal("10"), version=1,
    )


@pytest.fixture
def sink(settings):
    s = ClickHouseSink(settings)
    s._consumer.subscribe([topic_name(settings, t) for t in s.topics])
    yield s
    s._consumer.close()
    s.close()


def run_until_committed(sink: ClickHouseSink, expected: int) -> None:
    consumed = [0]

    def step() -> bool:
        consumed[0] += sink.run_once()
        return consumed[0] >= expected

    wait_until(step, 60, f"the sink to consume and commit {expected} records", every_s=0)


def committed(sink: ClickHouseSink, topic: str) -> int:
    """The offsets the sink's group committed on `topic`, summed over its partitions."""
    partitions = sink._consumer.committed(sink._consumer.assignment(), timeout=10)
    return sum(max(tp.offset, 0) for tp in partitions if tp.topic == topic)


def count(sink: ClickHouseSink, table: str) -> int:
    return int(sink.client.query(f"SELECT count() FROM {sink.db}.{table}").result_rows[0][0])


def test_an_event_of_the_year_2200_is_dead_lettered_and_the_rest_lands(settings, codec, sink) -> None:
    bad = event(99, datetime(2200, 1, 1, tzinfo=UTC))
    with EventProducer(settings, codec=codec) as producer:
        for n in range(5):
            producer.send_record(Topic.CANONICAL, "brand-a", event(n))
        producer.send_record(Topic.CANONICAL, "brand-a", bad)
        for n in range(5, 10):
            producer.send_record(Topic.CANONICAL, "brand-a", event(n))
    run_until_committed(sink, 11)

    assert count(sink, "events") == 10
    [(_, letter)] = read_topic(settings, codec, Topic.DEAD_LETTER, expect=1)
    assert isinstance(letter, DeadLetter) and letter.stage == "clickhouse"
    assert letter.topic == topic_name(settings, Topic.CANONICAL) and "occurred_at" in letter.reason
    assert codec.decode(letter.original_value) == bad
    assert committed(sink, topic_name(settings, Topic.CANONICAL)) == 11


def test_a_refused_insert_is_bisected_to_the_row_at_fault(settings, codec, sink, monkeypatch) -> None:
    """Without the range check, chdb's driver refuses the whole insert (a Date past 2149): the
    sink splits the batch and dead-letters only the fact that cannot be written."""
    monkeypatch.setattr(ClickHouseSink, "unwritable", lambda self, record: None)
    with EventProducer(settings, codec=codec) as producer:
        for n in range(6):
            producer.send_record(Topic.PLAYER_DAY_FACTS, f"brand-a:p{n}", fact(n))
        producer.send_record(Topic.PLAYER_DAY_FACTS, "brand-a:p99", fact(99, date(2200, 1, 1)))
        for n in range(6, 12):
            producer.send_record(Topic.PLAYER_DAY_FACTS, f"brand-a:p{n}", fact(n))
    run_until_committed(sink, 13)

    assert count(sink, "fact_rows") == 12
    [(_, letter)] = read_topic(settings, codec, Topic.DEAD_LETTER, expect=1)
    assert letter.topic == topic_name(settings, Topic.PLAYER_DAY_FACTS)
    assert "unwritable" in letter.reason and "day" in letter.reason
    assert codec.decode(letter.original_value).person_id == "brand-a:p99"
    assert committed(sink, topic_name(settings, Topic.PLAYER_DAY_FACTS)) == 13


def profile(n: int, updated_at: datetime = NOW) -> PlayerProfile:
    return PlayerProfile(
        person_id=f"brand-a:p{n}", brand_id="brand-a", player_id=f"p{n}", deposits=1,
        declined_deposits=0, withdrawals=0, chargebacks=0,
        money=[CurrencyTotals(currency="EUR", deposit_sum=Decimal("10"), withdrawal_sum=Decimal(0),
                              chargeback_sum=Decimal(0), stakes=Decimal(0), wins=Decimal(0),
                              bonus_stakes=Decimal(0), bonus_cost=Decimal(0), ggr=Decimal(0),
                              ngr=Decimal(0))],
        sessions=1, consents={}, rg_active=[], tag_status="attributed", affiliate_id="aff-1",
        campaign_id="camp-1", churn_risk=0.0, updated_at=updated_at, version=1,
    )


def test_player_profiles_land_in_players_and_one_of_the_year_2200_is_dead_lettered(
    settings, codec, sink
) -> None:
    bad = profile(99, datetime(2200, 1, 1, tzinfo=UTC))
    with EventProducer(settings, codec=codec) as producer:
        for n in range(4):
            producer.send_record(Topic.PLAYER_PROFILES, f"brand-a:p{n}", profile(n))
        producer.send_record(Topic.PLAYER_PROFILES, "brand-a:p99", bad)
    run_until_committed(sink, 5)

    assert count(sink, "players") == 4
    [(_, letter)] = read_topic(settings, codec, Topic.DEAD_LETTER, expect=1)
    assert letter.topic == topic_name(settings, Topic.PLAYER_PROFILES)
    assert "updated_at" in letter.reason and codec.decode(letter.original_value) == bad
    assert committed(sink, topic_name(settings, Topic.PLAYER_PROFILES)) == 5
