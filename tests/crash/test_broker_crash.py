"""The broker crash test (`make test-crash`; not part of `make test`): every event type at
volume through the real pipeline on the embedded broker while workers and sinks are SIGKILLed
at random, then every money figure of the report and every stored event compared, exactly, with
the load generator's truth.

55,000 sends (about 52,000 distinct events, at least 500 of each type, with duplicates, retries
with a new event id and the same natural key, and late events; clickpath.devtools.loadgen's
`JourneyRates.every_type()`) go to two workers, the ClickHouse sink and the postback sink. At
least ten SIGKILLs land on them at random points of the stream; each victim comes back after a
random share of the stream (a worker sometimes on a fresh data dir, so it recovers from the
changelog while its partner has taken over). When every consumer group sits at the end of its
input (tests/crash/idle.py), the test compares, per affiliate and currency, FTDs, deposits,
declined deposits, withdrawals, chargebacks and every amount (FTD, deposit, withdrawal and
chargeback sums, stakes, wins, bonus stakes, bonus cost, GGR, NGR); ClickHouse's events per type;
the funnel per campaign; and the postbacks.

The seed picks the events and the faults: a failure prints it, and `CLICKPATH_CRASH_SEED=<seed>
make test-crash` plays the same stream (ids, amounts, order) and the same kills again (where a
kill lands in the worker's batch still depends on timing). CLICKPATH_CRASH_SENDS and
CLICKPATH_CRASH_RATE (events/s) scale it.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import threading
import time
from dataclasses import dataclass

import pytest

from clickpath.devtools.bench.phases import received_required
from clickpath.devtools.loadgen import JourneyRates, LoadGenerator, Population
from clickpath.devtools.procs import RoleProcess, WaitTimeout, wait_until
from clickpath.devtools.verify import VERIFY_POSTBACK_PATH, verify, verify_money, verify_stored
from clickpath.domain.catalogue import AffiliateConfig
from clickpath.domain.report import summarize
from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import clickhouse_stats, funnel_rows
from tests.crash.idle import Idle

SEED = int(os.environ.get("CLICKPATH_CRASH_SEED") or secrets.randbelow(1_000_000))
SENDS = int(os.environ.get("CLICKPATH_CRASH_SENDS") or 55_000)
RATE = float(os.environ.get("CLICKPATH_CRASH_RATE") or 350)  # events/s, so kills land mid-stream
KILLS = 12
# At the default volume: at least 50,000 distinct events and 500 of each type (scaled down with
# a smaller CLICKPATH_CRASH_SENDS, for a quick look at the test itself).
MIN_EVENTS = 50_000 * min(SENDS, 55_000) // 55_000
MIN_EACH_TYPE = 500 * min(SENDS, 55_000) // 55_000
POPULATION = Population.synthetic(brands=2, affiliates=6, campaigns=2)
ROLES = ("worker-0", "worker-1", "clickhouse", "postbacks")
RERUN = f"CLICKPATH_CRASH_SEED={SEED} make test-crash"


@dataclass(frozen=True)
class Fault:
    at: int  # sends made when the role is SIGKILLed
    role: str
    back_at: int  # sends made when it is started again
    fresh: bool  # a worker restarted on a data dir of its own (recovers from the changelog)


def plan(seed: int, sends: int, kills: int = KILLS) -> list[Fault]:
    """The kills a seed makes: every role at least once, workers most, each victim down for
    up to ~8 s of the stream; a role is not killed again while it is down."""
    for attempt in range(100):  # a draw that misses a role is drawn again (still seeded)
        faults = _draw(random.Random(seed * 100 + attempt), sends, kills)
        if {f.role for f in faults} == set(ROLES) and len(faults) >= 10:
            return faults
    raise AssertionError(f"seed {seed}: no plan kills every role")


def _draw(rng: random.Random, sends: int, kills: int) -> list[Fault]:
    victims = [*ROLES, *rng.choices(ROLES, weights=(3, 3, 2, 1), k=kills - len(ROLES))]
    rng.shuffle(victims)
    points = sorted(rng.randint(sends // 20, sends * 9 // 10) for _ in victims)
    down_until = dict.fromkeys(ROLES, -1)
    faults = []
    for at, victim in zip(points, victims, strict=True):
        role = victim
        if down_until[role] >= at:
            up = [r for r in ROLES if down_until[r] < at]
            if not up:
                continue
            role = rng.choice(up)
        back_at = at + rng.randint(0, int(RATE * 8))
        down_until[role] = back_at
        faults.append(Fault(at, role, back_at, role.startswith("worker") and rng.random() < 0.3))
    return faults


class Pipeline:
    """The roles of the run, started, SIGKILLed and started again by name."""

    def __init__(self, start_role, settings) -> None:
        self.start_role = start_role
        self.settings = settings
        self.next_index = 2  # worker data dirs 0 and 1 are the first two workers'
        self.roles: dict[str, RoleProcess] = {}

    def start(self, role: str, fresh: bool = False) -> None:
        if role.startswith("worker"):
            index = role.removeprefix("worker-")
            if fresh:
                index, self.next_index = str(self.next_index), self.next_index + 1
            args: tuple[str, ...] = ("worker", "--index", index)
        else:
            args = ("sink", role)
        self.roles[role] = self.start_role(*args, role_settings=self.settings)

    def kill(self, role: str) -> None:
        self.roles[role].kill()


def produce(settings, gen: LoadGenerator, done: threading.Event) -> None:
    started = time.monotonic()
    with EventProducer(settings) as producer:
        for event in gen.events(SENDS):
            producer.send(event)
            if gen.truth.sends % 50 == 0:
                time.sleep(max(started + gen.truth.sends / RATE - time.monotonic(), 0))
    done.set()


@pytest.mark.timeout(900)
def test_every_figure_exact_through_random_kills(settings, receiver, start_role) -> None:
    print(f"\nbroker crash test: seed {SEED} ({RERUN}), {SENDS} sends at {RATE:g}/s", flush=True)
    settings = settings.with_overrides(
        affiliates={a: AffiliateConfig(name=a, postback_url=receiver.url + VERIFY_POSTBACK_PATH)
                    for a in POPULATION.affiliates},
        postback_max_attempts=40, postback_backoff_s=0.1, postback_backoff_max_s=1.0,
    )
    faults = plan(SEED, SENDS)
    assert len(faults) >= 10, faults
    pipeline = Pipeline(start_role, settings)
    for role in ROLES:
        pipeline.start(role)
    gen = LoadGenerator(POPULATION, JourneyRates.every_type(), seed=SEED)
    truth = gen.truth
    done = threading.Event()
    producer = threading.Thread(target=produce, args=(settings, gen, done), daemon=True)
    started = time.monotonic()
    producer.start()

    steps = sorted([(f.at, 0, f) for f in faults] + [(f.back_at, 1, f) for f in faults],
                   key=lambda s: (s[0], s[1]))
    log = []
    for at, restart, fault in steps:
        wait_until(lambda at=at: truth.sends >= at or done.is_set(), SENDS / RATE * 3,
                   f"{at} sends")
        if restart:
            pipeline.start(fault.role, fault.fresh)
        else:
            pipeline.kill(fault.role)
        what = "restarted" + (" on a fresh data dir" if fault.fresh else "") if restart else "SIGKILLed"
        log.append(f"{time.monotonic() - started:5.1f}s {truth.sends:6d} sends: {fault.role} {what}")
        print(log[-1], flush=True)
    assert done.wait(SENDS / RATE * 3), "the producer did not finish"
    print(f"{time.monotonic() - started:5.1f}s all {truth.sends} sent; waiting for the pipeline",
          flush=True)

    def failure(what: str, problems: list[str] | object) -> str:
        listed = "\n  ".join(problems) if isinstance(problems, list) else str(problems)
        return (f"{what} (seed {SEED}; rerun: {RERUN})\n  {listed}\nfaults:\n  "
                + "\n  ".join(log))

    idle = Idle(settings, groups=3)
    try:
        wait_until(idle.check, 300, "every consumer group at the end of its input", every_s=1.0)
    except WaitTimeout as e:
        pytest.fail(failure(str(e), idle.seen))
    finally:
        idle.close()
    print(f"{time.monotonic() - started:5.1f}s idle (groups {idle.seen['groups']}); comparing",
          flush=True)
    # A postback in its retry backoff may still be on its way; a missing one fails below.
    with contextlib.suppress(WaitTimeout):
        wait_until(lambda: received_required(truth, receiver) >= len(truth.postbacks), 30,
                   "every postback")

    rows = funnel_rows(settings)
    stored = verify_stored(truth, clickhouse_stats(settings)["events_by_type"])
    money = verify_money(truth, summarize(rows))
    verdict = verify(truth, rows, [r["path"] for r in receiver.requests()])
    problems = [*stored, *money, *verdict.mismatches]
    if not verdict.ok:
        problems.append(
            f"deposits lost {verdict.lost}, double-counted {verdict.double_counted}; postbacks"
            f" missing {verdict.postbacks_missing}, double {verdict.postbacks_double}"
        )
    assert not problems, failure("the pipeline's outputs differ from the truth", problems)
    assert {f.role for f in faults} == set(ROLES)
    assert truth.unique_events >= MIN_EVENTS, truth.unique_events
    assert min(truth.events_by_type.values()) >= MIN_EACH_TYPE, truth.events_by_type
    assert truth.natural_duplicates_sent and truth.duplicates_sent and truth.late_sent
    print(f"{time.monotonic() - started:5.1f}s exact: {truth.unique_events} events of"
          f" {len(truth.events_by_type)} types, {len(truth.money)} affiliate-currency rows,"
          f" {len(faults)} kills", flush=True)
