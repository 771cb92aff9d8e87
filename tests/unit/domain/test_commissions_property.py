"""The same records, duplicated and in any order, end at the same net amount per (affiliate,
period, currency, component, player token), and every entry is rounded to the cent."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from clickpath.domain.commissions import CommissionRecord
from tests.unit.domain.commission_factories import (
    Engine,
    at,
    banded,
    book,
    cpa,
    flag,
    flat,
    policy,
    qualification,
    value,
    version,
)

PERIODS = ["2026-01", "2026-02", "2026-03"]
PLAYERS = ["p0", "p1", "p2", "p3"]


def plans(threshold_on: str, carry: bool):  # type: ignore[no-untyped-def]
    revshare = banded("tiered", [("0", "0.25"), ("2", "0.35")], threshold_on=threshold_on,
                      negative_carry_over=carry)
    return policy(
        book([version(cpa=cpa("100.005", monthly_cap=2, clawback_days=40), revshare=revshare),
              version("parent", revshare=flat("0"), sub_affiliate_share="0.15")],
             {"aff-a": "p", "aff-p": "parent"}),
        parents={"aff-a": "aff-p"}, payout={"aff-a": "USD"},
        rates=[("GBP", "1.1734", date(2026, 1, 1)), ("GBP", "1.1693", date(2026, 2, 1)),
               ("USD", "0.9213", date(2026, 1, 1)), ("USD", "0.9377", date(2026, 3, 1))],
    )


amounts = st.integers(-150_000, 300_000).map(lambda cents: str(Decimal(cents) / 100))


@st.composite
def journeys(draw: st.DrawFn) -> list[CommissionRecord]:
    records: list[CommissionRecord] = []
    for person in PLAYERS:
        for period in draw(st.lists(st.sampled_from(PERIODS), unique=True, max_size=3)):
            currency = draw(st.sampled_from(["EUR", "GBP"]))
            for number in range(1, draw(st.integers(1, 3)) + 1):
                records.append(value(
                    person, period, number, ngr=draw(amounts), ftds=draw(st.integers(0, 1)),
                    wagers=draw(st.integers(0, 2)),
                    cause=draw(st.sampled_from(["activity", "chargeback"])),
                    currency=currency,
                ))
        for number in range(1, draw(st.integers(0, 3)) + 1):
            status = draw(st.sampled_from(["qualified", "qualified", "reversed", "none", "pending"]))
            day = draw(st.integers(0, 80))
            qualified_at = at("2026-01-01") + timedelta(days=day, hours=draw(st.integers(0, 3)))
            records.append(qualification(
                person, number, status,
                qualified_at=None if status == "pending" else qualified_at,
                occurred_at=qualified_at + timedelta(days=draw(st.integers(0, 60))),
                reason="chargeback" if status == "reversed" else None,
            ))
        for n in range(draw(st.integers(0, 2))):
            action = draw(st.sampled_from(["hold", "release", "clawback"]))
            flagged_at = at("2026-01-01") + timedelta(days=draw(st.integers(0, 90)))
            records.append(flag(f"{person}-f{n}", person, action, flagged_at))
    return records


@settings(max_examples=150, deadline=None)
@given(
    journey=journeys(),
    data=st.data(),
    threshold_on=st.sampled_from(["ngr", "ftds", "qualified", "active"]),
    carry=st.booleans(),
)
def test_duplicated_and_reordered_records_end_at_the_same_nets(
    journey: list[CommissionRecord], data: st.DataObject, threshold_on: str, carry: bool
) -> None:
    rules = plans(threshold_on, carry)
    in_order = Engine(rules)
    for record in journey:
        in_order.send(record)
    extra = data.draw(st.lists(st.sampled_from(journey), max_size=8)) if journey else []
    shuffled = data.draw(st.permutations(journey + extra))
    other = Engine(rules)
    for record in shuffled:
        other.send(record)
    assert other.nets() == in_order.nets()
    assert all(e.amount == e.amount.quantize(Decimal("0.01")) for e in other.entries)
    ids = [e.entry_id for e in other.entries]
    assert len(ids) == len(set(ids))
