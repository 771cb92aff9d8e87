"""The funnel in real ClickHouse (embedded chdb, the shipped DDL and views), read without FINAL:
exact when a late attribution re-tags a player, when a batch is written twice (a sink that
crashed before committing its offsets), when a restarted stream worker re-sends facts (even an
older version after a newer one), and when a crash lands between a table and its view.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from clickpath.contracts.models import Attribution, CanonicalEvent, PlayerDayFact, Record
from clickpath.domain.attribution import AttributionWindow
from clickpath.domain.clicks import decide_click
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.measures import DERIVED, FACT_MEASURES, FUNNEL_MEASURES, derive, zero
from clickpath.domain.players import PlayerPolicy, decide_player, replay_outputs
from clickpath.infra.clickhouse import (
    apply_migrations,
    query_funnel,
    query_pipeline_stats,
    repair_funnel,
)
from clickpath.sinks.clickhouse.writer import write_batch
from tests.factories import at, click, deposit, registration

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
NOW = at(1000)
DB = "clickpath"


def stream_outputs() -> tuple[list[Record], list[Record], list[Record]]:
    """What the stream emits for: a click, a registration and a deposit of the player who made
    it, all before the attribution (so counted unattributed), then the late attribution that
    re-tags the player. Returned as (before the attribution, the attribution's, replayed)."""
    _, click_out, _ = decide_click(None, click("c1"), AttributionWindow(timedelta(days=30)), at(100))
    reg, dep = registration("p1", "c1"), deposit("p1", "t1", "50")
    ledger = MemoryLedger()
    state, reg_out, _ = decide_player(None, reg, POLICY, NOW, ledger=ledger)
    state, dep_out, _ = decide_player(state, dep, POLICY, NOW, ledger=ledger)
    decision = Attribution(
        person_id=reg.person_id, brand_id="brand-a", player_id="p1", click_id="c1",
        status="attributed", affiliate_id="aff-1", campaign_id="camp-1",
        registered_at=reg.occurred_at, decided_at=at(5),
    )
    state, tag_out, _ = decide_player(state, decision, POLICY, NOW, ledger=ledger)
    before = [o.record for o in click_out + reg_out + dep_out]
    retag = [o.record for o in tag_out]
    replayed = [o.record for o in replay_outputs(state, dep, POLICY, NOW, ledger=ledger)]
    assert any(isinstance(r, CanonicalEvent) and r.event_type == "click" for r in before)
    assert sum(isinstance(r, PlayerDayFact) for r in retag) == 2  # both days' rows re-tagged
    return before, retag, replayed


def relevant(records: list[Record]) -> list[Record]:
    return [r for r in records if isinstance(r, CanonicalEvent | PlayerDayFact | Attribution)]


def funnel(client) -> list[tuple]:
    return [
        (r["affiliate_id"], r["currency"], r["clicks"], r["registrations"], r["ftds"],
         r["deposits"], r["deposit_sum"])
        for r in query_funnel(client, DB)
    ]


RETAGGED = [
    ("aff-1", "", 1, 1, 0, 0, Decimal(0)),
    ("aff-1", "EUR", 0, 0, 1, 1, Decimal("50")),
]


def test_a_late_attribution_moves_the_player_and_nothing_counts_twice(client) -> None:
    before, retag, replayed = stream_outputs()
    write_batch(client, DB, relevant(before))
    assert funnel(client) == [
        ("", "", 0, 1, 0, 0, Decimal(0)),
        ("", "EUR", 0, 0, 1, 1, Decimal("50")),
        ("aff-1", "", 1, 0, 0, 0, Decimal(0)),
    ]
    write_batch(client, DB, relevant(before + retag))  # the sink replays its last batch
    write_batch(client, DB, relevant(before + retag))
    assert funnel(client) == RETAGGED
    write_batch(client, DB, relevant(replayed))  # a restarted worker re-sends current facts
    write_batch(client, DB, relevant(before))  # ... and older versions, after the newer ones
    assert funnel(client) == RETAGGED
    stats = query_pipeline_stats(client, DB)
    assert stats["events_by_type"] == {"click": 1, "registration": 1, "deposit": 1}


def test_merges_change_no_sum(client) -> None:
    before, retag, _ = stream_outputs()
    write_batch(client, DB, relevant(before))
    write_batch(client, DB, relevant(retag))
    for table in ("fact_rows", "funnel_agg", "events"):
        client.command(f"OPTIMIZE TABLE {DB}.{table} FINAL")
    assert funnel(client) == RETAGGED
    # The collapsed facts hold the live rows only: the cancelled pairs are gone.
    assert client.query(f"SELECT count() FROM {DB}.fact_rows").result_rows[0][0] == 2


def test_the_start_repairs_a_view_a_crash_cut_off(client) -> None:
    before, retag, _ = stream_outputs()
    write_batch(client, DB, relevant(before))
    client.command(f"DETACH TABLE {DB}.funnel_facts_mv")  # the view's insert never happens
    write_batch(client, DB, relevant(retag))
    client.command(f"ATTACH TABLE {DB}.funnel_facts_mv")
    assert funnel(client) != RETAGGED
    assert repair_funnel(client, DB) > 0
    assert funnel(client) == RETAGGED
    assert repair_funnel(client, DB) == 0


def test_report_filters_by_brand_and_day(client) -> None:
    before, retag, _ = stream_outputs()
    write_batch(client, DB, relevant(before + retag))
    day = at(0).date()
    assert query_funnel(client, DB, brand_id="brand-b") == []
    assert query_funnel(client, DB, since=day + timedelta(days=1)) == []
    assert len(query_funnel(client, DB, brand_id="brand-a", since=day, until=day)) == 2


# --- the player's value (migration 004): every measure, GGR and NGR ---------------------------

DAY = at(0).date()


def valued(person: str, version: int, affiliate: str, currency: str = "EUR",
           seed: int = 1) -> PlayerDayFact:
    """A fact with a distinct non-zero value in every measure (wins below stakes)."""
    values: dict[str, Any] = {
        m.name: Decimal(f"{seed}{i}.{i:02d}05") if m.money else seed * 10 + i
        for i, m in enumerate(FACT_MEASURES, start=1)
    }
    values["stakes"] = Decimal(f"{seed}000.1234")
    return PlayerDayFact(
        person_id=f"brand-a:{person}", brand_id="brand-a", day=DAY, currency=currency,
        affiliate_id=affiliate, campaign_id="camp-1" if affiliate else "", version=version,
        **values,
    )


def measures_of(row: dict[str, Any]) -> dict[str, Any]:
    return {m.name: row[m.name] for m in FUNNEL_MEASURES}


def expected(*facts: PlayerDayFact) -> dict[str, Any]:
    total: dict[str, Any] = {m.name: zero(m) for m in FUNNEL_MEASURES}
    for f in facts:
        for m in FACT_MEASURES:
            total[m.name] += getattr(f, m.name)
    return total


def by_key(client) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["affiliate_id"], r["currency"]): measures_of(r) for r in query_funnel(client, DB)}


