"""The ClickHouse sink killed at each of its crash points, then restarted, stores exactly what an
uninterrupted run stores (issue 22, item 1: the sink's part).

A fixed set of the sink's inputs (canonical events of every type, two months, a duplicate; fact
versions with a stale one; attributions; delivery attempts; profiles; ledger entries, one re-
sent) goes onto fresh topics. A real `clickpath sink clickhouse` runs with
`CLICKPATH_FAULT_AT=<point>:1` and must die there by SIGKILL. A second wave follows while it is
down (new events, and re-sent ones: what a restarted worker sends again), so the replayed batch
is not the block ClickHouse already took: its own insert deduplication
(non_replicated_deduplication_window) cannot hide a sink that writes twice, only the sink's
look-ups can keep it out. The sink is restarted without the hook and runs until every input
offset is committed. Then ClickHouse's events (per type and by id), the funnel's money, the
players, attributions, the delivery log and the touchpoints are compared with an uninterrupted
run of the same two waves.

One broker for all; each case its own topics (so its own consumer group) and its own data dir
(a chdb directory cannot be copied: its tables are symlinks into it by absolute path). The cases
run a few at a time: most of a case is waiting (engine start, the group's rebalance after a
kill), not computing.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from clickpath.contracts.models import (
    Attribution,
    CanonicalEvent,
    CurrencyTotals,
    DeliveryAttempt,
    Erasure,
    LedgerEntry,
    PlayerDayFact,
    PlayerProfile,
    Record,
    TouchpointLink,
)
from clickpath.contracts.models.identity import IdentityLink, MultiAccountSignal, PersonChange
from clickpath.contracts.serde import build_codec
from clickpath.contracts.topics import SPECS, Topic, topic_name
from clickpath.infra import faults
from clickpath.infra.batching import Pending, pack
from clickpath.infra.clickhouse import connect, query_funnel, query_pipeline_stats
from clickpath.infra.kafka import consumer_config, create_topics, producer_config
from clickpath.settings import Settings
from clickpath.sinks.clickhouse.writer import TOPICS
from tests.integration.harness import RoleProcess, wait_until

POINTS = sorted(p for p in faults.POINTS if p.startswith("sink."))
AT_ONCE = 3  # cases at a time
ENGINE = threading.Lock()
T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)  # a day before a month's end: inserts span two parts
BRAND = "brand-a"
DB = "clickpath"
PSEUDONYM_KEY = "integration-test-key-0123456789abcdef"
MASTER_KEY = "integration-test-master-key-0123456789abcdef"
AUDIT_KEY = "integration-test-audit-key-0123456789abcdef"


# --- the fixed set ------------------------------------------------------------------------------

def event(event_id: str, kind: str, minutes: float, player: str = "", *, click: str | None = None,
          device: str | None = None, amount: str | None = None, txn: str | None = None,
          affiliate: str | None = None) -> CanonicalEvent:
    payload = {"device_id": device, "sub1": "s1"} if device else {}
    return CanonicalEvent(
        event_id=event_id, event_type=kind, occurred_at=T0 + timedelta(minutes=minutes),
        processed_at=T0 + timedelta(minutes=minutes, seconds=1), brand_id=BRAND, source="crm",
        person_id=f"{BRAND}:{player}" if player else "", player_id=player or None,
        click_id=click, affiliate_id=affiliate, campaign_id="camp-1" if affiliate else None,
        transaction_id=txn, amount=Decimal(amount) if amount else None,
        currency="EUR" if amount else None, is_ftd=txn == "t1", payload=json.dumps(payload),
    )


def events() -> list[CanonicalEvent]:
    p1, p2 = "p1", "p2"
    return [
        event("e-c1", "click", -3 * 24 * 60, click="c1", device="d1", affiliate="aff-1"),
        event("e-c2", "click", -60, click="c2", device="d1", affiliate="aff-2"),
        event("e-c3", "click", -30, click="c3", device="d2", affiliate="aff-1"),
        event("e-c4", "click", -20, click="c4", affiliate="aff-2"),  # never registers
        event("e-c5", "click", -10, click="c5", device="d3", affiliate="aff-1"),
        event("e-r1", "registration", 0, p1, click="c2", device="d1", affiliate="aff-2"),
        event("e-r2", "registration", 1, p2, click="c3", affiliate="aff-1"),
        event("e-k1", "kyc", 2, p1),
        event("e-l1", "login", 3, p1),
        event("e-d1", "deposit", 4, p1, amount="50.25", txn="t1"),
        event("e-d2", "deposit_declined", 5, p2, amount="20", txn="t2"),
        event("e-d3", "deposit", 6, p2, amount="30.5", txn="t3"),
        event("e-w1", "wager", 7, p1, amount="10.10", txn="w1"),
        event("e-w2", "wager", 8, p1, amount="5", txn="w2"),
        event("e-b1", "bonus", 9, p1, amount="3", txn="b1"),
        event("e-x1", "withdrawal", 10, p2, amount="12", txn="x1"),
        event("e-cb1", "chargeback", 11, p2, amount="30.5", txn="t3"),
        event("e-cs1", "consent", 12, p1),
        event("e-rg1", "rg", 13, p2),
        event("e-er1", "erasure_request", 14, p2),
        event("e-w3", "wager", 24 * 60 + 5, p1, amount="7.77", txn="w3"),  # the next month
        event("e-d1", "deposit", 4, p1, amount="50.25", txn="t1"),  # sent twice
    ]


def second_wave() -> list[tuple[Topic, Record]]:
    """What reaches the sink's topics while it is down: new records and re-sent ones."""
    day1 = T0.date()
    first = events()
    return (
        [(Topic.CANONICAL, e) for e in (
            event("e-r3", "registration", 20, "p3", device="d3"),  # c5's device: on its path
            event("e-l2", "login", 21, "p2"),
            event("e-d4", "deposit", 22, "p2", amount="40", txn="t4"),
            *first[4:9],  # a worker's replay re-sends canonical events already sent
        )]
        + [(Topic.PLAYER_DAY_FACTS, f) for f in (
            fact("p2", day1, 2, "aff-1", registrations=1, deposits=2, deposit_sum=Decimal("70.5"),
                 declined_deposits=1, withdrawals=1, withdrawal_sum=Decimal("12"), chargebacks=1,
                 chargeback_sum=Decimal("30.5")),
            facts()[1],  # an older version re-sent
            fact("p3", day1, 1, "", registrations=1),
        )]
        + [(Topic.DELIVERY_ATTEMPTS, attempts()[2])]
        + [(Topic.PLAYER_PROFILES, p) for p in profiles()[:2]]
        + [(Topic.COMMISSION_LEDGER, e) for e in ledger()[1:]]  # one re-sent, one new
        + [(Topic.COMMISSION_LEDGER, ledger_entry("le-3", "aff-1", "25.00"))]
        + [(Topic.IDENTITY_TOUCHPOINTS, t) for t in (
            touchpoint("p3", "c5", -10, "device", "aff-1", registered=20),  # p3 registered on c5's device
            touchpoints()[2],  # re-sent
        )]
        + graph()[1:3]  # re-sent: the merged link, a new entry
        + [(Topic.IDENTITY_LINKS, link("brand-b:q1", f"{BRAND}:p1", "merged", 2)),  # its other side
           (Topic.IDENTITY_PERSONS, change(f"{BRAND}:p3", "new", f"pn-{BRAND}:p3", 0)),
           (Topic.IDENTITY_SIGNALS, raised(2, "withdrawn"))]
    )


