"""Every output the stream decisions make goes where the topic registry says it may.

Journeys with every event type go through the click and player decisions (and their replays),
routed between the two the way the topics route them; each output is checked with
`check_emit` for the stage that made it and its key against the topic's key. And the other way
round: every (topic, record class) the registry lets these stages write, bar what the runtime
writes itself (profiles, dead letters), is made by some journey, so an entry no code uses fails.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from clickpath.contracts.models import (
    Attribution,
    Bonus,
    Chargeback,
    Click,
    ClickLink,
    Consent,
    ErasureRequest,
    EventBatch,
    Kyc,
    Login,
    PlayerEvent,
    Record,
    Registration,
    ResponsibleGaming,
    Wager,
    Withdrawal,
)
from clickpath.contracts.topics import SPECS, Node, Topic, check_emit, outputs_of
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.clicks import decide_click, replay_click_outputs
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.outputs import Output
from clickpath.domain.players import PlayerPolicy, decide_player, replay_outputs
from tests.factories import at, click, deposit, registration

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
WINDOW = AttributionWindow(timedelta(days=30))
NOW = at(1000)
RUNTIME_WRITES = {Topic.PLAYER_PROFILES, Topic.DEAD_LETTER}  # streams/ writes these, not decisions


def _base(player: str, kind: str, minutes: float) -> dict[str, object]:
    return {"event_id": f"ev-{kind}-{player}-{minutes}", "occurred_at": at(minutes),
            "brand_id": "brand-a", "source": "crm", "player_id": player}


def every_other_event(player: str, start: float) -> list[PlayerEvent]:
    """One of each player event type beyond registration and deposit, in a plausible order."""
    m = start
    return [
        Kyc(**_base(player, "kyc", m), status="verified"),
        Login(**_base(player, "login", m + 1), session_id="s1"),
        Wager(**_base(player, "wager", m + 2), wager_id="w1", stake=Decimal("5"), win=Decimal("2"),
              bonus_stake=Decimal("0"), currency="EUR", game_category="casino"),
        Bonus(**_base(player, "bonus", m + 3), bonus_id="b1", action="granted", amount=Decimal("10"),
              currency="EUR"),
        Withdrawal(**_base(player, "withdrawal", m + 4), transaction_id="wd1", amount=Decimal("3"),
                   currency="EUR"),
        Chargeback(**_base(player, "chargeback", m + 5), chargeback_id="cb1", transaction_id="t2",
                   amount=Decimal("20"), currency="EUR"),
        ResponsibleGaming(**_base(player, "rg", m + 6), kind="cool_off", action="start"),
        Consent(**_base(player, "consent", m + 7), purpose="affiliate_data_sharing", granted=False),
        deposit(player, "t3", "15", minutes=m + 8),  # after the consent: its postback is suppressed
        ErasureRequest(**_base(player, "erasure", m + 9)),
    ]


def journeys() -> list[list[Record]]:
    p1 = [click("c1"), registration("p1", "c1"), deposit("p1", "t1", "50", minutes=2),
          deposit("p1", "t2", "20", minutes=3), *every_other_event("p1", 4)]
    # An operator's own registration naming a click reaches the player first (a click link),
    # and its click comes later.
    p2 = [registration("p2", "c2", minutes=1), click("c2", minutes=0.5), deposit("p2", "t9", "5")]
    p3 = [registration("p3", None), deposit("p3", "t8", "7")]  # no click at all
    return [p1, p2, p3]


class Pipeline:
    """The two decisions, wired by their topics; keeps every output with the stage that made it."""

    def __init__(self) -> None:
        self.players: dict[str, object] = {}
        self.ledgers: dict[str, MemoryLedger] = {}  # each player's rows, beside the state
        self.clicks: dict[str, object] = {}
        self.outputs: list[tuple[Node, Output]] = []

    def send(self, record: Record, topic: Topic) -> None:
        queue = [(topic, record)]
        while queue:
            topic, record = queue.pop(0)
            stage, outs = self._decide(topic, record)
            self.outputs += [(stage, out) for out in outs]
            queue += [(o.topic, o.record) for o in outs if o.topic in (Topic.CLICK_LINKS, Topic.ATTRIBUTIONS)]

    def replay(self, record: Record, topic: Topic) -> None:
        """What the runtime sends again for a record it finds already applied after a crash."""
        if topic in (Topic.CLICKS, Topic.CLICK_LINKS):
            assert isinstance(record, Click | ClickLink | Registration)
            state = self.clicks[record.click_id or ""]
            self.outputs += [(Node.CLICKS, o) for o in replay_click_outputs(state, record, NOW)]
        else:
            assert isinstance(record, PlayerEvent | Attribution)
            linked = topic is Topic.ATTRIBUTIONS and isinstance(record, Registration)
            state = self.players[record.person_id]
            ledger = self.ledgers[record.person_id]
            outs = replay_outputs(state, record, POLICY, NOW, linked, ledger=ledger)
            self.outputs += [(Node.PLAYERS, o) for o in outs]

    def _decide(self, topic: Topic, record: Record) -> tuple[Node, list[Output]]:
        if topic in (Topic.CLICKS, Topic.CLICK_LINKS):
            assert isinstance(record, Click | ClickLink | Registration)
            key = record.click_id or ""
            self.clicks[key], outs, _ = decide_click(self.clicks.get(key), record, WINDOW, NOW)
            return Node.CLICKS, outs
        assert isinstance(record, PlayerEvent | Attribution)
        linked = topic is Topic.ATTRIBUTIONS and isinstance(record, Registration)
        key = record.person_id
        ledger = self.ledgers.setdefault(key, MemoryLedger())
        self.players[key], outs, _ = decide_player(
            self.players.get(key), record, POLICY, NOW, linked, ledger=ledger)
        return Node.PLAYERS, outs


def door_topic(record: Record) -> Topic:
    """Where an operator's own producer puts a record (the doors would send registrations
    that name a click to ingress.clicks; p1's journey goes through one, see below)."""
    return Topic.CLICKS if isinstance(record, Click) else Topic.EVENTS


def run_all() -> Pipeline:
    pipeline = Pipeline()
    sent: list[tuple[Record, Topic]] = []
    for journey in journeys():
        for record in journey:
            doors_route = isinstance(record, Registration) and record.player_id == "p1"
            topic = Topic.CLICKS if doors_route else door_topic(record)
            pipeline.send(record, topic)
            sent.append((record, topic))
    for record, topic in sent:
        pipeline.replay(record, topic)
    return pipeline


def test_every_output_is_one_its_stage_may_write_with_its_topics_key() -> None:
    outputs = run_all().outputs
    assert len(outputs) > 40
    for stage, out in outputs:
        check_emit(stage, out.topic, out.record)
        assert out.key == SPECS[out.topic].key.of(out.record), (out.topic, type(out.record).__name__)


def test_every_record_the_registry_lets_the_decisions_write_is_written() -> None:
    made = {(stage, out.topic, type(out.record)) for stage, out in run_all().outputs}
    allowed = {
        (stage, spec.topic, cls)
        for stage in (Node.PLAYERS, Node.CLICKS)
        for spec in outputs_of(stage)
        if spec.topic not in RUNTIME_WRITES
        for cls in spec.records
        if cls is not EventBatch  # the runtime packs batched topics' outputs, no decision does
    }
    assert allowed - made == set(), "registry entries no decision makes"
