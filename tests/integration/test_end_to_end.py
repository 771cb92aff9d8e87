"""Click → registration → deposit → attribution → postback and ClickHouse, on the real broker.

Several players, sent out of order and with duplicates, plus malformed records; the test checks
what an affiliate's server received, what ClickHouse reports and what the dead-letter topic holds.
"""

from __future__ import annotations

from decimal import Decimal

import httpx

from clickpath.contracts.models import DeadLetter, Deposit
from clickpath.contracts.topics import Topic, topic_name
from clickpath.domain.pseudonym import player_token
from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import funnel_rows
from tests.factories import click, deposit, registration
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


EXPECTED_FUNNEL = {
    ("aff-1", "camp-a", ""): (2, 2, 0, 0, Decimal("0")),
    ("aff-1", "camp-a", "EUR"): (0, 0, 2, 3, Decimal("125.49")),
    ("aff-2", "camp-b", ""): (1, 0, 0, 0, Decimal("0")),
    ("", "", ""): (0, 1, 0, 0, Decimal("0")),
    ("", "", "EUR"): (0, 0, 1, 1, Decimal("5.00")),
}


def test_players_out_of_order_with_duplicates(settings, codec, receiver, start_role) -> None:
    run_scenario(settings, codec, receiver, start_role)


def run_scenario(settings, codec, receiver, start_role) -> None:
    """The whole scenario; also run against Apache Kafka and ClickHouse server (containers)."""
    for args in (("worker",), ("sink", "clickhouse"), ("sink", "postbacks")):
        start_role(*args, role_settings=settings)
    c1 = click("c1", affiliate="aff-1", campaign="camp-a", sub1="s 1")
    p1 = [registration("p1", "c1", minutes=1), deposit("p1", "t1", "10.00", minutes=2),
          deposit("p1", "t2", "15.50", minutes=3)]
    c2 = click("c2", affiliate="aff-1", campaign="camp-a", minutes=5)
    p2_reg, p2_dep = registration("p2", "c2", minutes=6), deposit("p2", "t3", "99.99", minutes=7)
    c3 = click("c3", affiliate="aff-2", campaign="camp-b")
    p4 = [registration("p4", None), deposit("p4", "t4", "5.00", minutes=4)]
    resent_t1 = deposit("p1", "t1", "10.00", minutes=2, event_id="crm-retry-of-t1")

    with EventProducer(settings, codec=codec) as producer:
        # p1's registration and deposits arrive before its click; p2's deposit before its
        # registration; duplicates by event id and by transaction id.
        producer.send_all([*p1, p2_dep, p1[1], resent_t1, c3, *p4, c1, p2_reg, c2, p2_dep, c1])
        producer.send_raw(topic_name(settings, Topic.EVENTS), b"brand-a:px", b"\x00garbage")
        bad = deposit("p9", "t9", "1").model_dump() | {"currency": "XXX"}
        producer.send_raw(topic_name(settings, Topic.EVENTS), b"brand-a:p9",
                          codec.encode(Deposit.model_construct(**bad)))

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
    assert "unknown currency 'XXX'" in reasons[b"brand-a:p9"].reason
    # Nothing more arrives: one postback per conversion, funnel unchanged.
    holds_for(lambda: len(receiver.requests()) == 4 and funnel(settings) == EXPECTED_FUNNEL,
              "one postback per conversion and the funnel unchanged")