def fact(player: str, day: date, version: int, affiliate: str, **values: Any) -> PlayerDayFact:
    base: dict[str, Any] = dict(registrations=0, ftds=0, deposits=0, deposit_sum=Decimal(0))
    return PlayerDayFact(
        person_id=f"{BRAND}:{player}", brand_id=BRAND, day=day, currency="EUR",
        affiliate_id=affiliate, campaign_id="camp-1", version=version, registered_at=T0,
        **{**base, **values},
    )


def facts() -> list[PlayerDayFact]:
    day1, day2 = T0.date(), (T0 + timedelta(days=1)).date()
    return [
        fact("p1", day1, 1, "aff-2", registrations=1),
        fact("p1", day1, 2, "aff-2", registrations=1, ftds=1, deposits=1,
             deposit_sum=Decimal("50.25"), ftd_sum=Decimal("50.25")),
        fact("p1", day1, 4, "aff-2", registrations=1, ftds=1, deposits=1,
             deposit_sum=Decimal("50.25"), ftd_sum=Decimal("50.25"), stakes=Decimal("15.10"),
             wins=Decimal("4"), bonus_cost=Decimal("3")),
        fact("p1", day1, 2, "aff-2", registrations=1),  # stale: a replayed older version
        fact("p1", day2, 5, "aff-2", stakes=Decimal("7.77"), wins=Decimal("1.11")),
        fact("p2", day1, 1, "aff-1", registrations=1, deposits=1, deposit_sum=Decimal("30.5"),
             declined_deposits=1, withdrawals=1, withdrawal_sum=Decimal("12"), chargebacks=1,
             chargeback_sum=Decimal("30.5")),
    ]


