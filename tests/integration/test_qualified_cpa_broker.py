"""Raw events to a qualified_cpa postback and webhooks on the real broker: the worker's four
stages and the delivery engine, as `up` runs them (issue 24, notifications).

aff-1 pays a CPA of 30.00 EUR for a first deposit of at least 20.00. p1 qualifies: one
postback whose `{payout}` is the ledger's accrual, one webhook to the operator's endpoint (the
player id) and one to the affiliate manager's (the player token). p3 withdrew
`affiliate_data_sharing`, p4 is self-excluded: no postback (a suppression in the delivery log
instead), the operator's webhook only. p1's qualification sent again makes nothing new: p5,
qualifying after it on the same partition, shows it was read.
"""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from clickpath.contracts.batches import unpack
from clickpath.contracts.models import (
    Consent,
    DeliveryAttempt,
    LedgerEntry,
    PlayerQualification,
    Postback,
    ResponsibleGaming,
)
from clickpath.contracts.topics import Topic, topic_name
from clickpath.domain.endpoints import Endpoint
from clickpath.domain.pseudonym import player_token
from clickpath.infra.endpoint_store import EndpointStore
from clickpath.infra.kafka import make_producer
from clickpath.infra.producer import EventProducer
from tests.factories import at, click, deposit, registration
from tests.integration.conftest import PSEUDONYM_KEY
from tests.integration.harness import read_records, wait_until

PLANS = {
    "cpa-1": {"versions": [{"effective_from": "2020-01-01", "currency": "EUR",
                            "cpa": {"amount": "30.00", "min_first_deposit": "20.00"}}],
              "assign": [{"affiliate": "aff-1"}]},
}
CPA_URL = "/cpa/{affiliate_id}?cid={click_id}&e={event}&payout={payout}&cur={currency}" \
    "&amt={amount}&tok={player_token}&s1={sub1}"


def token(player: str) -> str:
    return player_token(PSEUDONYM_KEY.encode(), "aff-1", f"brand-a:{player}")


def journey(player: str, minute: int, before: list | None = None) -> list:
    c = f"c-{player}"
    return [click(c, affiliate="aff-1", campaign="camp-a", minutes=minute, sub1=f"s-{player}"),
            *(before or []), registration(player, c, minutes=minute + 1),
            deposit(player, f"t-{player}", "50.00", minutes=minute + 2)]


def _player(player: str) -> dict[str, str]:
    return {"brand_id": "brand-a", "player_id": player, "source": "crm"}


def _requests(receiver, prefix: str) -> list[dict]:
    return [r for r in receiver.requests() if r["path"].startswith(prefix)]


def _cpa_postbacks(receiver) -> list[dict[str, str]]:
    return [{k: v[0] for k, v in parse_qs(urlsplit(r["path"]).query).items()}
            for r in _requests(receiver, "/cpa/")]


def _hooks(receiver, name: str) -> list[dict]:
    return [json.loads(r["body"]) for r in _requests(receiver, f"/hook/{name}")]


def _decoded(settings, codec, topic: Topic) -> list:
    return [codec.decode(value) for _t, _p, _k, value in read_records(settings, (topic,))]


