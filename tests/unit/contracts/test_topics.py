"""The topic registry: every record it names is an Avro contract, every stage's wiring is the one
the pipeline runs, and `check_emit` / `check_input` refuse what the registry does not allow."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clickpath.contracts.models import (
    ALL_RECORDS,
    PLAYER_EVENT_TYPES,
    Attribution,
    CanonicalEvent,
    Click,
    ClickLink,
    DeliveryAttempt,
    DeliveryJob,
    EventBatch,
    PlayerEvent,
    PostbackRevocation,
    Registration,
)
from clickpath.contracts.serde import MODELS_BY_NAME, latest_versions, load_schema_files
from clickpath.contracts.topics import (
    SPECS,
    Node,
    Topic,
    TopicSpec,
    TopologyError,
    accepted_records,
    all_topic_names,
    check_declaration,
    check_emit,
    check_input,
    inputs_of,
    outputs_of,
    topic_name,
    topics_by_name,
    topics_consumed_by,
    topics_produced_by,
)
from clickpath.settings import Settings
from tests.factories import at, click, registration

SCHEMAS = latest_versions(load_schema_files(Settings().schemas_dir))


@pytest.mark.parametrize("spec", SPECS.values(), ids=lambda s: s.topic.value)
def test_every_record_of_a_topic_has_an_avro_schema_the_codec_reads_into_that_class(
    spec: TopicSpec,
) -> None:
    assert spec.records, "a topic carries at least one record class"
    for cls in spec.records:
        assert cls.avro_name in SCHEMAS, f"{cls.__name__}: no schemas/**/{cls.avro_name}"
        assert MODELS_BY_NAME[cls.avro_name] is cls


def test_every_avro_record_travels_on_some_topic() -> None:
    carried = {cls for spec in SPECS.values() for cls in spec.records}
    assert set(ALL_RECORDS) == carried


def test_every_topic_has_a_writer_and_every_stage_a_place() -> None:
    assert all(spec.producers for spec in SPECS.values())
    used = {s for spec in SPECS.values() for s in (*spec.producers, *spec.consumers)}
    assert used == set(Node)


def test_every_topic_is_in_the_registry_once_and_keeps_its_name() -> None:
    settings = Settings(topic_prefix="p")
    assert list(SPECS) == list(Topic)
    assert topic_name(settings, Topic.CANONICAL) == "p.canonical.events"
    assert all_topic_names(settings) == [f"p.{t.value}" for t in Topic]
    assert topics_by_name(settings)["p.ingress.clicks"] is Topic.CLICKS


def test_the_stages_read_what_the_worker_and_the_sinks_subscribe_to() -> None:
    assert topics_consumed_by(Node.PLAYERS) == (Topic.EVENTS, Topic.ATTRIBUTIONS)
    assert topics_consumed_by(Node.CLICKS) == (Topic.CLICKS, Topic.CLICK_LINKS)
    assert set(topics_consumed_by(Node.SINK_CLICKHOUSE)) == {
        Topic.CANONICAL, Topic.PLAYER_DAY_FACTS, Topic.ATTRIBUTIONS, Topic.DELIVERY_ATTEMPTS,
        Topic.PLAYER_PROFILES, Topic.COMMISSION_LEDGER, Topic.AFFILIATE_PLAYERS,
        Topic.IDENTITY_LINKS, Topic.IDENTITY_PERSONS, Topic.IDENTITY_SIGNALS,
        Topic.IDENTITY_TOUCHPOINTS, Topic.PRIVACY_ERASURES,
    }
    assert set(topics_consumed_by(Node.SINK_POSTBACKS)) == {
        Topic.POSTBACKS, Topic.WEBHOOKS, Topic.DELIVERY_RETRIES, Topic.CANONICAL,
    }
    assert topics_consumed_by(Node.DELIVERIES_REPLAY) == (Topic.DEAD_LETTER,)
    assert [s.topic for s in inputs_of(Node.PLAYERS)] == list(topics_consumed_by(Node.PLAYERS))
    assert topics_consumed_by(Node.API) == ()


def test_only_the_doors_write_the_ingress_topics() -> None:
    ingress = {t for t in Topic if t.value.startswith("ingress.")}
    for stage in (Node.PLAYERS, Node.CLICKS, Node.SINK_CLICKHOUSE, Node.SINK_POSTBACKS):
        assert not ingress & set(topics_produced_by(stage)), stage
    assert set(topics_produced_by(Node.API)) == {Topic.CLICKS, Topic.EVENTS}
    assert {s.topic for s in outputs_of(Node.TRACKER)} == {Topic.CLICKS, Topic.PAGE_VIEWS}


def test_the_stream_stages_accept_the_records_their_agents_accept() -> None:
    """The classes streams/app.py's stages took before the registry held them."""
    assert set(accepted_records(Node.PLAYERS)) == {*PLAYER_EVENT_TYPES, Attribution}
    assert set(accepted_records(Node.CLICKS)) == {Click, ClickLink, Registration}
    assert EventBatch not in accepted_records(Node.CLICKS)  # unpacked before a stage sees it


def _canonical(person_id: str, click_id: str | None = None) -> CanonicalEvent:
    return CanonicalEvent(
        event_id="e1", event_type="click", occurred_at=at(0), processed_at=at(1), brand_id="b",
        source="s", person_id=person_id, click_id=click_id, is_ftd=False, payload="{}",
    )