def attributions() -> list[Attribution]:
    return [
        Attribution(person_id=f"{BRAND}:{p}", brand_id=BRAND, player_id=p, click_id=c,
                    status="attributed", affiliate_id=a, campaign_id="camp-1",
                    clicked_at=T0 - timedelta(minutes=m), registered_at=T0, decided_at=T0)
        for p, c, a, m in (("p1", "c2", "aff-2", 60), ("p2", "c3", "aff-1", 30))
    ]


def attempts() -> list[DeliveryAttempt]:
    def attempt(job: str, n: int, outcome: str, status: int) -> DeliveryAttempt:
        return DeliveryAttempt(
            job_id=job, endpoint_id="aff-1-pb", kind="postback", event="ftd", affiliate_id="aff-1",
            brand_id=BRAND, attempt=n, status=status, latency_ms=12, outcome=outcome,  # type: ignore[arg-type]
            error=None if outcome == "delivered" else f"HTTP {status}",
            attempted_at=T0 + timedelta(minutes=5 + n),
        )

    return [attempt("j1", 1, "retry", 503), attempt("j1", 2, "delivered", 200),
            attempt("j2", 1, "delivered", 200)]


def profiles() -> list[PlayerProfile]:
    def profile(player: str, version: int, deposits: int, stakes: str) -> PlayerProfile:
        money = CurrencyTotals(
            currency="EUR", deposit_sum=Decimal("50.25") * deposits, withdrawal_sum=Decimal(0),
            chargeback_sum=Decimal(0), stakes=Decimal(stakes), wins=Decimal(0),
            bonus_stakes=Decimal(0), bonus_cost=Decimal(0), ggr=Decimal(stakes),
            ngr=Decimal(stakes),
        )
        return PlayerProfile(
            person_id=f"{BRAND}:{player}", brand_id=BRAND, player_id=player, registered_at=T0,
            kyc_status="verified", deposits=deposits, declined_deposits=0, withdrawals=0,
            chargebacks=0, money=[money], sessions=1, consents={}, rg_active=[],
            tag_status="attributed",
            affiliate_id="aff-1", campaign_id="camp-1", churn_risk=0.5, updated_at=T0,
            version=version,
        )

    return [profile("p1", 1, 0, "0"), profile("p1", 3, 1, "15.10"), profile("p1", 2, 1, "10.10"),
            profile("p2", 1, 1, "0")]


def ledger_entry(entry_id: str, affiliate: str, amount: str) -> LedgerEntry:
    return LedgerEntry(
        entry_id=entry_id, affiliate_id=affiliate, period="2026-11", kind="accrual",
        component="cpa", amount=Decimal(amount), currency="EUR",
        original_amount=Decimal(amount), original_currency="EUR", fx_rate=Decimal(1),
        plan_id="cpa", plan_version=1, player_token="tok", caused_by=["e-d1"],
        occurred_at=T0, recorded_at=T0,
    )


def ledger() -> list[LedgerEntry]:
    return [ledger_entry("le-1", "aff-2", "100.00"), ledger_entry("le-2", "aff-1", "-12.50")]


def touchpoint(player: str, click: str, minutes: float, link: str, affiliate: str,
               registered: float = 0) -> TouchpointLink:
    """What the identity stage sends for a click on the account's path."""
    return TouchpointLink(account=f"{BRAND}:{player}", brand_id=BRAND, click_id=click,
                          affiliate_id=affiliate, campaign_id="camp-1",
                          clicked_at=T0 + timedelta(minutes=minutes), link=link,  # type: ignore[arg-type]
                          registered_at=T0 + timedelta(minutes=registered))


def touchpoints() -> list[TouchpointLink]:
    return [touchpoint("p1", "c1", -3 * 24 * 60, "device", "aff-1"),
            touchpoint("p1", "c2", -60, "device", "aff-2"),  # then found to be the named click
            touchpoint("p1", "c2", -60, "named_click", "aff-2"),
            touchpoint("p2", "c3", -30, "named_click", "aff-1")]


