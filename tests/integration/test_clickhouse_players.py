"""The players in real ClickHouse (embedded chdb, the shipped DDL and views), read without FINAL:
the `players` view shows each person's highest profile version whatever order the versions
are written in, duplicates and replays change nothing, merged or not, a newer profile may clear
a time, and money per currency reads right in `players` (maps) and `players_money` (rows).
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from clickpath.contracts.models import CurrencyTotals, PlayerProfile
from clickpath.infra.clickhouse import apply_migrations
from clickpath.sinks.clickhouse.rows import MONEY_MEASURES, PROFILE_NOT_STORED, PROFILE_ROW_COLUMNS
from clickpath.sinks.clickhouse.writer import write_batch

DB = "clickpath"
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def money(currency: str, stakes: str, wins: str, bonus_cost: str = "0",
          chargebacks: str = "0", deposits: str = "0") -> CurrencyTotals:
    ggr = Decimal(stakes) - Decimal(wins)
    return CurrencyTotals(
        currency=currency, deposit_sum=Decimal(deposits), withdrawal_sum=Decimal("0"),
        chargeback_sum=Decimal(chargebacks), stakes=Decimal(stakes), wins=Decimal(wins),
        bonus_stakes=Decimal("0"), bonus_cost=Decimal(bonus_cost), ggr=ggr,
        ngr=ggr - Decimal(bonus_cost) - Decimal(chargebacks),
    )


def profile(player: str, version: int, **changes: Any) -> PlayerProfile:
    """Version `version` of a player: every count and time moves with the version."""
    fields: dict[str, Any] = dict(
        person_id=f"brand-a:{player}", brand_id="brand-a", player_id=player,
        registered_at=NOW, kyc_status="verified" if version > 1 else "pending",
        first_deposit_at=NOW + timedelta(minutes=1), ftd_amount=Decimal("20.0001"),
        ftd_currency="EUR", deposits=version, declined_deposits=version // 2, withdrawals=0,
        chargebacks=0, money=[money("EUR", f"{version}00.1234", f"{version}0.5", "1.25")],
        sessions=version * 2, last_activity_at=NOW + timedelta(hours=version),
        consents={"marketing": version % 2 == 1}, rg_active=["deposit_limit"] * (version % 2),
        tag_status="attributed", affiliate_id="aff-1", campaign_id="camp-1",
        churn_risk=1 / (version + 1), updated_at=NOW + timedelta(hours=version), version=version,
    )
    return PlayerProfile(**{**fields, **changes})


def players(client, where: str = "1") -> dict[str, dict[str, Any]]:
    """The view's rows, without `churn_risk_now` (it moves with the clock: tested on its own)."""
    result = client.query(f"SELECT * EXCEPT churn_risk_now FROM {DB}.players WHERE {where} "
                          "ORDER BY person_id")
    return {r[0]: dict(zip(result.column_names, r, strict=True)) for r in result.result_rows}


def as_row(p: PlayerProfile) -> dict[str, Any]:
    """What `players` should show for `p`: its fields (but those kept for the commissions
    stage's postback only), money as {currency: amount} per measure, times as the driver reads
    DateTime64(3, 'UTC') (naive, in UTC)."""
    row = {k: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) else v
           for k, v in p.model_dump(exclude={"money", *PROFILE_NOT_STORED}).items()}
    row.update({k: "" for k in ("kyc_status", "ftd_currency") if row[k] is None})
    row.update({name: {t.currency: getattr(t, name) for t in p.money} for name in MONEY_MEASURES})
    return row


def test_the_players_view_shows_the_highest_version_whatever_the_insert_order(client) -> None:
    versions = [profile("p1", v) for v in (1, 2, 3, 4)]
    for order in itertools.permutations(versions):
        client.command(f"TRUNCATE TABLE {DB}.players_agg")
        for p in order:  # each version in its own batch: the worst case for the merge
            write_batch(client, DB, [p])
        assert players(client) == {"brand-a:p1": as_row(versions[-1])}, [p.version for p in order]


def test_duplicates_and_replays_change_nothing_merged_or_not(client) -> None:
    p1 = [profile("p1", v) for v in range(1, 6)]
    p2 = [profile("p2", v, affiliate_id="aff-2", money=[money("GBP", "10", "4")])
          for v in range(1, 4)]
    write_batch(client, DB, p1[:3] + p2)
    write_batch(client, DB, p1[:3] + p2)  # the sink replays its batch
    write_batch(client, DB, p1[3:])
    write_batch(client, DB, [p1[-1], p2[-1]])  # a restarted worker re-sends the current ones
    write_batch(client, DB, p1[:2] + p2[:1])  # ... and older versions after the newer ones
    want = {"brand-a:p1": as_row(p1[-1]), "brand-a:p2": as_row(p2[-1])}
    assert players(client) == want
    rng = random.Random(14)
    shuffled = [p for p in p1 + p2 for _ in range(3)]
    rng.shuffle(shuffled)
    for i in range(0, len(shuffled), 4):  # every version again, three times, in random batches
        write_batch(client, DB, shuffled[i:i + 4])
    assert players(client) == want
    client.command(f"OPTIMIZE TABLE {DB}.players_agg FINAL")
    assert players(client) == want
    assert client.query(f"SELECT count() FROM {DB}.players_agg").result_rows[0][0] == 2


