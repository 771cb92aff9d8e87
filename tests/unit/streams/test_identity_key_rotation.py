"""A pseudonym key rotation through the real doors and stages, in memory: raw e-mails go
through `parse_event` with the keyring the settings make, the players and identity stages run
on the in-memory topology, and the merge log says who is one person (docs/privacy.md,
"Pseudonym key rotation")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clickpath.connectors.ingress import parse_event
from clickpath.contracts.models import CanonicalEvent, IngressEvent, Postback
from clickpath.contracts.models.identity import IdentifierSighting, PersonChange
from clickpath.contracts.topics import Topic
from clickpath.devtools.topology import Topology, pipeline_stages
from clickpath.domain.identity.account_state import person_id_of
from clickpath.domain.identity.policy import DEFAULT_OPERATOR
from clickpath.domain.players import PlayerPolicy
from clickpath.domain.pseudonym import player_token, version_of
from clickpath.infra.identity_policy import identity_policy
from clickpath.infra.pseudonym_keys import keyring, stable_key
from clickpath.settings import Settings

OLD_KEY = "an-old-pseudonym-key-of-at-least-32-bytes"
NEW_KEY = "the-new-pseudonym-key-of-at-least-32-bytes"
ROTATION = datetime(2026, 12, 1, tzinfo=UTC)
BEFORE = Settings(pseudonym_key=OLD_KEY)
# A grace period shorter than the 30-day identity window, to see what it takes away.
AFTER = Settings(pseudonym_key=NEW_KEY, pseudonym_key_version=2, pseudonym_key_started_at=ROTATION,
                 pseudonym_previous_keys={1: OLD_KEY}, pseudonym_grace_days=7)


def door(settings: Settings, at: datetime, brand: str, player: str, email: str,
         **more: Any) -> IngressEvent:
    """A registration as the event API takes it, received at `at` under `settings`' keys."""
    data = {"event_type": "registration", "event_id": f"reg-{brand}-{player}",
            "occurred_at": at.isoformat(), "player_id": player, "email": email, **more}
    return parse_event(data, pseudonym_key=keyring(settings), brand_id=brand, source="crm", now=at)


def topology(settings: Settings, start: datetime) -> Topology:
    """The pipeline's stages with the policies a worker makes of `settings`."""
    players = PlayerPolicy(recent_ids=64, pseudonym_key=stable_key(settings))
    return Topology(pipeline_stages(players, identity=identity_policy(settings)), start=start)


def arrive(top: Topology, event: IngressEvent) -> None:
    top.advance(event.occurred_at - top.clock.now())
    top.send_all([event])


def persons(top: Topology, accounts: list[str]) -> dict[str, str]:
    """Each account's person now: its newest merge-log entry, else the one it started as."""
    newest: dict[str, PersonChange] = {}
    for change in top.emitted(Topic.IDENTITY_PERSONS):
        assert isinstance(change, PersonChange)
        if change.account not in newest or change.version > newest[change.account].version:
            newest[change.account] = change
    key = stable_key(AFTER)
    return {a: newest[a].person_id if a in newest else person_id_of(DEFAULT_OPERATOR, a, key)
            for a in accounts}


def email_versions(top: Topology, account: str) -> set[int]:
    return {version_of(s.identifier.split("|", 2)[2]) for s in top.emitted(Topic.IDENTITY_SIGHTINGS)
            if isinstance(s, IdentifierSighting) and s.account == account and s.kind == "email_hash"}


