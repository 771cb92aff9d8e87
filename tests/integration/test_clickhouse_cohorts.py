"""Registration cohorts in real ClickHouse (embedded chdb, the shipped DDL and views), the facts
made by the player stage and written through the sink's own write path, read without FINAL:
LTV windows at their edges (day 29, 30, 31), a registration at 23:59 UTC on a month's last day
in UTC and in brand zones east and west (and +5:45), weeks from Monday, a late attribution that
moves a player's value to the affiliate exactly, duplicates and replays that change nothing, a
registration that arrives after the deposits, retention by 30-day period, CPA-to-LTV, and an
upgraded database whose facts gain their registration time from `players`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from clickpath.contracts.models import (
    Attribution,
    CurrencyTotals,
    Deposit,
    LedgerEntry,
    PlayerDayFact,
    PlayerEvent,
    PlayerProfile,
    Record,
    Registration,
    Wager,
)
from clickpath.domain.cohorts import cohort_start
from clickpath.domain.ledger import MemoryLedger
from clickpath.domain.players import PlayerPolicy, PlayerState, decide_player, replay_outputs
from clickpath.infra.clickhouse import apply_migrations, shipped_migrations_dir
from clickpath.infra.cohorts import query_cohorts, query_retention
from clickpath.sinks.clickhouse.writer import write_batch

DB = "clickpath"
POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
NOW = datetime(2026, 11, 1, tzinfo=UTC)
T = datetime(2026, 1, 31, 23, 59, tzinfo=UTC)  # a month's last day, one minute to midnight UTC
ZONES = {"east": "Europe/Berlin", "west": "America/New_York", "nepal": "Asia/Kathmandu"}


def reg(player: str, when: datetime, brand: str = "utc", click: str | None = None) -> Registration:
    return Registration(
        event_id=f"reg-{brand}-{player}",
        occurred_at=when,
        brand_id=brand,
        source="crm",
        player_id=player,
        click_id=click,
    )


def dep(player: str, txn: str, amount: str, when: datetime, brand: str = "utc") -> Deposit:
    return Deposit(
        event_id=f"dep-{brand}-{txn}",
        occurred_at=when,
        brand_id=brand,
        source="psp",
        player_id=player,
        transaction_id=txn,
        amount=Decimal(amount),
        currency="EUR",
    )


def wager(player: str, wid: str, stake: str, win: str, when: datetime, brand: str = "utc") -> Wager:
    return Wager(
        event_id=f"w-{brand}-{wid}",
        occurred_at=when,
        brand_id=brand,
        source="game",
        player_id=player,
        wager_id=wid,
        stake=Decimal(stake),
        win=Decimal(win),
        bonus_stake=Decimal(0),
        currency="EUR",
        game_category="casino",
    )


def attribution(player: str, when: datetime, affiliate: str, brand: str = "utc") -> Attribution:
    return Attribution(
        person_id=f"{brand}:{player}",
        brand_id=brand,
        player_id=player,
        click_id=f"c-{player}",
        status="attributed",
        affiliate_id=affiliate,
        campaign_id="camp",
        registered_at=when,
        decided_at=when,
    )


class Stream:
    """The player stage, record by record, as the worker runs it; what it sends, facts only."""

    def __init__(self) -> None:
        self.states: dict[str, PlayerState] = {}
        self.ledgers: dict[str, MemoryLedger] = {}

    def send(self, *records: PlayerEvent | Attribution) -> list[Record]:
        sent: list[Record] = []
        for r in records:
            key = f"{r.brand_id}:{r.player_id}"
            ledger = self.ledgers.setdefault(key, MemoryLedger())
            self.states[key], outputs, _ = decide_player(
                self.states.get(key), r, POLICY, NOW, ledger=ledger)
            sent += [o.record for o in outputs if isinstance(o.record, PlayerDayFact)]
        return sent

    def replay(self, record: PlayerEvent | Attribution) -> list[Record]:
        key = f"{record.brand_id}:{record.player_id}"
        state, ledger = self.states[key], self.ledgers[key]
        return [
            o.record
            for o in replay_outputs(state, record, POLICY, NOW, ledger=ledger)
            if isinstance(o.record, PlayerDayFact)
        ]


def cpa_entry(entry_id: str, amount: str, kind: str = "accrual", **changes: Any) -> LedgerEntry:
    """A CPA entry of aff-1 about the player registered at T, as the commission stage writes."""
    fields: dict[str, Any] = dict(
        entry_id=entry_id, affiliate_id="aff-1", period="2026-02", kind=kind, component="cpa",
        amount=Decimal(amount), currency="EUR", original_amount=Decimal(amount),
        original_currency="EUR", fx_rate=Decimal(1), plan_id="cpa-35", plan_version=1,
        player_token="tok", caused_by=["dep-utc-t1"], occurred_at=T + timedelta(days=3),
        recorded_at=NOW, registered_at=T, player_brand_id="utc", player_campaign_id="camp",
    )
    return LedgerEntry(**{**fields, **changes})


def cohorts(client, grain: str = "month", **kw: Any) -> list[dict[str, Any]]:  # noqa: F811
    args: dict[str, Any] = dict(brand_id=None, grain=grain, time_zones=ZONES, since=None, until=None)
    return query_cohorts(client, DB, **{**args, **kw})


def brief(rows: list[dict[str, Any]], *names: str) -> list[tuple]:
    return [tuple(r[n] for n in names) for r in rows]


def test_ltv_windows_at_day_29_30_and_31(client) -> None:  # noqa: F811
    stream = Stream()
    day = timedelta(days=1)
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    facts = stream.send(
        reg("p1", start),
        dep("p1", "t0", "1", start),
        dep("p1", "t29", "10", start + 29 * day + timedelta(hours=13, minutes=59)),  # 23:59
        dep("p1", "t30", "100", start + 30 * day - timedelta(hours=10)),  # 00:00 of day 30
        dep("p1", "t31", "1000", start + 31 * day),
        wager("p1", "w29", "50", "20", start + 29 * day),  # NGR 30 on day 29
        wager("p1", "w30", "500", "200", start + 30 * day),  # NGR 300 on day 30
        dep("p1", "t89", "7", start + 89 * day),
        dep("p1", "t90", "70", start + 90 * day),
        dep("p1", "t364", "3", start + 364 * day),
        dep("p1", "t365", "30", start + 365 * day),
    )
    write_batch(client, DB, facts)
    [row] = cohorts(client)
    assert brief([row], "cohort", "currency", "players", "ftds") == [("2026-03-01", "EUR", 1, 1)]
    assert (row["deposits_30"], row["deposits_90"], row["deposits_365"]) == ("11.00", "1118.00", "1191.00")
    assert (row["ngr_30"], row["ngr_90"], row["ngr_365"]) == ("30.00", "330.00", "330.00")
    # The documented view agrees (UTC cohorts, rolled up by month).
    assert client.query(
        f"SELECT sum(players), sum(deposit_sum_30), sum(deposit_sum_90), sum(deposit_sum_365), "
        f"sum(ngr_30), sum(ngr) FROM {DB}.cohort_ltv GROUP BY cohort_month"
    ).result_rows == [(1, Decimal("11"), Decimal("1118"), Decimal("1191"), Decimal("30"), Decimal("330"))]


def test_a_registration_at_2359_utc_on_a_months_last_day_in_each_brands_zone(client) -> None:  # noqa: F811
    stream = Stream()
    facts: list[Record] = []
    for brand in ("utc", "east", "west", "nepal"):
        facts += stream.send(reg("p1", T, brand), dep("p1", "t1", "5", T, brand))
    # Kathmandu is UTC+5:45: 18:14 UTC is 23:59 there, 18:15 UTC midnight of the next day.
    facts += stream.send(
        reg("p2", T.replace(hour=18, minute=14), "nepal"), reg("p3", T.replace(hour=18, minute=15), "nepal")
    )
    write_batch(client, DB, facts)
    months = brief(cohorts(client), "brand_id", "cohort", "players")
    assert sorted(months) == [
        ("east", "2026-02-01", 1),  # 00:59 on 1 February in Berlin
        ("nepal", "2026-01-01", 1),  # p2
        ("nepal", "2026-02-01", 2),  # p1 (05:44 on 1 February) and p3
        ("utc", "2026-01-01", 1),
        ("west", "2026-01-01", 1),  # 18:59 on 31 January in New York
    ]
    for brand, cohort, _ in months:
        if brand != "nepal":
            assert cohort == cohort_start(T, "month", ZONES.get(brand, "UTC")).isoformat()
    # Without the zones every brand is in UTC; one brand alone is read in its own zone.
    assert {r["cohort"] for r in cohorts(client, time_zones={})} == {"2026-01-01"}
    assert brief(cohorts(client, brand_id="east"), "cohort") == [("2026-02-01",)]
    # 31 January 2026 is a Saturday: its ISO week starts on Monday 26 January everywhere here.
    assert {r["cohort"] for r in cohorts(client, grain="week")} == {"2026-01-26"}


def test_weeks_start_on_monday_and_a_sunday_2359_registration_moves_east(client) -> None:  # noqa: F811
    sunday = datetime(2026, 2, 1, 23, 59, tzinfo=UTC)
    stream = Stream()
    write_batch(
        client,
        DB,
        stream.send(reg("p1", sunday), reg("p1", sunday, "east"), reg("p2", sunday + timedelta(minutes=1))),
    )
    assert sorted(brief(cohorts(client, grain="week"), "brand_id", "cohort", "players")) == [
        ("east", "2026-02-02", 1),
        ("utc", "2026-01-26", 1),
        ("utc", "2026-02-02", 1),
    ]
    assert date.fromisoformat("2026-02-02").isoweekday() == 1
    only = cohorts(client, grain="week", since=date(2026, 2, 2), until=date(2026, 2, 8))
    assert brief(only, "brand_id", "cohort") == [("east", "2026-02-02"), ("utc", "2026-02-02")]


def test_a_late_attribution_moves_the_players_value_to_the_affiliate_exactly(client) -> None:  # noqa: F811
    stream = Stream()
    first = stream.send(
        reg("p1", T, click="c-p1"),
        dep("p1", "t1", "40", T + timedelta(days=3)),
        wager("p1", "w1", "100", "30", T + timedelta(days=4)),
    )
    write_batch(client, DB, first)
    figures = ("affiliate_id", "players", "deposits_30", "ngr_30", "cpa_accrued", "cpa_to_ltv_365")
    assert brief(cohorts(client), *figures) == [("", 1, "40.00", "70.00", None, None)]
    retag = stream.send(attribution("p1", T, "aff-1"))
    write_batch(client, DB, retag)
    assert brief(cohorts(client), *figures) == [("aff-1", 1, "40.00", "70.00", None, None)]
    # The CPA the commission stage accrued on the player (written twice: counted once).
    write_batch(client, DB, [cpa_entry("e-1", "35.00"), cpa_entry("e-1", "35.00")])
    moved = [("aff-1", 1, "40.00", "70.00", "35.00 EUR", "0.5000")]  # CPA 35 / NGR 70
    assert brief(cohorts(client), *figures) == moved
    retention = query_retention(
        client, DB, brand_id=None, grain="month", time_zones={}, periods=2, since=None, until=None
    )
    assert brief(retention, "affiliate_id", "players", "active", "retention") == [
        ("aff-1", 1, [1, 0], [1.0, 0.0])
    ]
    # Duplicates and replays change nothing, merged or not.
    write_batch(client, DB, first + retag)
    write_batch(client, DB, stream.replay(attribution("p1", T, "aff-1")))
    write_batch(client, DB, first)  # older versions after the newer ones
    write_batch(client, DB, [cpa_entry("e-1", "35.00", recorded_at=NOW + timedelta(hours=1))])
    assert brief(cohorts(client), *figures) == moved
    for table in ("fact_rows", "cohort_agg", "cohort_activity", "commission_ledger"):
        client.command(f"OPTIMIZE TABLE {DB}.{table} FINAL")
    assert brief(cohorts(client), *figures) == moved
    # Other entries of aff-1 stay out: a RevShare, a CPA about another cohort, another brand.
    write_batch(client, DB, [
        cpa_entry("e-2", "9.00", component="revshare", player_token=None, registered_at=None,
                  player_brand_id=None, player_campaign_id=None),
        cpa_entry("e-3", "50.00", registered_at=T + timedelta(days=40)),
        cpa_entry("e-4", "50.00", player_brand_id="east"),
    ])
    assert brief(cohorts(client, brand_id="utc"), *figures) == moved
    # A chargeback claws the CPA back: nothing accrued, no ratio.
    write_batch(client, DB, [cpa_entry("e-5", "-35.00", kind="clawback")])
    assert brief(cohorts(client, brand_id="utc", until=date(2026, 1, 31)), *figures) == [
        ("aff-1", 1, "40.00", "70.00", None, None)
    ]
    assert (
        query_retention(
            client, DB, brand_id=None, grain="month", time_zones={}, periods=2, since=None, until=None
        )
        == retention
    )
    assert client.query(f"SELECT count() FROM {DB}.cohort_activity").result_rows == [(1,)]


def test_a_registration_after_the_deposits_dates_them_all(client) -> None:  # noqa: F811
    stream = Stream()
    write_batch(
        client,
        DB,
        stream.send(
            dep("p1", "t1", "20", T + timedelta(days=2)), dep("p1", "t2", "25", T + timedelta(days=40))
        ),
    )
    assert cohorts(client) == []  # no registration known: out of the cohorts for now
    write_batch(client, DB, stream.send(reg("p1", T, click="c-p1")))  # the tag stays unknown
    assert brief(cohorts(client), "cohort", "players", "ftds", "deposits_30", "deposits_90") == [
        ("2026-01-01", 1, 1, "20.00", "45.00")
    ]


def test_retention_counts_each_player_once_per_30_day_period(client) -> None:  # noqa: F811
    stream = Stream()
    day = timedelta(days=1)
    facts = stream.send(
        reg("p1", T),
        dep("p1", "a", "5", T),
        dep("p1", "b", "5", T + day),  # period 0, twice
        wager("p1", "w", "10", "0", T + 30 * day),  # period 1 (day 30)
        reg("p2", T),
        dep("p2", "c", "5", T + 29 * day),  # period 0 (day 29)
        dep("p2", "d", "5", T + 95 * day),  # period 3
        reg("p3", T),  # never active
    )
    write_batch(client, DB, facts)
    [row] = query_retention(
        client, DB, brand_id=None, grain="month", time_zones={}, periods=4, since=None, until=None
    )
    assert (row["cohort"], row["players"], row["active"]) == ("2026-01-01", 3, [2, 1, 0, 1])
    assert row["retention"] == [0.6667, 0.3333, 0.0, 0.3333]
    assert client.query(
        f"SELECT period, sum(active) FROM {DB}.cohort_retention GROUP BY period ORDER BY period"
    ).result_rows == [(0, 2), (1, 1), (3, 1)]


def test_an_upgraded_database_dates_its_facts_from_players(client, tmp_path) -> None:  # noqa: F811
    import shutil

    db = "upgraded"
    old = tmp_path / "v5"
    old.mkdir()
    for path in sorted(shipped_migrations_dir().glob("00[12345]_*.sql")):
        shutil.copy(path, old / path.name)
    apply_migrations(client, db, old)
    stream = Stream()
    facts = stream.send(reg("p1", T), dep("p1", "t1", "40", T + timedelta(days=1)))
    live = {}
    for f in facts:
        assert isinstance(f, PlayerDayFact)
        live[(f.day, f.currency)] = f
    columns = [
        "person_id",
        "brand_id",
        "day",
        "currency",
        "affiliate_id",
        "campaign_id",
        "registrations",
        "ftds",
        "deposits",
        "deposit_sum",
        "version",
        "sign",
    ]
    client.insert(
        f"{db}.fact_rows",
        [[getattr(f, c) for c in columns[:-1]] + [1] for f in live.values()],
        column_names=columns,
    )
    state = stream.states["utc:p1"]
    write_batch(
        client,
        db,
        [
            PlayerProfile(
                person_id="utc:p1",
                brand_id="utc",
                player_id="p1",
                registered_at=T,
                deposits=1,
                declined_deposits=0,
                withdrawals=0,
                chargebacks=0,
                sessions=0,
                consents={},
                rg_active=[],
                tag_status="unattributed",
                affiliate_id="",
                campaign_id="",
                churn_risk=0.0,
                updated_at=NOW,
                version=state.version,
                money=[
                    CurrencyTotals(
                        currency="EUR",
                        deposit_sum=Decimal(40),
                        withdrawal_sum=Decimal(0),
                        chargeback_sum=Decimal(0),
                        stakes=Decimal(0),
                        wins=Decimal(0),
                        bonus_stakes=Decimal(0),
                        bonus_cost=Decimal(0),
                        ggr=Decimal(0),
                        ngr=Decimal(0),
                    )
                ],
            )
        ],
    )
    applied = apply_migrations(client, db)
    newest = sorted(p.stem for p in shipped_migrations_dir().glob("[0-9]*.sql"))[-1]
    assert "007_cohorts" in applied and applied[-1] == newest  # after 006, then any later one
    read = query_cohorts(
        client, db, brand_id=None, grain="month", time_zones={}, since=None, until=None
    )
    assert brief(read, "cohort", "players", "deposits_30") == [("2026-01-01", 1, "40.00")]
    # The next version's cancel repeats the backfilled time: still exact.
    write_batch(client, db, stream.send(dep("p1", "t2", "2", T + timedelta(days=1))))
    read = query_cohorts(
        client, db, brand_id=None, grain="month", time_zones={}, since=None, until=None
    )
    assert brief(read, "cohort", "players", "deposits_30") == [("2026-01-01", 1, "42.00")]


def test_the_start_repairs_the_cohorts_a_crash_cut_off(client) -> None:  # noqa: F811
    from clickpath.infra.cohorts import repair_cohorts

    stream = Stream()
    before = stream.send(reg("p1", T, click="c-p1"), dep("p1", "t1", "40", T))
    write_batch(client, DB, before)
    expected = query_retention(
        client, DB, brand_id=None, grain="month", time_zones={}, periods=2, since=None, until=None
    )
    assert repair_cohorts(client, DB) == 0
    for view in ("cohort_facts_mv", "cohort_activity_mv"):  # the views' inserts never happen
        client.command(f"DETACH TABLE {DB}.{view}")
    retag = stream.send(attribution("p1", T, "aff-1"))
    write_batch(client, DB, retag)
    for view in ("cohort_facts_mv", "cohort_activity_mv"):
        client.command(f"ATTACH TABLE {DB}.{view}")
    assert brief(cohorts(client), "affiliate_id") == [("",)]  # still the old tag
    assert repair_cohorts(client, DB) > 0
    assert brief(cohorts(client), "affiliate_id", "players", "deposits_30") == [("aff-1", 1, "40.00")]
    assert [
        r["active"]
        for r in query_retention(
            client, DB, brand_id=None, grain="month", time_zones={}, periods=2, since=None, until=None
        )
    ] == [r["active"] for r in expected]
    assert repair_cohorts(client, DB) == 0