def test_a_newer_profile_clears_a_time_and_an_amount(client) -> None:
    """argMax skips NULLs; the states hold them in a tuple, so a cleared FTD reads NULL."""
    ftd = profile("p1", 1)
    refunded = profile("p1", 2, first_deposit_at=None, ftd_amount=None, ftd_currency=None,
                       kyc_status=None)
    write_batch(client, DB, [refunded])
    write_batch(client, DB, [ftd])  # older, later
    [row] = players(client).values()
    assert (row["first_deposit_at"], row["ftd_amount"], row["ftd_currency"], row["kyc_status"]) == (
        None, None, "", ""
    )
    assert row == as_row(refunded)


def test_money_per_currency_reads_right(client) -> None:
    write_batch(client, DB, [
        profile("p1", 1, money=[money("EUR", "100", "60", "5", "10", deposits="50")]),
        profile("p1", 2, money=[money("EUR", "250.5", "120.25", "10.1", "20", deposits="80"),
                                money("BTC", "0.0125", "0.0100", deposits="0.05")]),
        profile("p2", 1, money=[money("EUR", "40", "50", deposits="40")]),  # the house lost
        profile("p3", 1, affiliate_id="aff-2", money=[money("GBP", "9", "1")]),
    ])
    rows = client.query(
        f"SELECT person_id, currency, deposit_sum, stakes, wins, bonus_cost, chargeback_sum, "
        f"ggr, ngr FROM {DB}.players_money ORDER BY person_id, currency"
    ).result_rows
    assert rows == [
        ("brand-a:p1", "BTC", Decimal("0.05"), Decimal("0.0125"), Decimal("0.01"), 0, 0,
         Decimal("0.0025"), Decimal("0.0025")),
        ("brand-a:p1", "EUR", 80, Decimal("250.5"), Decimal("120.25"), Decimal("10.1"), 20,
         Decimal("130.25"), Decimal("100.15")),
        ("brand-a:p2", "EUR", 40, 40, 50, 0, 0, -10, -10),
        ("brand-a:p3", "GBP", 0, 9, 1, 0, 0, 8, 8),
    ]
    [(ngr,)] = client.query(
        f"SELECT sum(ngr) FROM {DB}.players_money WHERE currency = 'EUR' AND affiliate_id = 'aff-1'"
    ).result_rows
    assert ngr == Decimal("90.15")
    # The documented query: an affiliate's players with their NGR and churn risk.
    assert client.query(
        f"SELECT person_id, ngr['EUR'], churn_risk FROM {DB}.players "
        "WHERE affiliate_id = 'aff-1' ORDER BY churn_risk DESC, person_id"
    ).result_rows == [("brand-a:p2", -10, 0.5), ("brand-a:p1", Decimal("100.15"), 1 / 3)]


def test_the_schema_has_a_column_per_profile_field(client) -> None:
    def described(table: str) -> dict[str, str]:
        return {str(r[0]): str(r[1]) for r in client.query(f"DESCRIBE TABLE {DB}.{table}").result_rows}

    rows, agg, view = (described(t) for t in ("player_profile_rows", "players_agg", "players"))
    assert list(rows) == list(agg) == PROFILE_ROW_COLUMNS
    assert [c for c in view if c != "churn_risk_now"] == PROFILE_ROW_COLUMNS
    assert view["churn_risk_now"] == "Float64"
    assert set(PROFILE_ROW_COLUMNS) == (
        set(PlayerProfile.model_fields) - {"money", *PROFILE_NOT_STORED} | set(MONEY_MEASURES))
    for name in MONEY_MEASURES:
        assert view[name] == "Map(String, Decimal(20, 4))", name
    for name in ("registered_at", "first_deposit_at", "last_activity_at"):
        assert view[name] == "Nullable(DateTime64(3, 'UTC'))", name
    assert (view["updated_at"], view["version"]) == ("DateTime64(3, 'UTC')", "UInt64")
    assert list(described("players_money")) == [
        "person_id", "brand_id", "affiliate_id", "campaign_id", "currency", *MONEY_MEASURES
    ]


def test_an_upgraded_database_gains_the_players(client, tmp_path) -> None:
    import shutil

    from clickpath.infra.clickhouse import shipped_migrations_dir

    db = "upgraded"
    old = tmp_path / "v4"
    old.mkdir()
    for path in sorted(shipped_migrations_dir().glob("00[1234]_*.sql")):
        shutil.copy(path, old / path.name)
    assert len(apply_migrations(client, db, old)) == 4
    assert apply_migrations(client, db)[:1] == ["005_players"]  # and later ones
    assert apply_migrations(client, db) == []
    write_batch(client, db, [profile("p1", 2), profile("p1", 1)])
    assert client.query(f"SELECT person_id, version FROM {db}.players").result_rows == [
        ("brand-a:p1", 2)
    ]


def test_churn_risk_is_computed_again_at_every_read_from_the_players_rhythm(client) -> None:
    """Active daily for 30 days, then gone: at the read, the risk follows the time since."""
    now = datetime.now(UTC)
    for away_days, expected in ((0, 0.0), (3, 0.63), (9, 0.95)):
        last = now - timedelta(days=away_days)
        p = profile(f"away{away_days}", 1, first_activity_at=last - timedelta(days=30),
                    last_activity_at=last, activity_events=31, churn_risk=0.0)
        write_batch(client, DB, [p])
        [risk] = client.query(
            f"SELECT churn_risk_now FROM {DB}.players WHERE person_id = {{p:String}}",
            parameters={"p": p.person_id},
        ).result_rows[0]
        assert abs(risk - expected) < 0.01, (away_days, risk)
