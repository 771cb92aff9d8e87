"""Click → registration → deposit → attribution → postback and ClickHouse, on the real broker.

Several players, sent out of order and with duplicates, plus malformed records; the test checks
what an affiliate's server received, what ClickHouse reports and what the dead-letter topic holds.
"""

from __future__ import annotations

from decimal import Decimal

import httpx

from clickpath.contracts.models import DeadLetter
from clickpath.contracts.topics import Topic, topic_name
from clickpath.domain.pseudonym import player_token
from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import funnel_rows
from tests.factories import (
    END_TO_END_FUNNEL,
    REFUSED_CURRENCY,
    deposit_in_refused_currency,
    end_to_end_events,
)
from tests.integration.conftest import PSEUDONYM_KEY
from tests.integration.harness import holds_for, read_topic, wait_until


def funnel(settings) -> dict[tuple[str, str, str], tuple] | None:
    """The funnel as the report sees it, or None while the sink is still starting."""
    try:
        rows = funnel_rows(settings)
    except httpx.TransportError:
        return None
    return {
        (r["affiliate_id"], r["campaign_id"], r["currency"]): (
            r["clicks"], r["registrations"], r["ftds"], r["deposits"], Decimal(r["deposit_sum"]))
        for r in rows
    }


EXPECTED_FUNNEL = END_TO_END_FUNNEL


def test_players_out_of_order_with_duplicates(settings, codec, receiver, start_role) -> None:
    run_scenario(settings, codec, receiver, start_role)


def run_scenario(settings, codec, receiver, start_role) -> None:
    """The whole scenario; also run against Apache Kafka and ClickHouse server (containers)."""
    for args in (("worker",), ("sink", "clickhouse"), ("sink", "postbacks")):
        start_role(*args, role_settings=settings)
    with EventProducer(settings, codec=codec) as producer:
        producer.send_all(end_to_end_events())  # out of order, with duplicates (factories)
        producer.send_raw(topic_name(settings, Topic.EVENTS), b"brand-a:px", b"\x00garbage")
        producer.send_raw(topic_name(settings, Topic.EVENTS), b"brand-a:p9",
                          codec.encode(deposit_in_refused_currency()))

    wait_until(lambda: funnel(settings) == EXPECTED_FUNNEL, 90, "the funnel in ClickHouse")
    requests = wait_until(lambda: len(receiver.requests()) >= 4 and receiver.requests(), 30,
                          "four postbacks")

    def url(player: str, click_id: str, event: str, amount: str = "", tx: str = "",
            sub1: str = "") -> str:
        tok = player_token(PSEUDONYM_KEY.encode(), "aff-1", f"brand-a:{player}")
        cur = "EUR" if amount else ""
        return (f"/pb/aff-1?cid={click_id}&e={event}&amt={amount}&cur={cur}&tok={tok}"
                f"&s1={sub1}&tx={tx}")

    assert sorted(r["path"] for r in requests) == sorted([
        url("p1", "c1", "registration", sub1="s%201"),
        url("p1", "c1", "ftd", "10.00", "t1", sub1="s%201"),
        url("p2", "c2", "registration"),
        url("p2", "c2", "ftd", "99.99", "t3"),
    ])
    assert {r["method"] for r in requests} == {"GET"}

    dead = read_topic(settings, codec, Topic.DEAD_LETTER, expect=2)
    reasons = {msg.key(): rec for msg, rec in dead}
    assert all(isinstance(r, DeadLetter) for r in reasons.values())
    garbage = reasons[b"brand-a:px"]
    assert garbage.original_value == b"\x00garbage" and garbage.stage == "players"
    assert garbage.topic == topic_name(settings, Topic.EVENTS) and garbage.offset >= 0
    assert garbage.reason == f"unknown schema id {int.from_bytes(b'garb')}"
    assert f"unknown currency '{REFUSED_CURRENCY}'" in reasons[b"brand-a:p9"].reason
    # Nothing more arrives: one postback per conversion, funnel unchanged.
    holds_for(lambda: len(receiver.requests()) == 4 and funnel(settings) == EXPECTED_FUNNEL,
              "one postback per conversion and the funnel unchanged")
