"""An erasure request through the two identity stages, in memory: the account leaves the graph
(its pairs blocked, its identifiers forgotten, its state emptied), the certificate's facts go to
privacy.erasures, its affiliate's deliveries are revoked, and nothing brings it back."""

from __future__ import annotations

import pytest

from clickpath.contracts.models import CanonicalEvent, Erasure, ErasureRequest, PostbackRevocation
from clickpath.contracts.models.identity import IdentityLink
from clickpath.contracts.topics import Topic
from clickpath.domain.identity.account_state import AccountState
from clickpath.domain.identity.values import IdentifierState
from clickpath.domain.outputs import canonical_of
from clickpath.domain.pseudonym import player_token
from tests.factories import T0, at
from tests.unit.streams.crash_harness import Broker, Worker
from tests.unit.streams.test_identity_stages import MAIL, POLICY, STAGES, persons, reg, run

A, B = "brand-a:p1", "brand-b:q1"


def erasure(brand: str, player: str, minutes: float, affiliate: str | None = "aff-9",
            n: int = 0) -> CanonicalEvent:
    event = ErasureRequest(event_id=f"ev-erase-{brand}-{player}-{n}", occurred_at=at(minutes),
                           brand_id=brand, source="crm", player_id=player, requested_by="dpo")
    canonical = canonical_of(event, f"{brand}:{player}", T0)
    return canonical.model_copy(update={"affiliate_id": affiliate})


def state_of(worker: Worker, stage: str, key: str) -> object:
    stored = worker.tables[stage].get(key)
    model = AccountState if stage == "identity" else IdentifierState
    return None if stored is None else model.model_validate(stored["state"])


def newest_links(records: list[object]) -> dict[tuple[str, str], str]:
    links: dict[tuple[str, str], IdentityLink] = {}
    for link in records:
        if isinstance(link, IdentityLink):
            key = (link.account, link.other)
            if key not in links or link.version > links[key].version:
                links[key] = link
    return {k: v.status for k, v in links.items()}


def test_an_erased_account_leaves_the_graph_and_its_identifiers_forget_it() -> None:
    worker = Worker(Broker(), STAGES)
    broker = run([reg("brand-a", "p1", 10, email_hash=MAIL, device_id="dev-1"),
                  reg("brand-b", "q1", 20, email_hash=MAIL)], worker=worker)
    assert persons(broker, [A, B])[A] == persons(broker, [A, B])[B]
    run([erasure("brand-a", "p1", 30)], worker=worker)

    found = persons(broker, [A, B])
    assert found[A] != found[B]  # B is a person of its own again
    links = newest_links(broker.records(Topic.IDENTITY_LINKS))
    assert links[(A, B)] != "merged" and links[(B, A)] != "merged"
    state = state_of(worker, "identity", A)
    assert isinstance(state, AccountState)
    assert state.sent == {} and state.evidence == {} and state.erasure is not None
    assert set(state.blocked) == {B}
    mail = f"op-1|email_hash|{MAIL}"
    held = state_of(worker, "identifiers", mail)
    assert isinstance(held, IdentifierState)
    assert set(held.accounts) == {B}
    forgets = [s for s in broker.records(Topic.IDENTITY_SIGHTINGS) if s.forget]
    assert len(forgets) == 2 and all(A not in repr(s) for s in forgets)  # never named
    device = state_of(worker, "identifiers", "op-1|device_id|dev-1")
    assert isinstance(device, IdentifierState) and device.accounts == {}

    [done] = [r for r in broker.records(Topic.PRIVACY_ERASURES) if isinstance(r, Erasure)]
    assert (done.account, done.player_id, done.request_id) == (A, "p1", "ev-erase-brand-a-p1-0")
    assert (done.identifiers_removed, done.links_removed, done.requested_by) == (2, 1, "dpo")
    [revoked] = [r for r in broker.records(Topic.POSTBACKS) if isinstance(r, PostbackRevocation)]
    assert revoked.affiliate_id == "aff-9"
    assert revoked.player_token == player_token(POLICY.person_key, "aff-9", A)


@pytest.mark.parametrize("late", ["replayed registration", "new registration", "second erasure"])
def test_nothing_brings_an_erased_account_back(late: str) -> None:
    worker = Worker(Broker(), STAGES)
    broker = run([reg("brand-a", "p1", 10, email_hash=MAIL), erasure("brand-a", "p1", 30)],
                 worker=worker)
    before = {t: len(broker.records(t)) for t in Topic}
    event = {"replayed registration": reg("brand-a", "p1", 10, email_hash=MAIL),
             "new registration": reg("brand-a", "p1", 40, email_hash=MAIL, device_id="dev-2")
             .model_copy(update={"event_id": "ev-late"}),
             "second erasure": erasure("brand-a", "p1", 50, n=1)}[late]
    run([event, reg("brand-b", "q1", 60, email_hash=MAIL)], worker=worker)
    after = {t: len(broker.records(t)) for t in Topic}
    # B's registration still makes its own sighting, and nobody links it to the erased account
    assert after[Topic.PRIVACY_ERASURES] == before[Topic.PRIVACY_ERASURES]
    mail = state_of(worker, "identifiers", f"op-1|email_hash|{MAIL}")
    assert isinstance(mail, IdentifierState) and set(mail.accounts) == {B}
    found = persons(broker, [A, B])
    assert found[A] != found[B]
    state = state_of(worker, "identity", A)
    assert isinstance(state, AccountState) and state.sent == {}