def test_a_qualified_player_gets_one_qualified_cpa_postback_and_webhook(
    settings, codec, receiver, start_role
) -> None:
    settings = settings.model_copy(update={"plans": PLANS})
    store = EndpointStore(settings.endpoints_file)
    store.put(Endpoint(endpoint_id="aff-1-cpa", affiliate_id="aff-1", url=receiver.url + CPA_URL,
                       events=["qualified_cpa"]))
    store.put(Endpoint(endpoint_id="ops", kind="webhook", method="POST",
                       url=receiver.url + "/hook/ops", events=["qualified_cpa"]))
    store.put(Endpoint(endpoint_id="mgr", kind="webhook", method="POST", affiliate_id="aff-1",
                       url=receiver.url + "/hook/mgr", events=["qualified_cpa"]))
    for args in (("worker",), ("sink", "postbacks")):
        start_role(*args, role_settings=settings)
    withdrawn = Consent(event_id="consent-p3", occurred_at=at(19), purpose="affiliate_data_sharing",
                        granted=False, **_player("p3"))
    excluded = ResponsibleGaming(event_id="rg-p4", occurred_at=at(29), kind="self_exclusion",
                                 action="start", **_player("p4"))
    with EventProducer(settings, codec=codec) as producer:
        producer.send_all([*journey("p1", 10), *journey("p3", 20, [withdrawn]),
                           *journey("p4", 30, [excluded])])

    wait_until(lambda: len(_cpa_postbacks(receiver)) >= 1 and len(_hooks(receiver, "ops")) >= 3,
               120, "p1's qualified_cpa postback and the operator's three webhooks")
    [sent] = _cpa_postbacks(receiver)
    [entry] = [e for e in _decoded(settings, codec, Topic.COMMISSION_LEDGER)
               if isinstance(e, LedgerEntry) and e.player_token == token("p1")]
    assert (entry.kind, entry.component, entry.amount, entry.currency) == (
        "accrual", "cpa", Decimal("30.00"), "EUR")
    assert sent == {"cid": "c-p1", "e": "qualified_cpa", "payout": "30.00", "cur": "EUR",
                    "tok": token("p1"), "s1": "s-p1"}  # no {amount}: it is no deposit
    ops = {h["data"]["player_id"]: h for h in _hooks(receiver, "ops")}
    assert set(ops) == {"p1", "p3", "p4"}
    assert (ops["p1"]["type"], ops["p1"]["data"]["payout"], ops["p1"]["data"]["payout_currency"]) == (
        "player.qualified_cpa", "30.00", "EUR")
    wait_until(lambda: len(_hooks(receiver, "mgr")) >= 1, 30, "the affiliate manager's webhook")
    [mgr] = _hooks(receiver, "mgr")
    assert mgr["data"]["player_token"] == token("p1") and "player_id" not in mgr["data"]

    # p3 and p4: no postback record at all (checked below); the delivery log says why.
    def suppressed() -> set[str]:
        return {a.error.split(" ")[0] for a in _decoded(settings, codec, Topic.DELIVERY_ATTEMPTS)
                if isinstance(a, DeliveryAttempt) and a.event == "qualified_cpa"
                and a.outcome == "suppressed" and a.error}

    wait_until(lambda: suppressed() == {"affiliate_data_sharing", "self_exclusion"}, 30,
               "p3's and p4's suppressions in the delivery log")

    # p1's qualification, exactly as the earnings stage sent it (an item of a batch record), again
    [(partition, item)] = [
        (r[1], item) for r in read_records(settings, (Topic.EARNINGS,))
        for item in unpack(codec, r[2], r[3])
        if isinstance(q := item.record, PlayerQualification)
        and q.person_id == "brand-a:p1" and q.status == "qualified"
    ][-1:]
    producer = make_producer(settings)
    producer.produce(topic_name(settings, Topic.EARNINGS), value=item.value, key=item.key,
                     partition=partition)
    assert producer.flush(10) == 0
    with EventProducer(settings, codec=codec) as events:
        events.send_all(journey("p5", 40))
    wait_until(lambda: len(_cpa_postbacks(receiver)) >= 2, 60, "p5's qualified_cpa postback")
    postbacks = [p for p in _decoded(settings, codec, Topic.POSTBACKS)
                 if isinstance(p, Postback) and p.event == "qualified_cpa"]
    assert sorted(p.player_token for p in postbacks) == sorted([token("p1"), token("p5")])
    assert [p.payout for p in postbacks] == [Decimal("30.00")] * 2
    assert sorted(p["tok"] for p in _cpa_postbacks(receiver)) == sorted([token("p1"), token("p5")])