def link(account: str, other: str, status: str, version: int) -> IdentityLink:
    """One side of a scored pair, as the identity stage sends it."""
    reasons = {"prior": -13.29, "device_id": 16.46} | ({"ip_prefix": 5.0} if version > 1 else {})
    return IdentityLink(account=account, other=other, operator_id="default", status=status,  # type: ignore[arg-type]
                        score=round(sum(reasons.values()), 2), reasons=reasons, version=version,
                        decided_at=T0 + timedelta(minutes=version))


def change(account: str, kind: str, person: str, version: int) -> PersonChange:
    return PersonChange(change_id=f"pc-{account}-{version}", account=account, operator_id="default",
                        kind=kind, person_id=person, previous_person_id="" if kind == "new" else  # type: ignore[arg-type]
                        f"pn-{account}", reason="new_account" if kind == "new" else "label",
                        version=version, changed_at=T0 + timedelta(minutes=version))


def raised(version: int, status: str) -> MultiAccountSignal:
    return MultiAccountSignal(signal_id="sg-1", kind="multi_account", brand_id=BRAND,
                              accounts=[f"{BRAND}:p1", f"{BRAND}:p2"], score=3.17,
                              reasons={"prior": -13.29, "device_id": 16.46}, status=status,  # type: ignore[arg-type]
                              version=version, raised_at=T0)


def graph() -> list[tuple[Topic, Record]]:
    """The identity graph's records: a link decided twice, the merge log, a signal."""
    return (
        [(Topic.IDENTITY_LINKS, link(f"{BRAND}:p1", "brand-b:q1", "possible", 1)),
         (Topic.IDENTITY_LINKS, link(f"{BRAND}:p1", "brand-b:q1", "merged", 2))]
        + [(Topic.IDENTITY_PERSONS, c) for c in (
            change(f"{BRAND}:p1", "new", f"pn-{BRAND}:p1", 0),
            change("brand-b:q1", "new", "pn-brand-b:q1", 0),
            change("brand-b:q1", "merge", f"pn-{BRAND}:p1", 1))]
        + [(Topic.IDENTITY_SIGNALS, raised(1, "open"))]
    )


def fixed_set() -> list[tuple[Topic, Record]]:
    return (
        [(Topic.CANONICAL, e) for e in events()]
        + [(Topic.PLAYER_DAY_FACTS, f) for f in facts()]
        + [(Topic.ATTRIBUTIONS, a) for a in attributions()]
        + [(Topic.DELIVERY_ATTEMPTS, a) for a in attempts()]
        + [(Topic.PLAYER_PROFILES, p) for p in profiles()]
        + [(Topic.COMMISSION_LEDGER, e) for e in ledger()]
        + [(Topic.IDENTITY_TOUCHPOINTS, t) for t in touchpoints()]
        + graph()
        + [(Topic.PRIVACY_ERASURES, erasure())]
    )


def erasure() -> Erasure:
    """p2 erased by the graph: the sink destroys its key, anonymises its rows, certifies it."""
    return Erasure(account=f"{BRAND}:p2", brand_id=BRAND, player_id="p2", request_id="e-er1",
                   requested_at=T0 + timedelta(minutes=14), erased_at=T0 + timedelta(minutes=15),
                   person_id=f"{BRAND}:p2", identifiers_removed=2, links_removed=0,
                   click_ids=["c3"], affiliate_id="aff-1")


# --- a case -------------------------------------------------------------------------------------

def case_settings(broker: Any, root: Path) -> Settings:
    """Fresh topics (so a fresh consumer group) and a fresh data dir."""
    settings = Settings(
        kafka_bootstrap_servers=broker.bootstrap, broker_compat="tansu",
        topic_prefix=f"t{uuid.uuid4().hex[:10]}", partitions=2, data_dir=root / "data",
        clickhouse_url=f"chdb://{root / 'clickhouse'}", pseudonym_key=PSEUDONYM_KEY,
        master_key=MASTER_KEY,
        audit_key=AUDIT_KEY,
    )
    create_topics(settings)
    return settings