def test_every_measure_is_exact_after_a_retag_and_replays(client) -> None:
    first = valued("p1", 1, "")  # counted unattributed
    retagged = valued("p1", 2, "aff-1", seed=2)  # the late attribution, with more play since
    other = valued("p2", 1, "aff-1", currency="GBP", seed=3)
    write_batch(client, DB, [first])
    assert by_key(client) == {("", "EUR"): expected(first)}
    write_batch(client, DB, [first, retagged, other])
    write_batch(client, DB, [first, retagged, other])  # the sink replays its batch
    write_batch(client, DB, [retagged, other])  # a restarted worker re-sends the current facts
    write_batch(client, DB, [first])  # ... and an older version after the newer one
    want = {("aff-1", "EUR"): expected(retagged), ("aff-1", "GBP"): expected(other)}
    assert by_key(client) == want
    for table in ("fact_rows", "funnel_agg"):
        client.command(f"OPTIMIZE TABLE {DB}.{table} FINAL")
    assert by_key(client) == want  # SummingMergeTree sums the new columns when it merges
    assert repair_funnel(client, DB) == 0


def test_funnel_daily_shows_ggr_and_ngr(client) -> None:
    facts = [valued("p1", 1, "aff-1"), valued("p2", 1, "aff-1", seed=2),
             valued("p3", 1, "aff-2", currency="GBP", seed=3)]
    write_batch(client, DB, facts)
    rows = client.query(
        "SELECT affiliate_id, currency, sum(stakes), sum(wins), sum(bonus_cost), "
        f"sum(chargeback_sum), sum(ggr), sum(ngr) FROM {DB}.funnel_daily "
        "GROUP BY affiliate_id, currency ORDER BY affiliate_id, currency"
    ).result_rows
    assert [(r[0], r[1]) for r in rows] == [("aff-1", "EUR"), ("aff-2", "GBP")]
    for (_, _, stakes, wins, bonus, chargebacks, ggr, ngr), group in zip(
        rows, (facts[:2], facts[2:]), strict=True
    ):
        want = expected(*group)
        assert (stakes, wins, bonus, chargebacks) == (
            want["stakes"], want["wins"], want["bonus_cost"], want["chargeback_sum"]
        )
        assert ggr == derive("ggr", want) == want["stakes"] - want["wins"]
        assert ngr == derive("ngr", want) == ggr - want["bonus_cost"] - want["chargeback_sum"]