def test_accounts_from_before_a_rotation_and_from_its_grace_period_are_one_person() -> None:
    top = topology(AFTER, ROTATION - timedelta(days=20))
    # Before the rotation, under the old settings (the workers restart with the new ones later).
    arrive(top, door(BEFORE, ROTATION - timedelta(days=3), "brand-a", "p1", "Ann@Example.com"))
    arrive(top, door(BEFORE, ROTATION - timedelta(days=1), "brand-d", "d1", "bob@example.com"))
    # In the grace period: the new key's pseudonym and the old one's.
    during = door(AFTER, ROTATION + timedelta(days=2), "brand-b", "q1", "ann@example.com ")
    assert version_of(during.email_hash or "") == 2 and version_of(during.previous_email_hash or "") == 1
    arrive(top, during)
    # After the grace period: the new key's pseudonym only.
    later = door(AFTER, ROTATION + timedelta(days=8), "brand-c", "r1", "ANN@example.com")
    late_bob = door(AFTER, ROTATION + timedelta(days=8), "brand-e", "e1", "bob@example.com")
    assert later.previous_email_hash is None and late_bob.previous_email_hash is None
    arrive(top, later)
    arrive(top, late_bob)

    found = persons(top, ["brand-a:p1", "brand-b:q1", "brand-c:r1", "brand-d:d1", "brand-e:e1"])
    # p1 (old version) and q1 (both) link on the old version; r1 (new only) links to q1 on the new.
    assert found["brand-a:p1"] == found["brand-b:q1"] == found["brand-c:r1"]
    # Bob came back after the grace period, within the identity window: only the new version
    # is sighted, so his account from before the rotation is not reached (docs/privacy.md).
    assert found["brand-d:d1"] != found["brand-e:e1"]
    assert found["brand-d:d1"] != found["brand-a:p1"]
    assert email_versions(top, "brand-a:p1") == {1}
    assert email_versions(top, "brand-b:q1") == {1, 2}
    assert email_versions(top, "brand-c:r1") == email_versions(top, "brand-e:e1") == {2}


def test_with_the_default_grace_period_a_return_within_the_identity_window_still_links() -> None:
    """The default grace period is the identity window: no pair the window allows is lost."""
    default = AFTER.with_overrides(pseudonym_grace_days=None)
    assert default.pseudonym_grace == default.identity_window_days == 30
    top = topology(default, ROTATION - timedelta(days=20))
    arrive(top, door(BEFORE, ROTATION - timedelta(days=1), "brand-d", "d1", "bob@example.com"))
    arrive(top, door(default, ROTATION + timedelta(days=8), "brand-e", "e1", "bob@example.com"))
    found = persons(top, ["brand-d:d1", "brand-e:e1"])
    assert found["brand-d:d1"] == found["brand-e:e1"]


def _journey(settings: Settings, at: datetime) -> list[IngressEvent]:
    """A click of aff-1 and its registration, both through the doors at `at`."""
    keys = keyring(settings)
    click = parse_event({"event_type": "click", "event_id": "click-c1", "occurred_at": at.isoformat(),
                         "click_id": "c1", "affiliate_id": "aff-1", "campaign_id": "camp-1",
                         "ip": "198.51.100.7"}, pseudonym_key=keys, brand_id="brand-a",
                        source="tracker", now=at)
    reg = parse_event({"event_type": "registration", "event_id": "reg-p1",
                       "occurred_at": (at + timedelta(minutes=5)).isoformat(), "player_id": "p1",
                       "click_id": "c1", "email": "ann@example.com"},
                      pseudonym_key=keys, brand_id="brand-a", source="crm",
                      now=at + timedelta(minutes=5))
    return [click, reg]


def _tokens_and_persons(settings: Settings, at: datetime) -> tuple[set[str], set[str]]:
    top = topology(settings, at - timedelta(hours=1))
    for event in _journey(settings, at):
        arrive(top, event)
    tokens = {p.player_token for p in top.emitted(Topic.POSTBACKS) if isinstance(p, Postback)}
    people = {e.person_id for e in top.emitted(Topic.CANONICAL)
              if isinstance(e, CanonicalEvent) and e.player_id}
    return tokens, people


def test_player_tokens_and_person_ids_do_not_follow_the_rotating_key() -> None:
    before = _tokens_and_persons(BEFORE, ROTATION - timedelta(days=2))
    during = _tokens_and_persons(AFTER, ROTATION + timedelta(days=2))
    after = _tokens_and_persons(AFTER, ROTATION + timedelta(days=20))
    assert before == during == after
    tokens, people = before
    assert tokens == {player_token(OLD_KEY.encode(), "aff-1", "brand-a:p1")}  # as before rotation
    assert identity_policy(AFTER).person_key == identity_policy(BEFORE).person_key == OLD_KEY.encode()
    assert people == {"brand-a:p1"}