def test_check_emit_passes_a_producer_writing_a_record_its_topic_carries() -> None:
    check_emit(Node.CLICKS, Topic.ATTRIBUTIONS, registration("p1", "c1"))
    check_emit(Node.PLAYERS, Topic.CANONICAL, _canonical("brand-a:p1"))


def test_check_emit_refuses_a_stage_that_is_not_a_producer_of_the_topic() -> None:
    refused = "stage clicks may not write to postbacks: its producers are players"
    with pytest.raises(TopologyError, match=refused):
        check_emit(Node.CLICKS, Topic.POSTBACKS, PostbackRevocation(
            affiliate_id="a", player_token="t", reason="r", revoked_at=at(0)))


def test_check_emit_refuses_a_record_class_the_topic_does_not_carry() -> None:
    with pytest.raises(TopologyError, match="canonical.events does not carry Registration"):
        check_emit(Node.PLAYERS, Topic.CANONICAL, registration("p1", None))


def test_check_input_gives_the_dead_letter_reasons_of_the_agents() -> None:
    check_input(Node.CLICKS, Topic.CLICKS, "c1", click("c1"))
    check_input(Node.PLAYERS, Topic.ATTRIBUTIONS, "brand-a:p1", registration("p1", "c1"))
    with pytest.raises(TopologyError, match="^record key 'c1' must be 'brand-a:p1'$"):
        check_input(Node.PLAYERS, Topic.ATTRIBUTIONS, "c1", registration("p1", "c1"))
    with pytest.raises(TopologyError, match="^Click does not belong on ingress.events$"):
        check_input(Node.PLAYERS, Topic.EVENTS, "c1", click("c1"))
    with pytest.raises(TopologyError, match="^EventBatch does not belong on ingress.clicks$"):
        check_input(Node.CLICKS, Topic.CLICKS, "c1", EventBatch(items=[]))
    with pytest.raises(TopologyError, match="stage players does not read ingress.clicks"):
        check_input(Node.PLAYERS, Topic.CLICKS, "c1", click("c1"))


def test_keys_the_registry_documents_per_record() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    job = DeliveryJob(job_id="j", endpoint_id="ep-1", kind="postback", event="ftd", attempt=1,
                      due_at=now, created_at=now, occurred_at=now, record=b"")
    revocation = PostbackRevocation(affiliate_id="aff-1", player_token="t", reason="r", revoked_at=now)
    retries = SPECS[Topic.DELIVERY_RETRIES].key
    assert (retries.of(job), retries.of(revocation)) == ("ep-1", "aff-1")

    def attempt(endpoint_id: str) -> DeliveryAttempt:
        return DeliveryAttempt(job_id="j", endpoint_id=endpoint_id, kind="postback", event="ftd",
                               affiliate_id="aff-1", attempt=0, latency_ms=0, outcome="suppressed",
                               attempted_at=now)

    attempts = SPECS[Topic.DELIVERY_ATTEMPTS].key
    assert (attempts.of(attempt("ep-1")), attempts.of(attempt("-"))) == ("ep-1", "aff-1")
    canonical = SPECS[Topic.CANONICAL].key
    assert (canonical.of(_canonical("b:p")), canonical.of(_canonical("", "c9"))) == ("b:p", "c9")
    assert str(SPECS[Topic.EVENTS].key) == "brand_id:player_id"  # what `clickpath topics` prints


def test_check_declaration_refuses_a_stage_declared_against_the_registry() -> None:
    check_declaration(Node.CLICKS, [Topic.CLICK_LINKS, Topic.CLICKS], [Click, ClickLink, Registration])
    with pytest.raises(TopologyError, match="missing stream.attributions; not the registry's none"):
        check_declaration(Node.PLAYERS, [Topic.EVENTS])
    with pytest.raises(TopologyError, match="missing none; not the registry's ingress.clicks"):
        check_declaration(Node.PLAYERS, [Topic.EVENTS, Topic.ATTRIBUTIONS, Topic.CLICKS])
    with pytest.raises(TopologyError, match="stage clicks accepts Attribution: none of its inputs"):
        check_declaration(Node.CLICKS, [Topic.CLICKS, Topic.CLICK_LINKS], [Click, Attribution])


def test_a_declared_base_class_accepts_its_subclasses_and_none_may_be_left_out() -> None:
    check_declaration(Node.PLAYERS, [Topic.EVENTS, Topic.ATTRIBUTIONS], [PlayerEvent, Attribution])
    with pytest.raises(TopologyError, match="does not accept Attribution, which its inputs carry"):
        check_declaration(Node.PLAYERS, [Topic.EVENTS, Topic.ATTRIBUTIONS], [PlayerEvent])
    with pytest.raises(TopologyError, match="does not accept ClickLink, which its inputs carry"):
        check_declaration(Node.CLICKS, [Topic.CLICKS, Topic.CLICK_LINKS], [Click, Registration])


def test_the_shipped_stages_are_declared_as_the_registry_says() -> None:
    """What streams/app.py checks before a worker reads anything."""
    from datetime import timedelta

    from clickpath.domain.attribution import AttributionWindow
    from clickpath.domain.players import PlayerPolicy
    from clickpath.streams.clicks import click_stage
    from clickpath.streams.players import player_stage

    policy = PlayerPolicy(recent_ids=8, pseudonym_key=b"k" * 32)
    for stage in (player_stage(policy, Topic.ATTRIBUTIONS.value),
                  click_stage(AttributionWindow(lookback=timedelta(days=30)))):
        check_declaration(Node(stage.name), stage.inputs, stage.accepts)
