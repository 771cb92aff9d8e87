"""The delivery engine's decisions, on a fake clock and a partner answered in memory: the
circuit, parking, revocations, commit points, dead letters, and what it records."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from prometheus_client import REGISTRY

from clickpath.contracts.models import DeadLetter, DeliveryAttempt, DeliveryJob, PostbackRevocation
from clickpath.contracts.topics import Topic
from clickpath.sinks.delivery.circuit import CircuitState
from tests.unit.sinks.conftest import START, Message, endpoint, postback


def status(code: int, **headers: str):
    return lambda _req, _n: httpx.Response(code, headers=headers)


def test_the_circuit_opens_after_n_failures_and_lets_one_probe_through_after_the_cooldown(
    make_engine,
) -> None:
    h = make_engine([endpoint()], lambda _req, n: httpx.Response(500 if n <= 3 else 200),
                    circuit_failures=3, circuit_cooldown_s=10.0, delivery_schedule_s=[1.0])
    lane = h.engine.lane("ep")

    async def scenario() -> None:
        for n in range(5):
            h.read(postback(n), offset=n)
        assert await h.attempt_all_due("ep") == 5
        assert len(h.partner.requests) == 3  # the third failure opened it; two jobs did not go
        assert lane.circuit.state is CircuitState.OPEN
        assert [round(item.due - START) for item in h.pending("ep")] == [1, 1, 1, 10, 10]

        h.clock.advance(9.5)  # the retries are due, the circuit is still open
        assert await h.attempt_all_due("ep") == 3
        assert len(h.partner.requests) == 3

        h.clock.advance(0.5)  # the cool-down is over: one probe, held at the partner
        h.partner.gate = asyncio.Event()
        h.partner.arrived.clear()
        probe = asyncio.create_task(h.engine.attempt_next("ep"))
        await h.partner.arrived.wait()
        assert lane.circuit.state is CircuitState.HALF_OPEN
        assert await h.attempt_all_due("ep") == 4  # everything else waits for the probe's answer
        assert len(h.partner.requests) == 4
        h.partner.gate.set()
        await probe
        assert lane.circuit.state is CircuitState.CLOSED

        h.clock.advance(0.25)
        await h.attempt_all_due("ep")
        assert len(h.partner.requests) == 8 and h.pending("ep") == []

    asyncio.run(scenario())
    delivered = [a.job_id for a in h.produced(Topic.DELIVERY_ATTEMPTS) if a.outcome == "delivered"]
    assert len(delivered) == len(set(delivered)) == 5


def test_a_425_counts_against_the_circuit_like_a_429(make_engine) -> None:
    h = make_engine([endpoint()], status(425), circuit_failures=2, delivery_schedule_s=[1.0])
    for n in range(2):
        h.read(postback(n), offset=n)
    asyncio.run(h.attempt_all_due("ep"))
    assert h.engine.lane("ep").circuit.state is CircuitState.OPEN
    assert [a.outcome for a in h.produced(Topic.DELIVERY_ATTEMPTS)] == ["retry", "retry"]


def test_a_refusal_of_one_message_does_not_open_the_circuit(make_engine) -> None:
    h = make_engine([endpoint()], status(400), circuit_failures=2)
    for n in range(3):
        h.read(postback(n), offset=n)
    asyncio.run(h.attempt_all_due("ep"))
    assert h.engine.lane("ep").circuit.state is CircuitState.CLOSED
    assert len(h.partner.requests) == 3 and len(h.produced(Topic.DEAD_LETTER)) == 3


def test_a_retry_due_later_than_the_inline_limit_is_parked_and_its_record_can_be_committed(
    make_engine,
) -> None:
    h = make_engine([endpoint()], status(503, **{"retry-after": "3600"}), delivery_inline_retry_max_s=30.0)
    h.read(postback(1), offset=7)
    asyncio.run(h.engine.attempt_next("ep"))
    [parked] = h.produced(Topic.DELIVERY_RETRIES)
    assert isinstance(parked, DeliveryJob) and parked.attempt == 1 and parked.last_error == "HTTP 503"
    assert parked.due_at.timestamp() >= START + 3600
    assert h.pending("ep") == []
    assert [a.outcome for a in h.produced(Topic.DELIVERY_ATTEMPTS)] == ["retry"]
    asyncio.run(h.engine.commits.commit())
    assert h.consumer.commits == [{(h.topic(Topic.POSTBACKS), 0): 8}]


def test_a_retry_due_within_the_inline_limit_stays_in_the_lane(make_engine) -> None:
    h = make_engine([endpoint()], status(503, **{"retry-after": "20"}), delivery_inline_retry_max_s=30.0)
    h.read(postback(1), offset=7)
    asyncio.run(h.engine.attempt_next("ep"))
    assert h.produced(Topic.DELIVERY_RETRIES) == []
    [waiting] = h.pending("ep")
    assert waiting.due >= START + 20 and waiting.job.attempt == 1
    asyncio.run(h.engine.commits.commit())
    assert h.consumer.commits == [{(h.topic(Topic.POSTBACKS), 0): 7}]  # not past the pending one


def test_a_revocation_drops_the_pending_and_parked_jobs_of_that_player(make_engine) -> None:
    h = make_engine([endpoint()])
    h.read(postback(1, token="tok1"), offset=0)
    parked = h.engine.lane("ep").heap[0].job.model_copy(update={
        "job_id": "parked-1", "due_at": datetime.fromtimestamp(START + 600, UTC), "attempt": 3,
        "record": h.codec.encode(postback(0, token="tok1", event="registration")),
    })
    h.read(parked, offset=0, topic=Topic.DELIVERY_RETRIES)  # a parked job read back
    h.read(postback(2, token="tok2"), offset=1)
    revocation = PostbackRevocation(affiliate_id="aff-1", player_token="tok1",
                                    reason="consent withdrawn", revoked_at=datetime.fromtimestamp(START, UTC))
    h.read(revocation, offset=2)

    assert [h.codec.decode(item.job.record).player_token for item in h.pending("ep")] == ["tok2"]
    suppressed = h.produced(Topic.DELIVERY_ATTEMPTS)
    assert [(a.outcome, a.error) for a in suppressed] == [("suppressed", "consent withdrawn")] * 2
    assert "parked-1" in {a.job_id for a in suppressed}
    assert h.produced(Topic.DELIVERY_RETRIES) == [revocation]  # kept for a restart
    h.read(postback(3, token="tok1", event="registration"), offset=3)  # made after the revocation
    asyncio.run(h.attempt_all_due("ep"))
    assert [r.url.params["cid"] for r in h.partner.requests] == ["c2"]
    asyncio.run(h.engine.commits.commit())
    assert h.consumer.commits == [{(h.topic(Topic.POSTBACKS), 0): 4, (h.topic(Topic.DELIVERY_RETRIES), 0): 1}]


def test_a_postback_revoked_while_its_attempt_is_in_flight_is_not_retried(make_engine) -> None:
    h = make_engine([endpoint()], status(503), delivery_schedule_s=[1.0])
    h.read(postback(1, token="tok1"), offset=0)

    async def scenario() -> None:
        h.partner.gate = asyncio.Event()
        attempt = asyncio.create_task(h.engine.attempt_next("ep"))
        await h.partner.arrived.wait()
        h.read(PostbackRevocation(affiliate_id="aff-1", player_token="tok1", reason="self-excluded",
                                  revoked_at=datetime.fromtimestamp(START, UTC)), offset=1)
        h.partner.gate.set()
        await attempt

    asyncio.run(scenario())
    assert h.pending("ep") == [] and len(h.produced(Topic.DELIVERY_RETRIES)) == 1  # the revocation only
    assert [a.outcome for a in h.produced(Topic.DELIVERY_ATTEMPTS)] == ["retry", "suppressed"]


def test_the_commit_point_never_passes_a_record_whose_deliveries_have_not_all_ended(make_engine) -> None:
    answered: list[str] = []

    def answer(req: httpx.Request, _n: int) -> httpx.Response:
        """Endpoint b refuses c2 (final) and answers c1 503 once (a retry)."""
        cid = req.url.params["cid"]
        answered.append(req.url.path + cid)
        if req.url.path == "/b" and cid == "c2":
            return httpx.Response(400)
        if req.url.path == "/b" and answered.count("/bc1") == 1:
            return httpx.Response(503)
        return httpx.Response(200)

    h = make_engine([endpoint("a", path="/a?cid={click_id}"), endpoint("b", path="/b?cid={click_id}")],
                    answer, delivery_schedule_s=[5.0])
    postbacks = (h.topic(Topic.POSTBACKS), 0)
    h.read(postback(1), offset=10)
    h.read(postback(2), offset=11)

    async def scenario() -> None:
        assert await h.attempt_all_due("a") == 2
        assert await h.attempt_all_due("b") == 2
        await h.engine.commits.commit()  # 11 has ended (delivered, dead-lettered), 10 has not
        assert h.consumer.commits == [{postbacks: 10}]
        await h.engine.commits.commit()
        assert len(h.consumer.commits) == 1  # nothing moved, nothing committed
        h.clock.advance(6)
        assert await h.engine.attempt_next("b")  # record 10's retry: delivered
        await h.engine.commits.commit()
        assert h.consumer.commits[-1] == {postbacks: 12}

    asyncio.run(scenario())
    assert answered == ["/ac1", "/ac2", "/bc1", "/bc2", "/bc1"]
    for i, (what, _) in enumerate(h.producer.events):  # every commit right after a flush
        assert what != "commit" or h.producer.events[i - 1][0] == "flush"
    assert h.producer.events[-2] == ("flush", len(h.producer.sent))


def test_one_delivery_observes_the_latency_histogram_once(make_engine) -> None:
    h = make_engine([endpoint()])
    labels = {"stage": "postback_delivered"}
    before = REGISTRY.get_sample_value("clickpath_event_latency_seconds_count", labels) or 0.0
    h.read(postback(1), offset=0)
    asyncio.run(h.engine.attempt_next("ep"))
    assert REGISTRY.get_sample_value("clickpath_event_latency_seconds_count", labels) == before + 1


def test_the_delivered_latency_counts_from_receipt_not_from_a_backdated_event_time(
    make_engine,
) -> None:
    """A conversion backdated 14 days (an import, the demo) delivered 1.5 s after clickpath
    received it observes 1.5 s: the event's age is the event-time lag, a metric of its own."""
    h = make_engine([endpoint()])
    labels = {"stage": "postback_delivered"}
    before = REGISTRY.get_sample_value("clickpath_event_latency_seconds_sum", labels) or 0.0
    old = postback(1).model_copy(update={
        "occurred_at": datetime.fromtimestamp(START - 14 * 86400, UTC),
        "received_at": datetime.fromtimestamp(START - 1.5, UTC),
    })
    h.read(old, offset=0)
    asyncio.run(h.engine.attempt_next("ep"))
    after = REGISTRY.get_sample_value("clickpath_event_latency_seconds_sum", labels)
    assert after is not None and abs(after - before - 1.5) < 0.01