def produce(settings: Settings, records: list[tuple[Topic, Record]]) -> None:
    """The records as the stream stages write them: one per record, but on a batched topic
    (canonical events, profiles) packed into batch records per partition."""
    codec = build_codec(settings.schemas_dir, None)
    producer = Producer(producer_config(settings))
    batched: list[Pending] = []
    for topic, record in records:
        key = (getattr(record, "person_id", None) or getattr(record, "account", None)
               or getattr(record, "job_id", None) or getattr(record, "affiliate_id", None)
               or getattr(record, "brand_id", ""))
        if SPECS[topic].batched:
            batched.append(Pending(topic_name(settings, topic), key, codec.encode(record)))
        else:
            producer.produce(topic_name(settings, topic), key=key.encode(), value=codec.encode(record))
    for out in pack(batched, settings.partitions, codec):
        producer.produce(out.topic, key=out.key, value=out.value, partition=out.partition)
    assert producer.flush(30) == 0


def committed_to_the_end(consumer: Consumer, settings: Settings) -> bool:
    """Whether the sink's group has committed every partition of its topics to its end."""
    parts = [TopicPartition(topic_name(settings, t), p) for t in TOPICS for p in range(settings.partitions)]
    for tp in consumer.committed(parts, timeout=10):
        low, high = consumer.get_watermark_offsets(tp, timeout=10)
        if high > max(tp.offset, low):  # an empty partition has nothing to commit (offset < 0)
            return False
    return True


def sink(settings: Settings, log_dir: Path, point: str | None) -> RoleProcess:
    """`clickpath sink clickhouse`, armed to die at `point`'s first pass (None: not armed)."""
    env = {} if point is None else {faults.TESTING_ENV: "1", faults.ENV: f"{point}:1"}
    return RoleProcess(settings, "sink", "clickhouse", log_dir=log_dir, env=env).start()


def run_case(broker: Any, root: Path, point: str | None) -> dict[str, Any]:
    """Produce the first wave, run the sink (killed at `point`), produce the second, run it
    (again) until it committed all of it, stop it; what ClickHouse then holds. Uninterrupted
    (`point` None), the sink commits the first wave before the second comes."""
    root.mkdir(parents=True)
    settings = case_settings(broker, root)
    watcher = Consumer(consumer_config(settings, "sink-clickhouse"))
    try:
        produce(settings, fixed_set())
        first = sink(settings, root, point)
        if point is None:
            wait_until(lambda: committed_to_the_end(watcher, settings), 90, "the first wave")
        else:
            try:
                code = first.proc.wait(90)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                first.kill()
                raise AssertionError(f"{point}: never reached; {first.log_tail()}") from None
            assert code == -signal.SIGKILL, f"{point}: exit {code}; {first.log_tail()}"
            assert not committed_to_the_end(watcher, settings), f"{point}: committed before it"
            first = sink(settings, root, None)
        produce(settings, second_wave())
        try:
            wait_until(lambda: committed_to_the_end(watcher, settings), 90, f"{point}: all committed")
        finally:
            first.stop()
    finally:
        watcher.close()
    with ENGINE:  # one embedded engine per process: the cases read one at a time
        return stored(settings)


def stored(settings: Settings) -> dict[str, Any]:
    client = connect(settings)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in client.query(sql.format(db=DB)).result_rows]

    try:
        return {
            "events_by_type": query_pipeline_stats(client, DB)["events_by_type"],
            "events": rows("SELECT event_id, event_type, amount, count() FROM {db}.events "
                           "GROUP BY event_id, event_type, amount ORDER BY event_id"),
            "funnel": query_funnel(client, DB, by_day=True),
            "fact_rows_live": rows("SELECT person_id, day, sum(sign) FROM {db}.fact_rows "
                                   "GROUP BY person_id, day ORDER BY person_id, day"),
            "players": rows("SELECT person_id, deposits, version, ngr, stakes FROM {db}.players "
                            "ORDER BY person_id"),
            "attributions": rows("SELECT person_id, click_id, status, affiliate_id "
                                 "FROM {db}.attributions FINAL ORDER BY person_id"),
            "delivery_log": rows("SELECT job_id, attempt, outcome, status FROM {db}.delivery_log "
                                 "ORDER BY job_id, attempt"),
            "touchpoints": rows("SELECT person_id, click_id, link FROM {db}.touchpoints "
                                "ORDER BY person_id, click_id"),
            "ledger": rows("SELECT entry_id, amount FROM {db}.ledger_entries ORDER BY entry_id"),
            "persons": rows("SELECT account, person_id, kind, version FROM {db}.persons "
                            "ORDER BY account"),
            "person_changes": rows("SELECT account, change_id, kind FROM {db}.person_changes "
                                   "ORDER BY account, version"),
            "links": rows("SELECT account, other_brand_id, status, score, version "
                          "FROM {db}.identity_links_now ORDER BY account"),
            # what a replay may add to: the rows counted (a later wave's rows of p2 too)
            "certificates": rows("SELECT account, request_id, key_existed, identifiers_removed "
                                 "FROM {db}.erasure_certificates ORDER BY account"),
            "signals": rows("SELECT signal_id, argMax(status, version), max(version) "
                            "FROM {db}.identity_signals GROUP BY signal_id"),
        }
    finally:
        client.close()


