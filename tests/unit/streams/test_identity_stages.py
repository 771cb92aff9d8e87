"""The two identity stages through the real runtime, in memory: canonical events in, the graph
out (the merge log, links, signals, touchpoints), whatever the order of the events."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from clickpath.contracts.models import CanonicalEvent, Login, Registration
from clickpath.contracts.models.identity import MultiAccountSignal, PersonChange, TouchpointLink
from clickpath.contracts.topics import Topic
from clickpath.domain.identity.account_state import person_id_of
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.domain.outputs import canonical_of
from clickpath.streams.identifiers import identifier_stage
from clickpath.streams.identity import identity_stage
from tests.factories import T0, at, click
from tests.unit.streams.crash_harness import Broker, Worker

POLICY = IdentityPolicy(
    operators={"brand-a": "op-1", "brand-b": "op-1", "brand-z": "op-2"}, max_accounts=10,
    lookback=timedelta(days=30),
)
STAGES = [identity_stage(lambda: POLICY), identifier_stage(lambda: POLICY)]
ORDER = (Topic.CANONICAL, Topic.IDENTITY_SIGHTINGS, Topic.IDENTITY_INBOX)
MAIL = "e" * 64
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")


def reg(brand: str, player: str, minutes: float = 10, **fields: object) -> CanonicalEvent:
    event = Registration(event_id=f"ev-reg-{brand}-{player}", occurred_at=at(minutes),
                         brand_id=brand, source="crm", player_id=player, **fields)
    return canonical_of(event, f"{brand}:{player}", T0)


def login(brand: str, player: str, minutes: float, **fields: object) -> CanonicalEvent:
    event = Login(event_id=f"ev-login-{brand}-{player}-{minutes}", occurred_at=at(minutes),
                  brand_id=brand, source="crm", player_id=player, **fields)
    return canonical_of(event, f"{brand}:{player}", T0)


def clicked(click_id: str, minutes: float, **fields: object) -> CanonicalEvent:
    return canonical_of(click(click_id, affiliate="aff-9", minutes=minutes, **fields), "", T0)


def run(events: list[CanonicalEvent], seed: int | None = None,
        worker: Worker | None = None) -> Broker:
    if seed is not None:
        events = random.Random(seed).sample(events, len(events))
    worker = worker or Worker(Broker(), STAGES)
    broker = worker.broker
    for event in events:
        broker.produce(Topic.CANONICAL, event.person_id or event.click_id or "", event)
        worker.step(Topic.CANONICAL)  # one event a batch: the arrival order is the test's
    worker.drain(ORDER)
    return broker


def persons(broker: Broker, accounts: list[str]) -> dict[str, str]:
    """Each account's person now: its newest merge-log entry, else its own."""
    now: dict[str, PersonChange] = {}
    for change in broker.records(Topic.IDENTITY_PERSONS):
        if change.account not in now or change.version > now[change.account].version:
            now[change.account] = change
    return {a: now[a].person_id if a in now else person_id_of(POLICY.operator_of(a.split(":")[0]), a)
            for a in accounts}


def open_signals(broker: Broker) -> set[tuple[str, ...]]:
    newest: dict[str, MultiAccountSignal] = {}
    for s in broker.records(Topic.IDENTITY_SIGNALS):
        if s.signal_id not in newest or s.version > newest[s.signal_id].version:
            newest[s.signal_id] = s
    return {tuple(s.accounts) for s in newest.values() if s.status == "open"}


def test_a_click_on_mobile_a_registration_on_desktop_and_a_third_device_are_one_player_path() -> None:
    events = [
        clicked("c-mobile", 0, device_id="dev-mobile"),
        reg("brand-a", "p1", 10, click_id="c-mobile", device_id="dev-desktop"),
        login("brand-a", "p1", 20, device_id="dev-tablet", user_agent=CHROME),
        clicked("c-tablet-earlier", -60, device_id="dev-tablet"),
    ]
    for seed in (None, 1, 2, 3):
        broker = run(events, seed)
        links = {(t.click_id, t.link, t.affiliate_id) for t in broker.records(Topic.IDENTITY_TOUCHPOINTS)
                 if isinstance(t, TouchpointLink)}
        assert links == {("c-mobile", "named_click", "aff-9"), ("c-tablet-earlier", "device", "aff-9")}