def test_410_disables_the_endpoint_and_dead_letters_the_job(make_engine) -> None:
    h = make_engine([endpoint("gone")], status(410))
    h.read(postback(1), offset=4)
    asyncio.run(h.engine.attempt_next("gone"))
    [letter] = h.produced(Topic.DEAD_LETTER)
    assert isinstance(letter, DeadLetter) and letter.stage == "delivery"
    assert letter.reason.startswith("gone: HTTP 410") and letter.offset == 4
    assert letter.failed_at.timestamp() == START
    job = h.codec.decode(letter.original_value)
    assert isinstance(job, DeliveryJob) and job.attempt == 1
    gone = h.engine.store.current()["gone"]
    assert not gone.enabled and "HTTP 410 at 2023-11-14T22:13:20Z" in (gone.disabled_reason or "")
    h.read(postback(2), offset=5)  # the disabled endpoint gets no job for a later postback
    assert h.pending("gone") == []
    assert len(h.partner.requests) == 1
    assert [a.outcome for a in h.produced(Topic.DELIVERY_ATTEMPTS)] == ["disabled"]


def test_a_job_whose_endpoint_was_disabled_while_it_waited_is_dead_lettered_unsent(make_engine) -> None:
    h = make_engine([endpoint("ep")])
    h.read(postback(1), offset=0)
    h.engine.store.disable("ep", "partner asked")
    asyncio.run(h.engine.attempt_next("ep"))
    assert h.partner.requests == []
    [letter] = h.produced(Topic.DEAD_LETTER)
    assert letter.reason == "ep: endpoint disabled: partner asked"


def test_attempts_are_timed_and_stamped_by_the_engines_clock(make_engine) -> None:
    h = make_engine([endpoint()])
    h.partner.takes_s = 0.25
    h.read(postback(1), offset=0)
    asyncio.run(h.engine.attempt_next("ep"))
    [attempt] = h.produced(Topic.DELIVERY_ATTEMPTS)
    assert isinstance(attempt, DeliveryAttempt) and attempt.outcome == "delivered"
    assert attempt.latency_ms == 250 and attempt.attempted_at.timestamp() == START + 0.25


def test_an_undecodable_record_is_dead_lettered_whole_and_settled(make_engine) -> None:
    h = make_engine([endpoint()])
    h.engine.accept(Message(h.topic(Topic.POSTBACKS), 0, 3, b"\x00garbage", b"k"))
    [letter] = h.produced(Topic.DEAD_LETTER)
    assert letter.original_value == b"\x00garbage" and letter.original_key == b"k" and letter.offset == 3
    asyncio.run(h.engine.commits.commit())
    assert h.consumer.commits == [{(h.topic(Topic.POSTBACKS), 0): 4}]