# --- the tests ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def outcomes(broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Every case's stored data (None: the uninterrupted run), or the error it ended with."""
    root = tmp_path_factory.mktemp("cases")

    def one(point: str | None) -> Any:
        try:
            return run_case(broker, root / (point or "uninterrupted"), point)
        except Exception as e:  # reported by that case's test
            return e

    with ThreadPoolExecutor(AT_ONCE) as pool:
        cases = [None, *POINTS]
        yield dict(zip(cases, pool.map(one, cases), strict=True))


def test_an_uninterrupted_run_stores_the_fixed_set(outcomes: dict) -> None:
    got = outcomes[None]
    if isinstance(got, Exception):
        raise got
    unique = {r.event_id: r for _, r in fixed_set() + second_wave() if isinstance(r, CanonicalEvent)}
    assert got["events_by_type"] == dict(Counter(e.event_type for e in unique.values()))
    assert all(n == 1 for *_, n in got["events"]) and len(got["events"]) == len(unique)
    money = {
        (r["day"], r["affiliate_id"]): (
            r["deposit_sum"], r["stakes"] - r["wins"] - r["bonus_cost"] - r["chargeback_sum"]
        )
        for r in got["funnel"] if r["currency"] == "EUR"
    }
    day1, day2 = T0.date(), (T0 + timedelta(days=1)).date()
    assert money == {
        (day1, "aff-2"): (Decimal("50.25"), Decimal("8.10")),  # p1's newest version, not v2
        (day1, "aff-1"): (Decimal("70.5"), Decimal("-30.5")),  # p2's second version
        (day2, "aff-2"): (Decimal(0), Decimal("6.66")),
        (day1, ""): (Decimal(0), Decimal(0)),  # p3: organic, no money
    }
    assert sum(r["clicks"] for r in got["funnel"]) == 5
    assert sum(r["registrations"] for r in got["funnel"]) == 3
    assert got["fact_rows_live"] == [("brand-a:p1", day1, 1), ("brand-a:p1", day2, 1),
                                     ("brand-a:p2", day1, 1), ("brand-a:p3", day1, 1)]
    assert [(p, d, v) for p, d, v, *_ in got["players"]] == [("brand-a:p1", 1, 3), ("brand-a:p2", 1, 1)]
    assert got["delivery_log"] == [("j1", 1, "retry", 503), ("j1", 2, "delivered", 200),
                                   ("j2", 1, "delivered", 200)]
    assert got["touchpoints"] == [("brand-a:p1", "c1", "device"), ("brand-a:p1", "c2", "named_click"),
                                  ("brand-a:p2", "c3", "named_click"), ("brand-a:p3", "c5", "device")]
    assert len(got["attributions"]) == 2
    assert got["ledger"] == [("le-1", Decimal("100.00")), ("le-2", Decimal("-12.50")),
                             ("le-3", Decimal("25.00"))]
    assert got["persons"] == [(f"{BRAND}:p1", f"pn-{BRAND}:p1", "new", 0),
                              (f"{BRAND}:p3", f"pn-{BRAND}:p3", "new", 0),
                              ("brand-b:q1", f"pn-{BRAND}:p1", "merge", 1)]
    assert [k for *_, k in got["person_changes"]] == ["new", "new", "new", "merge"]
    assert got["links"] == [(f"{BRAND}:p1", "brand-b", "merged", 8.17, 2),
                            ("brand-b:q1", BRAND, "merged", 8.17, 2)]
    assert got["signals"] == [("sg-1", "withdrawn", 2)]
    assert got["certificates"] == [(f"{BRAND}:p2", "e-er1", False, 2)]  # p2 never had a key


@pytest.mark.parametrize("point", POINTS)
def test_killed_at_a_crash_point_and_restarted_the_sink_stores_the_same(outcomes: dict, point: str) -> None:
    reference, got = outcomes[None], outcomes[point]
    if isinstance(got, Exception):
        raise got
    assert not isinstance(reference, Exception), reference
    for what in reference:
        assert got[what] == reference[what], (point, what)
