"""What the report shows, folded from the topics the ClickHouse sink reads, for harness tests.

The sink keeps each player's newest fact per day and currency (argMax by version,
deploy/clickhouse/005_players.sql) and counts a click once per event id; the funnel sums them by
affiliate, campaign and currency (clickpath.domain.measures). The broker tests read the same
figures back from ClickHouse.
"""

from __future__ import annotations

from decimal import Decimal

from clickpath.contracts.models import CanonicalEvent, PlayerDayFact, Postback
from clickpath.contracts.topics import Topic
from clickpath.devtools.topology import Topology
from clickpath.domain.measures import FACT_MEASURES, FUNNEL_MEASURES, derive, zero

Group = tuple[str, str, str]  # affiliate, campaign, currency


def newest_facts(top: Topology) -> dict[tuple[str, object, str], PlayerDayFact]:
    newest: dict[tuple[str, object, str], PlayerDayFact] = {}
    for fact in top.emitted(Topic.PLAYER_DAY_FACTS):
        assert isinstance(fact, PlayerDayFact)
        key = (fact.person_id, fact.day, fact.currency)
        if key not in newest or fact.version > newest[key].version:
            newest[key] = fact
    return newest


def measures(top: Topology) -> dict[Group, dict[str, int | Decimal]]:
    """Every funnel measure per (affiliate, campaign, currency); groups all zero left out."""
    groups: dict[Group, dict[str, int | Decimal]] = {}

    def group(key: Group) -> dict[str, int | Decimal]:
        return groups.setdefault(key, {m.name: zero(m) for m in FUNNEL_MEASURES})

    clicks = {e.event_id: e for e in top.emitted(Topic.CANONICAL)
              if isinstance(e, CanonicalEvent) and e.event_type == "click"}
    for e in clicks.values():
        group((e.affiliate_id or "", e.campaign_id or "", ""))["clicks"] += 1
    for fact in newest_facts(top).values():
        row = group((fact.affiliate_id, fact.campaign_id, fact.currency))
        for m in FACT_MEASURES:
            row[m.name] += getattr(fact, m.name)
    return {k: v for k, v in groups.items() if any(v.values())}


def funnel(top: Topology) -> dict[Group, tuple[int | Decimal, ...]]:
    """(clicks, registrations, ftds, deposits, deposit_sum) per group, as
    tests/integration/test_end_to_end.py reads them from the report."""
    names = ("clicks", "registrations", "ftds", "deposits", "deposit_sum")
    return {k: tuple(v[n] for n in names) for k, v in measures(top).items()}


def ngr(row: dict[str, int | Decimal]) -> Decimal:
    return derive("ngr", {k: Decimal(v) for k, v in row.items()})


def postbacks(top: Topology) -> list[Postback]:
    return [p for p in top.emitted(Topic.POSTBACKS) if isinstance(p, Postback)]