@pytest.mark.parametrize("seed", [None, 7, 8])
def test_one_email_at_two_brands_of_one_operator_is_one_person(seed: int | None) -> None:
    events = [reg("brand-a", "p1", 10, email_hash=MAIL), reg("brand-b", "q1", 20, email_hash=MAIL),
              reg("brand-z", "r1", 5, email_hash=MAIL)]
    found = persons(run(events, seed), ["brand-a:p1", "brand-b:q1", "brand-z:r1"])
    assert found["brand-a:p1"] == found["brand-b:q1"] == person_id_of("op-1", "brand-a:p1")
    assert found["brand-z:r1"] == person_id_of("op-2", "brand-z:r1")  # another operator: alone


def test_two_accounts_of_one_brand_on_one_device_are_flagged_never_merged() -> None:
    broker = run([reg("brand-a", "p1", 10, device_id="dev-1"), reg("brand-a", "p2", 20, device_id="dev-1")])
    found = persons(broker, ["brand-a:p1", "brand-a:p2"])
    assert found["brand-a:p1"] != found["brand-a:p2"]
    assert open_signals(broker) == {("brand-a:p1", "brand-a:p2")}


def test_a_device_of_unknown_or_of_too_many_accounts_links_nobody() -> None:
    events = [login(b, f"p{i}", i, device_id="unknown", user_agent=CHROME)
              for i, b in enumerate(["brand-a", "brand-b"])]
    events += [login("brand-a" if i % 2 else "brand-b", f"s{i}", i, device_id="dev-kiosk",
                     user_agent=CHROME) for i in range(12)]
    for seed in (None, 5):
        broker = run(events, seed)
        accounts = ["brand-a:p0", "brand-b:p1"]
        accounts += [f"{'brand-a' if i % 2 else 'brand-b'}:s{i}" for i in range(12)]
        found = persons(broker, accounts)
        assert len(set(found.values())) == len(accounts)
        assert open_signals(broker) == set()


def test_an_unmerge_restores_both_persons_and_later_evidence_does_not_merge_them_again() -> None:
    from clickpath.contracts.models.identity import UnmergeRequest

    worker = Worker(Broker(), STAGES)
    broker = run([reg("brand-a", "p1", 10, email_hash=MAIL), reg("brand-b", "q1", 20, email_hash=MAIL)],
                 worker=worker)
    accounts = ["brand-a:p1", "brand-b:q1"]
    assert len(set(persons(broker, accounts).values())) == 1
    broker.produce(Topic.IDENTITY_INBOX, "brand-b:q1", UnmergeRequest(
        account="brand-b:q1", request_id="u-1", requested_by="key-admin", reason="support ticket 12",
        requested_at=at(30)))
    broker.produce(Topic.CANONICAL, "brand-b:q1", login("brand-b", "q1", 40, device_id="dev-x"))
    broker.produce(Topic.CANONICAL, "brand-a:p1", login("brand-a", "p1", 41, device_id="dev-x",
                                                         user_agent=CHROME))
    worker.drain(ORDER)
    found = persons(broker, accounts)
    assert found == {a: person_id_of("op-1", a) for a in accounts}


def test_the_operators_customer_id_at_two_brands_is_one_person() -> None:
    broker = run([reg("brand-a", "p1", 10, customer_id="cust-77"),
                  login("brand-b", "q1", 30, customer_id="cust-77")])
    found = persons(broker, ["brand-a:p1", "brand-b:q1"])
    assert found["brand-a:p1"] == found["brand-b:q1"] == person_id_of("op-1", "brand-a:p1")


def test_a_daily_login_keeps_a_device_within_the_window_of_a_later_account() -> None:
    """The account side tells the identifier of a later day: p1 on dev-w on day 0 and day 20,
    q1 (another brand) on it on day 45 with the same prefix: within 30 days of p1's latest."""
    day = 24 * 60
    shared = dict(device_id="dev-w", ip_prefix="203.0.113.0/24", user_agent=CHROME)
    early = reg("brand-a", "p1", 0, device_id="dev-w", ip_prefix="203.0.113.0/24")
    later = login("brand-a", "p1", 20 * day, **shared)
    other = login("brand-b", "q1", 45 * day, **shared)
    accounts = ["brand-a:p1", "brand-b:q1"]
    for seed in (None, 3):
        found = persons(run([early, later, other], seed), accounts)
        assert found["brand-a:p1"] == found["brand-b:q1"]
    apart = persons(run([early, other]), accounts)  # p1 last seen 45 days before q1
    assert apart["brand-a:p1"] != apart["brand-b:q1"]
