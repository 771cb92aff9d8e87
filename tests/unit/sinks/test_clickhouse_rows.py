"""Which rows the ClickHouse sink writes: each fact version once, as the cancel of the live row
plus the new row; each canonical event id once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from clickpath.contracts.models import PlayerDayFact
from clickpath.domain.measures import FACT_MEASURES
from clickpath.infra.clickhouse import StoredFact
from clickpath.sinks.clickhouse.rows import FACT_ROW_COLUMNS, columns, fact_key, fact_measures, fact_rows

DAY = date(2026, 11, 1)
REGISTERED = datetime(2026, 10, 31, 23, 59, tzinfo=UTC)


def fact(version: int, affiliate: str = "", deposits: int = 0, total: str = "0") -> PlayerDayFact:
    return PlayerDayFact(
        person_id="b:p1", brand_id="b", day=DAY, currency="EUR", affiliate_id=affiliate,
        campaign_id="", registrations=0, ftds=0, deposits=deposits, deposit_sum=Decimal(total),
        version=version,
    )


def signed(rows):
    """(affiliate, deposits, version, sign) of each row."""
    at = {name: i for i, name in enumerate(FACT_ROW_COLUMNS)}
    return [(r[at["affiliate_id"]], r[at["deposits"]], r[at["version"]], r[at["sign"]]) for r in rows]


def stored(version: int, affiliate: str, deposits: int, total: str) -> StoredFact:
    return StoredFact(version, affiliate, "", fact_measures(fact(version, affiliate, deposits, total)))


def valued(version: int, affiliate: str, seed: int) -> PlayerDayFact:
    """A fact with a distinct non-zero value in every measure."""
    values = {
        m.name: Decimal(f"{seed}{i}.{i:02d}") if m.money else seed * 100 + i
        for i, m in enumerate(FACT_MEASURES, start=1)
    }
    return fact(version, affiliate).model_copy(update=values)


def test_a_new_key_writes_its_row_only() -> None:
    rows, live = fact_rows([fact(1, deposits=1, total="5")], {})
    assert signed(rows) == [("", 1, 1, 1)]
    assert live[fact_key(fact(1))].version == 1


def test_a_newer_version_cancels_the_live_row_with_its_own_values() -> None:
    live = {fact_key(fact(1)): stored(1, "", 1, "5")}
    rows, _ = fact_rows([fact(3, affiliate="aff-1", deposits=2, total="9")], live)
    assert signed(rows) == [("", 1, 1, -1), ("aff-1", 2, 3, 1)]


def test_rows_carry_every_measure_and_the_cancel_repeats_the_live_row() -> None:
    old, new = valued(1, "", seed=1), valued(2, "aff-1", seed=2)
    new = new.model_copy(update={"registered_at": REGISTERED})
    rows, live = fact_rows([old, new], {})
    assert len(FACT_ROW_COLUMNS) == len(rows[0]) == 6 + len(FACT_MEASURES) + 3
    written = [dict(zip(FACT_ROW_COLUMNS, r, strict=True)) for r in rows]
    for m in FACT_MEASURES:
        assert [w[m.name] for w in written] == [
            getattr(old, m.name), getattr(old, m.name), getattr(new, m.name)
        ], m.name
    assert [(w["version"], w["sign"]) for w in written] == [(1, 1), (1, -1), (2, 1)]
    # The registration time too: the cancel repeats the old row's (none), the new row has its own.
    assert [w["registered_at"] for w in written] == [None, None, REGISTERED]
    assert live[fact_key(new)] == StoredFact(2, "aff-1", "", fact_measures(new), REGISTERED)
    # Signed, the rows sum to the new fact: the cancel takes the old values out exactly.
    for m in FACT_MEASURES:
        assert sum(w[m.name] * w["sign"] for w in written) == getattr(new, m.name)


def test_versions_within_a_batch_chain_and_repeats_or_older_ones_write_nothing() -> None:
    rows, live = fact_rows([fact(1), fact(2, "aff-1"), fact(2, "aff-1"), fact(1)], {})
    assert signed(rows) == [("", 0, 1, 1), ("", 0, 1, -1), ("aff-1", 0, 2, 1)]
    assert fact_rows([fact(2, "aff-1"), fact(1)], live)[0] == []


def test_columns_transpose_rows() -> None:
    assert columns([[1, "a"], [2, "b"]], 2) == [[1, 2], ["a", "b"]]
    assert columns([], 3) == [[], [], []]


def test_dates_outside_clickhouse_date_range_are_unwritable() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from clickpath.contracts.models import CanonicalEvent, PlayerDayFact
    from clickpath.sinks.clickhouse.rows import unwritable_reason

    def event(when: datetime) -> CanonicalEvent:
        return CanonicalEvent(event_id="e", event_type="click", occurred_at=when,
                              processed_at=datetime(2026, 1, 1, tzinfo=UTC), brand_id="b",
                              source="s", person_id="p", is_ftd=False, payload="{}")

    def fact(day: date) -> PlayerDayFact:
        return PlayerDayFact(person_id="b:p", brand_id="b", day=day, currency="EUR",
                             affiliate_id="a", campaign_id="c", registrations=1, ftds=0,
                             deposits=0, deposit_sum=Decimal(0), version=1)

    assert unwritable_reason(event(datetime(2026, 1, 1, tzinfo=UTC))) is None
    assert "occurred_at" in (unwritable_reason(event(datetime(2200, 1, 1, tzinfo=UTC))) or "")
    assert "occurred_at" in (unwritable_reason(event(datetime(1969, 12, 31, tzinfo=UTC))) or "")
    assert unwritable_reason(fact(date(2149, 6, 6))) is None
    assert "day" in (unwritable_reason(fact(date(2149, 6, 7))) or "")


def test_the_sinks_report_endpoint_sends_every_amount_as_a_decimal_string() -> None:
    """With embedded ClickHouse the HTTP service asks the sink; money must survive JSON exactly."""
    from fastapi.testclient import TestClient

    from clickpath.domain.measures import FUNNEL_MEASURES
    from clickpath.sinks.clickhouse.reports import report_app

    row = {"affiliate_id": "a", "campaign_id": "c", "currency": "EUR",
           **{m.name: Decimal("0.1005") if m.money else 3 for m in FUNNEL_MEASURES}}

    class Sink:
        def funnel(self, **filters):
            return [row]

    # base_url: the app answers loopback Host names only (a rebinding page sends its own)
    with TestClient(report_app(Sink(), "t" * 43), base_url="http://127.0.0.1",  # type: ignore[arg-type]
                    headers={"X-Clickpath-Reports-Token": "t" * 43}) as client:
        [sent] = client.get("/reports/funnel").json()
    for m in FUNNEL_MEASURES:
        assert sent[m.name] == ("0.1005" if m.money else 3), m.name


def test_a_registration_time_cohorts_cannot_bucket_keeps_the_fact_without_a_cohort() -> None:
    """Refusing the fact would take the player's funnel and money with it: it is written, with
    no registration time, so only the cohorts leave the player out."""
    from clickpath.sinks.clickhouse.rows import fact_rows, unwritable_reason

    assert unwritable_reason(fact(1).model_copy(update={"registered_at": REGISTERED})) is None
    late = fact(1).model_copy(update={"registered_at": datetime(2200, 1, 1, tzinfo=UTC)})
    assert unwritable_reason(late) is None
    [row], _ = fact_rows([late], {})
    assert row[-3] is None  # registered_at, version, sign
    [row], _ = fact_rows([fact(1).model_copy(update={"registered_at": REGISTERED})], {})
    assert row[-3] == REGISTERED