def test_the_start_repairs_every_measure_a_crash_cut_off(client) -> None:
    first, retagged = valued("p1", 1, ""), valued("p1", 2, "aff-1", seed=2)
    write_batch(client, DB, [first])
    client.command(f"DETACH TABLE {DB}.funnel_facts_mv")  # the view's insert never happens
    write_batch(client, DB, [retagged])
    client.command(f"ATTACH TABLE {DB}.funnel_facts_mv")
    assert by_key(client) == {("", "EUR"): expected(first)}
    assert repair_funnel(client, DB) == 2  # the cancel's group and the new row's
    assert by_key(client) == {("aff-1", "EUR"): expected(retagged)}
    assert repair_funnel(client, DB) == 0


def test_the_schema_has_a_column_per_measure(client) -> None:
    def described(table: str) -> dict[str, str]:
        return {str(r[0]): str(r[1]) for r in client.query(f"DESCRIBE TABLE {DB}.{table}").result_rows}

    facts, agg, daily = described("fact_rows"), described("funnel_agg"), described("funnel_daily")
    for m in FACT_MEASURES:
        assert facts[m.name] == ("Decimal(20, 4)" if m.money else "UInt32"), m.name
    for m in FUNNEL_MEASURES:
        assert agg[m.name] == ("Decimal(38, 4)" if m.money else "Int64"), m.name
        assert m.name in daily
    assert set(daily) == {"day", "brand_id", "affiliate_id", "campaign_id", "currency",
                          *(m.name for m in FUNNEL_MEASURES), *DERIVED}
    assert set(facts) == {"person_id", "brand_id", "day", "currency", "affiliate_id",
                          "campaign_id", "version", "sign", *(m.name for m in FACT_MEASURES),
                          "registered_at"}  # cohorts (007)


def test_an_upgraded_database_keeps_its_funnel_and_reads_zero_for_the_new_measures(
    client, tmp_path
) -> None:
    import shutil

    from clickpath.infra.clickhouse import shipped_migrations_dir

    db = "upgraded"
    old = tmp_path / "v3"
    old.mkdir()
    for path in sorted(shipped_migrations_dir().glob("00[123]_*.sql")):
        shutil.copy(path, old / path.name)
    assert apply_migrations(client, db, old) == ["001_funnel", "002_deliveries", "003_funnel_aggregates"]
    # What a version-3 sink wrote: a click, and a fact re-tagged once (cancel + new row).
    client.command(
        f"INSERT INTO {db}.events (event_id, event_type, occurred_at, processed_at, brand_id, "
        "source, person_id, affiliate_id, campaign_id, is_ftd, payload) VALUES "
        "('ev-1', 'click', '2026-11-01 12:00:00', '2026-11-01 12:00:00', 'brand-a', 'tracker', "
        "'brand-a:p1', 'aff-1', 'camp-1', false, '{}')"
    )
    client.command(
        f"INSERT INTO {db}.fact_rows (person_id, brand_id, day, currency, affiliate_id, "
        "campaign_id, registrations, ftds, deposits, deposit_sum, version, sign) VALUES "
        "('brand-a:p1', 'brand-a', '2026-11-01', 'EUR', '', '', 0, 1, 2, 70.5, 1, 1), "
        "('brand-a:p1', 'brand-a', '2026-11-01', 'EUR', '', '', 0, 1, 2, 70.5, 1, -1), "
        "('brand-a:p1', 'brand-a', '2026-11-01', 'EUR', 'aff-1', 'camp-1', 0, 1, 2, 70.5, 2, 1)"
    )
    assert apply_migrations(client, db)[:2] == ["004_player_value", "005_players"]  # and later
    assert apply_migrations(client, db) == []
    zeros = {m.name: zero(m) for m in FUNNEL_MEASURES}
    assert {(r["affiliate_id"], r["currency"]): measures_of(r) for r in query_funnel(client, db)} == {
        ("aff-1", ""): {**zeros, "clicks": 1},
        ("aff-1", "EUR"): {**zeros, "ftds": 1, "deposits": 2, "deposit_sum": Decimal("70.5")},
    }
    assert repair_funnel(client, db) == 0
    # The views count on: a v2 fact replaces the old row (its cancel has zeros in the new
    # columns), and a click still reaches funnel_agg through the unchanged clicks view.
    newer = valued("p1", 3, "aff-1").model_copy(update={"deposits": 3})
    write_batch(client, db, [newer])
    _, click_out, _ = decide_click(None, click("c9"), AttributionWindow(timedelta(days=30)), at(100))
    write_batch(client, db, relevant([o.record for o in click_out]))
    rows = {(r["affiliate_id"], r["currency"]): measures_of(r) for r in query_funnel(client, db)}
    assert rows == {("aff-1", ""): {**zeros, "clicks": 2}, ("aff-1", "EUR"): expected(newer)}
    assert repair_funnel(client, db) == 0
