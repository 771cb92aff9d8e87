"""The load generator's every-type mix and its money truth: every event type, payment status
and kind of duplicate is in it; the truth's figures are what the events mean (recomputed here
from the events alone, by natural key); the truth names every figure the report carries; and
verify_money finds a figure the report has wrong."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from decimal import Decimal

from clickpath.contracts.models import (
    INGRESS_TYPES,
    Bonus,
    Chargeback,
    Click,
    Deposit,
    IngressEvent,
    Registration,
    Wager,
    Withdrawal,
)
from clickpath.devtools.loadgen import JourneyRates, LoadGenerator, Population
from clickpath.devtools.truth import GroundTruth, MoneyTruth
from clickpath.devtools.verify import verify_money, verify_stored
from clickpath.domain.funnel_table import CURRENCY_COUNTS, MONEY_NAMES
from clickpath.domain.report import summarize

POPULATION = Population.synthetic(brands=2, affiliates=4, campaigns=2)


def every_type(sends: int = 12_000, seed: int = 5) -> tuple[LoadGenerator, list[IngressEvent]]:
    gen = LoadGenerator(POPULATION, JourneyRates.every_type(), seed=seed)
    return gen, list(gen.events(sends))


def test_every_type_status_and_duplicate_kind_is_sent() -> None:
    gen, sent = every_type()
    types = Counter(e.event_type for e in sent)
    assert set(types) == set(INGRESS_TYPES)
    assert all(types[t] >= 100 for t in types), types
    statuses = Counter((e.event_type, e.status) for e in sent if isinstance(e, Deposit | Withdrawal))
    for kind in ("deposit", "withdrawal"):
        assert {s for k, s in statuses if k == kind} == {None, "approved", "declined", "pending"}
    assert {e.action for e in sent if isinstance(e, Bonus)} == {"granted", "converted", "forfeited"}
    assert any(isinstance(e, Wager) and e.bonus_stake for e in sent)
    natural = natural_duplicates(sent)
    assert set(natural) == {"deposit", "withdrawal", "chargeback", "wager", "bonus"}, natural
    truth = gen.truth
    assert truth.natural_duplicates_sent == sum(natural.values())
    assert truth.duplicates_sent > truth.natural_duplicates_sent > 0 and truth.late_sent > 0
    assert sum(truth.events_by_type.values()) == truth.unique_events == len(
        {e.event_id for e in sent}
    ) - truth.natural_duplicates_sent


def natural_key(e: IngressEvent) -> tuple[str, ...] | None:
    if isinstance(e, Deposit | Withdrawal):
        return (e.event_type, e.transaction_id, str(e.status), e.occurred_at.isoformat())
    if isinstance(e, Chargeback):
        return ("chargeback", e.chargeback_id)
    if isinstance(e, Wager):
        return ("wager", e.wager_id)
    if isinstance(e, Bonus):
        return ("bonus", e.bonus_id, e.action)
    return None


def natural_duplicates(sent: list[IngressEvent]) -> Counter[str]:
    """Events sent again with a new event id and the same natural key, by type."""
    first: dict[tuple[str, ...], str] = {}
    found: Counter[str] = Counter()
    for e in sent:
        key = natural_key(e)
        if key is None:
            continue
        if key in first and first[key] != e.event_id:
            found[e.event_type] += 1
        first.setdefault(key, e.event_id)
    return found


def recomputed(sent: list[IngressEvent]) -> dict[tuple[str, str], MoneyTruth]:
    """The money figures from the events alone: each natural key once; a payment counts by
    the status of its newest event (absent is approved); the FTD is a player's earliest
    approved deposit; the affiliate is the one of the registration's click."""
    unique = {natural_key(e) or (e.event_id,): e for e in reversed(sent)}.values()
    affiliate_of_click = {e.click_id: e.affiliate_id for e in sent if isinstance(e, Click)}
    affiliate = {
        e.person_id: affiliate_of_click.get(e.click_id or "", "")
        for e in sent if isinstance(e, Registration)
    }
    out: dict[tuple[str, str], MoneyTruth] = {}
    payments: dict[tuple[str, str], list[Deposit | Withdrawal]] = {}
    for e in unique:
        if isinstance(e, Deposit | Withdrawal):
            payments.setdefault((e.event_type, e.transaction_id), []).append(e)
            continue
        if not isinstance(e, Chargeback | Wager | Bonus):
            continue
        money = out.setdefault((affiliate[e.person_id], e.currency), MoneyTruth())
        if isinstance(e, Chargeback):
            money.add(chargebacks=1, chargeback_sum=e.amount)
        elif isinstance(e, Wager):
            money.add(stakes=e.stake, wins=e.win, bonus_stakes=e.bonus_stake)
        elif e.action == "converted":
            money.add(bonus_cost=e.amount)
    earliest: dict[str, tuple[datetime, Decimal, str]] = {}
    for (kind, _), events in payments.items():
        newest = max(events, key=lambda e: e.occurred_at)
        status, made = newest.status or "approved", min(e.occurred_at for e in events)
        money = out.setdefault((affiliate[newest.person_id], newest.currency), MoneyTruth())
        if kind == "withdrawal" and status == "approved":
            money.add(withdrawals=1, withdrawal_sum=newest.amount)
        elif kind == "deposit" and status == "declined":
            money.add(declined_deposits=1)
        elif kind == "deposit" and status == "approved":
            money.add(deposits=1, deposit_sum=newest.amount)
            best = earliest.get(newest.person_id)
            if best is None or made < best[0]:
                earliest[newest.person_id] = (made, newest.amount, newest.currency)
    for person, (_, amount, currency) in earliest.items():
        out.setdefault((affiliate[person], currency), MoneyTruth()).add(ftds=1, ftd_sum=amount)
    return out


