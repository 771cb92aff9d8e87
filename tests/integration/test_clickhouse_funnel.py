"""The funnel in real ClickHouse (embedded chdb, the shipped DDL and views), read without FINAL:
exact when a late attribution re-tags a player, when a batch is written twice (a sink that
crashed before committing its offsets), when a restarted stream worker re-sends facts (even an
older version after a newer one), and when a crash lands between a table and its view.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from clickpath.contracts.models import Attribution, CanonicalEvent, PlayerDayFact, Record
from clickpath.domain.clicks import decide_click
from clickpath.domain.players import PlayerPolicy, decide_player, replay_outputs
from clickpath.infra.clickhouse import (
    apply_migrations,
    query_funnel,
    query_pipeline_stats,
    repair_funnel,
)
from clickpath.settings import Settings
from clickpath.sinks.clickhouse_sink import write_batch
from tests.factories import at, click, deposit, registration

POLICY = PlayerPolicy(recent_ids=64, pseudonym_key=b"k")
NOW = at(1000)
DB = "clickpath"


@pytest.fixture
def client(tmp_path):
    from clickpath.infra.clickhouse import connect

    c = connect(Settings(clickhouse_url=f"chdb://{tmp_path / 'ch'}", clickhouse_database=DB))
    apply_migrations(c, DB)
    yield c
    c.close()


def stream_outputs() -> tuple[list[Record], list[Record], list[Record]]:
    """What the stream emits for: a click, a registration and a deposit of the player who made
    it, all before the attribution (so counted unattributed), then the late attribution that
    re-tags the player. Returned as (before the attribution, the attribution's, replayed)."""
    _, click_out, _ = decide_click(None, click("c1"), timedelta(days=30), at(100))
    reg, dep = registration("p1", "c1"), deposit("p1", "t1", "50")
    state, reg_out, _ = decide_player(None, reg, POLICY, NOW)
    state, dep_out, _ = decide_player(state, dep, POLICY, NOW)
    decision = Attribution(
        person_id=reg.person_id, brand_id="brand-a", player_id="p1", click_id="c1",
        status="attributed", affiliate_id="aff-1", campaign_id="camp-1",
        registered_at=reg.occurred_at, decided_at=at(5),
    )
    state, tag_out, _ = decide_player(state, decision, POLICY, NOW)
    before = [o.record for o in click_out + reg_out + dep_out]
    retag = [o.record for o in tag_out]
    replayed = [o.record for o in replay_outputs(state, dep, POLICY, NOW)]
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