def test_the_money_truth_is_what_the_events_mean() -> None:
    gen, sent = every_type()
    assert gen.truth.money == recomputed(sent)
    figures = [m.figures() for m in gen.truth.money.values()]
    for name in ("declined_deposits", "withdrawals", "bonus_cost", "bonus_stakes", "chargebacks"):
        assert sum(f[name] for f in figures) > 0, name
    m = next(iter(gen.truth.money.values()))
    assert m.ggr == m.stakes - m.wins and m.ngr == m.ggr - m.bonus_cost - m.chargeback_sum


def test_the_default_rates_send_none_of_the_added_kinds() -> None:
    """The benchmark's workload: as before the every-type mix was added."""
    gen = LoadGenerator(POPULATION, seed=5)
    sent = list(gen.events(6000))
    types = {e.event_type for e in sent}
    assert not types & {"withdrawal", "bonus", "erasure_request"}
    assert all(e.status is None for e in sent if isinstance(e, Deposit))
    assert set(natural_duplicates(sent)) <= {"deposit"}


def test_the_truth_names_every_figure_the_report_carries() -> None:
    assert set(MoneyTruth().figures()) == set(MONEY_NAMES) | set(CURRENCY_COUNTS)


def test_the_money_truth_survives_saving(tmp_path) -> None:
    gen, _ = every_type(2000)
    gen.truth.save(tmp_path / "truth.json")
    loaded = GroundTruth.from_json(json.loads((tmp_path / "truth.json").read_text()))
    assert loaded.money == gen.truth.money and loaded.money


def funnel_rows_of(truth: GroundTruth) -> list[dict[str, object]]:
    """Funnel rows (as ClickHouse's funnel query gives them) that carry the truth's money."""
    rows: list[dict[str, object]] = []
    for (affiliate, currency), m in truth.money.items():
        figures = {k: v for k, v in m.figures().items() if k not in ("ggr", "ngr")}
        rows.append({"brand_id": "brand-1", "affiliate_id": affiliate, "campaign_id": "c1",
                     "currency": currency, "clicks": 0, "registrations": 0, **figures})
    return rows


def test_verify_money_passes_the_truth_and_names_what_differs() -> None:
    gen, _ = every_type(2000)
    rows = funnel_rows_of(gen.truth)
    assert verify_money(gen.truth, summarize(rows)) == []
    short = dict(rows[0], stakes=Decimal(str(rows[0]["stakes"])) - Decimal("1.50"))
    problems = verify_money(gen.truth, summarize([short, *rows[1:]]))
    where = f"{rows[0]['affiliate_id'] or '(organic)'} {rows[0]['currency']}"
    assert [p.split(":")[0] for p in problems] == [
        f"{where} stakes", f"{where} ggr", f"{where} ngr",
    ]


def test_verify_stored_names_each_type_that_differs() -> None:
    truth = GroundTruth(events_by_type={"wager": 3, "click": 2})
    assert verify_stored(truth, {"wager": 3, "click": 2}) == []
    assert verify_stored(truth, {"wager": 2, "click": 2, "bonus": 1}) == [
        "bonus: expected 0 stored, got 1", "wager: expected 3 stored, got 2",
    ]
