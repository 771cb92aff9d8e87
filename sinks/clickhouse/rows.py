"""Every row the ClickHouse sink writes, and its columns: plain functions, no client (tested on
their own). The writer (writer.py) only looks up what is stored and inserts what these build.

The funnel aggregates are kept by materialized views, which see every inserted row and never
a merge. So each fact version and each canonical event must reach ClickHouse once, whatever
the stream sent: a restarted stream worker re-sends a player's current facts and canonical
events (replay_outputs in clickpath.domain.players), a crashed sink replays its last batch,
and a worker that lost its state changelog may even re-send an older version after a newer
one. The sink therefore compares each record with what ClickHouse already holds (the live
fact row per key, the known event ids) and writes only what is new: a newer fact version as
the cancel of the live row plus the new row, an unseen event once.

Player profiles need no look-up: `players_agg` keeps, per person, the values of the highest
version (argMax states, deploy/clickhouse/005_players.sql), so a duplicate or an older version
changes nothing whenever it arrives. Of a batch only each person's newest profile is written.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from clickpath.contracts.models import (
    AffiliatePlayerStatus,
    Attribution,
    CanonicalEvent,
    CurrencyTotals,
    DeliveryAttempt,
    IdentityLink,
    LedgerEntry,
    MultiAccountSignal,
    PersonChange,
    PlayerDayFact,
    PlayerProfile,
    Record,
    TouchpointLink,
)
from clickpath.domain.measures import FACT_MEASURES
from clickpath.infra.clickhouse import StoredFact


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=Versioned)

EVENT_COLUMNS = [
    "event_id", "event_type", "occurred_at", "received_at", "processed_at", "brand_id", "source",
    "person_id", "player_id", "click_id", "affiliate_id", "campaign_id", "transaction_id",
    "amount", "currency", "is_ftd", "payload",
]
ATTRIBUTION_COLUMNS = [
    "person_id", "brand_id", "player_id", "click_id", "status", "reason", "affiliate_id",
    "campaign_id", "sub1", "sub2", "sub3", "sub4", "sub5", "clicked_at", "registered_at",
    "decided_at",
]
ATTEMPT_COLUMNS = [
    "job_id", "endpoint_id", "kind", "event", "affiliate_id", "brand_id", "attempt", "status",
    "latency_ms", "outcome", "error", "attempted_at",
]

LEDGER_COLUMNS = [
    "entry_id", "affiliate_id", "period", "kind", "component", "amount", "currency",
    "original_amount", "original_currency", "fx_rate", "plan_id", "plan_version", "player_token",
    "caused_by", "reason", "occurred_at", "recorded_at", "registered_at", "player_brand_id",
    "player_campaign_id",
]
"""Every LedgerEntry field, a `commission_ledger` column each (deploy/clickhouse/009, 010)."""


def ledger_rows(entries: Iterable[LedgerEntry]) -> list[list[Any]]:
    """The `commission_ledger` rows of a batch: each entry id once (the first). A re-sent
    entry from an earlier batch is written again; every read takes its earliest copy."""
    seen: set[str] = set()
    rows = []
    for e in entries:
        if e.entry_id not in seen:
            seen.add(e.entry_id)
            rows.append([getattr(e, c) for c in LEDGER_COLUMNS])
    return rows


STATUS_COLUMNS = [
    "affiliate_id", "player_token", "brand_id", "campaign_id", "registered_at", "status",
    "reasons", "cpa_amount", "currency", "qualified_at", "shares_data", "version", "updated_at",
]
"""Every AffiliatePlayerStatus field, an `affiliate_player_status` column each (deploy/clickhouse/012)."""


def highest_versions(records: Iterable[V], key: Callable[[V], Hashable]) -> list[V]:
    """Of each key's records in a batch, the highest `version` (the first of equal ones), in
    the order the keys first appear: a version sent again would write the same values again,
    and an older one after a newer nothing the reads keep."""
    newest: dict[Hashable, V] = {}
    for r in records:
        held = newest.get(key(r))
        if held is None or r.version > held.version:
            newest[key(r)] = r
    return list(newest.values())


def status_rows(statuses: Iterable[AffiliatePlayerStatus]) -> list[list[Any]]:
    """The `affiliate_player_status` rows of a batch: of each player only the highest version
    (reads take the highest)."""
    newest = highest_versions(statuses, lambda s: (s.affiliate_id, s.player_token))
    return [[getattr(s, c) for c in STATUS_COLUMNS] for s in newest]


def split_account(account: str) -> tuple[str, str]:
    """(brand_id, player_id) of a brand account `brand_id:player_id` (the brand ends at the first
    ':'); ('', account) for anything else."""
    brand, sep, player = account.partition(":")
    return (brand, player) if sep else ("", account)


LINK_COLUMNS = [
    "brand_id", "player_id", "account", "other_brand_id", "other_player_id", "other",
    "operator_id", "status", "score", "reasons", "version", "decided_at",
]
"""An `identity_links` row: every IdentityLink field, both accounts also split (deploy/clickhouse/013)."""
PERSON_CHANGE_COLUMNS = [
    "brand_id", "player_id", "account", "change_id", "operator_id", "kind", "person_id",
    "previous_person_id", "reason", "version", "changed_at",
]
"""An `identity_person_changes` row: every PersonChange field, the account also split (013)."""
SIGNAL_COLUMNS = [
    "brand_id", "signal_id", "kind", "accounts", "player_ids", "score", "reasons", "status",
    "version", "raised_at",
]
"""An `identity_signals` row: every MultiAccountSignal field, the accounts' player ids too (013)."""
IDENTITY_TOUCHPOINT_COLUMNS = [
    "brand_id", "player_id", "account", "click_id", "affiliate_id", "campaign_id", "clicked_at",
    "link", "registered_at",
]
"""An `identity_touchpoints` row: every TouchpointLink field, the account also split (013;
`registered_at` since 014)."""


def link_rows(links: Iterable[IdentityLink]) -> list[list[Any]]:
    """The `identity_links` rows of a batch: of each (account, other) only the highest version
    (a version sent again writes its same values again; the views take the highest)."""
    return [[*split_account(k.account), k.account, *split_account(k.other), k.other, k.operator_id,
             k.status, k.score, dict(k.reasons), k.version, k.decided_at]
            for k in highest_versions(links, lambda k: (k.account, k.other))]


def person_change_rows(changes: Iterable[PersonChange]) -> list[list[Any]]:
    """The `identity_person_changes` rows of a batch: each change id once (the log is append-only;
    one sent again in a later batch is kept once on merge, and the views group by it)."""
    seen: set[str] = set()
    rows = []
    for c in changes:
        if c.change_id not in seen:
            seen.add(c.change_id)
            rows.append([*split_account(c.account), c.account, c.change_id, c.operator_id, c.kind,
                         c.person_id, c.previous_person_id, c.reason, c.version, c.changed_at])
    return rows


def signal_rows(signals: Iterable[MultiAccountSignal]) -> list[list[Any]]:
    """The `identity_signals` rows of a batch: of each signal only the highest version."""
    return [[s.brand_id, s.signal_id, s.kind, list(s.accounts),
             [split_account(a)[1] for a in s.accounts], s.score, dict(s.reasons), s.status,
             s.version, s.raised_at]
            for s in highest_versions(signals, lambda s: (s.brand_id, s.signal_id))]


def identity_touchpoint_rows(links: Iterable[TouchpointLink]) -> list[list[Any]]:
    """The `identity_touchpoints` rows of a batch: each (account, click, link, registration
    time) once (the views take the account's earliest registration time)."""
    rows: dict[tuple[str, str, str, Any], list[Any]] = {}
    for t in links:
        rows.setdefault((t.account, t.click_id, t.link, t.registered_at), [
            t.brand_id, split_account(t.account)[1], t.account, t.click_id, t.affiliate_id,
            t.campaign_id, t.clicked_at, t.link, t.registered_at,
        ])
    return list(rows.values())


def event_row(e: CanonicalEvent) -> list[Any]:
    """An `events` row; an absent string is '' (the table's columns are not Nullable)."""
    return [
        e.event_id, e.event_type, e.occurred_at, e.received_at, e.processed_at, e.brand_id,
        e.source, e.person_id, e.player_id or "", e.click_id or "", e.affiliate_id or "",
        e.campaign_id or "", e.transaction_id or "", e.amount, e.currency or "", e.is_ftd,
        e.payload,
    ]


def attribution_row(a: Attribution) -> list[Any]:
    """An `attributions` row: an absent value is '', but an absent click time stays NULL."""
    return [
        "" if getattr(a, c) is None and c not in ("clicked_at",) else getattr(a, c)
        for c in ATTRIBUTION_COLUMNS
    ]


def attempt_row(a: DeliveryAttempt) -> list[Any]:
    """A `delivery_attempts` row (the delivery log)."""
    return [
        a.job_id, a.endpoint_id, a.kind, a.event, a.affiliate_id or "", a.brand_id or "",
        a.attempt, a.status, a.latency_ms, a.outcome, a.error or "", a.attempted_at,
    ]


FactKey = tuple[str, date, str]

FACT_ROW_COLUMNS = [
    "person_id", "brand_id", "day", "currency", "affiliate_id", "campaign_id",
    *(m.name for m in FACT_MEASURES), "registered_at", "version", "sign",
]
"""The columns of a fact row: its key and tag, every fact measure, the player's registration
time (cohorts, deploy/clickhouse/007_cohorts.sql), version and sign."""


def fact_key(fact: PlayerDayFact) -> FactKey:
    return (fact.person_id, fact.day, fact.currency)


def fact_measures(fact: PlayerDayFact) -> tuple[int | Decimal, ...]:
    """The fact's values of FACT_MEASURES, in their order."""
    return tuple(getattr(fact, m.name) for m in FACT_MEASURES)


def fact_rows(
    facts: Iterable[PlayerDayFact], stored: dict[FactKey, StoredFact]
) -> tuple[list[list[Any]], dict[FactKey, StoredFact]]:
    """The fact_rows to insert for `facts` (in stream order), and the live rows after them.

    A fact whose version is not newer than the live row of its key is a duplicate or stale and
    writes nothing; a newer one writes the cancel of the live row (sign -1, its own values and
    version, so the pair collapses) and itself (sign +1). `stored` is not changed.
    """
    live = dict(stored)
    rows: list[list[Any]] = []
    for f in facts:
        key = fact_key(f)
        old = live.get(key)
        if old is not None and f.version <= old.version:
            continue
        head = [f.person_id, f.brand_id, f.day, f.currency]
        if old is not None:
            rows.append([*head, old.affiliate_id, old.campaign_id, *old.measures,
                         old.registered_at, old.version, -1])
        new = StoredFact(
            f.version, f.affiliate_id, f.campaign_id, fact_measures(f), cohort_time(f.registered_at)
        )
        rows.append([*head, new.affiliate_id, new.campaign_id, *new.measures,
                     new.registered_at, new.version, 1])
        live[key] = new
    return rows, live


def new_events(events: Iterable[CanonicalEvent], known: set[str]) -> list[CanonicalEvent]:
    """The events whose id is neither already written nor earlier in the batch, in order."""
    seen = set(known)
    fresh = []
    for e in events:
        if e.event_id not in seen:
            seen.add(e.event_id)
            fresh.append(e)
    return fresh


MONEY_MEASURES = [name for name in CurrencyTotals.model_fields if name != "currency"]
"""The profile's money measures: a `Map(currency, amount)` column each in player_profile_rows."""

PROFILE_ROW_COLUMNS = [
    "person_id", "brand_id", "player_id", "registered_at", "kyc_status", "first_deposit_at",
    "ftd_amount", "ftd_currency", "deposits", "declined_deposits", "withdrawals", "chargebacks",
    *MONEY_MEASURES, "sessions", "last_activity_at", "first_activity_at", "activity_events",
    "consents", "rg_active", "tag_status",
    "affiliate_id", "campaign_id", "churn_risk", "updated_at", "version",
]
"""The columns of player_profile_rows: the profile's fields, its money as a map per measure."""
PROFILE_NOT_STORED = frozenset(
    {"click_id", "sub1", "sub2", "sub3", "sub4", "sub5", "postback_block"}
)
"""Profile fields (v2) carried for the commissions stage's qualified_cpa postback, not kept in
ClickHouse: attributions hold the click and sub ids, and the consent and RG state is there."""


def newest_profiles(profiles: Iterable[PlayerProfile]) -> list[PlayerProfile]:
    """Each person's highest version among `profiles` (the first of equal ones), in the order
    the persons first appear: the only profiles of a batch that can change `players`."""
    return highest_versions(profiles, lambda p: p.person_id)


def profile_row(p: PlayerProfile) -> list[Any]:
    """A player_profile_rows row; an absent string is '' (as in `events`), an absent time NULL."""
    money = [{t.currency: getattr(t, name) for t in p.money} for name in MONEY_MEASURES]
    return [
        p.person_id, p.brand_id, p.player_id, p.registered_at, p.kyc_status or "",
        p.first_deposit_at, p.ftd_amount, p.ftd_currency or "", p.deposits, p.declined_deposits,
        p.withdrawals, p.chargebacks, *money, p.sessions, p.last_activity_at,
        p.first_activity_at, p.activity_events, dict(p.consents),
        list(p.rg_active), p.tag_status, p.affiliate_id, p.campaign_id, p.churn_risk,
        p.updated_at, p.version,
    ]


def columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows turned into columns, the shape a column-oriented insert takes."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(c) for c in zip(*rows, strict=True)]


# ClickHouse's Date (the funnel's `day`, `toDate(occurred_at)` in its views) holds 1970-01-01 to
# 2149-06-06; a time outside it is refused by the driver, or worse, wraps to a wrong day.
DATE_MIN = date(1970, 1, 1)
DATE_MAX = date(2149, 6, 6)


# Cohorts bucket registrations with toDateTime (deploy/clickhouse/007_cohorts.sql), whose range
# ends on 2106-02-07.
COHORT_TIME_MAX = datetime(2106, 2, 7, tzinfo=UTC)


def cohort_time(registered_at: datetime | None) -> datetime | None:
    """A fact's registration time as cohorts can bucket it; None (no cohort) outside the range,
    so one absurd registration time keeps the player out of cohorts, not out of the funnel."""
    if registered_at is None:
        return None
    at = registered_at if registered_at.tzinfo else registered_at.replace(tzinfo=UTC)
    return at if datetime(1970, 1, 1, tzinfo=UTC) <= at < COHORT_TIME_MAX else None


def unwritable_reason(record: Record) -> str | None:
    """Why ClickHouse cannot hold `record` as it is (a date outside its Date range), or None."""
    when: dict[str, date | datetime | None] = {}
    if isinstance(record, CanonicalEvent):
        when = {"occurred_at": record.occurred_at, "processed_at": record.processed_at}
    elif isinstance(record, PlayerDayFact):
        # A registration time cohorts cannot bucket is written as none (cohort_time), not
        # refused: the player's funnel and money must not go with it.
        when = {"day": record.day}
    elif isinstance(record, Attribution):
        when = {"clicked_at": record.clicked_at, "registered_at": record.registered_at,
                "decided_at": record.decided_at}
    elif isinstance(record, DeliveryAttempt):
        when = {"attempted_at": record.attempted_at}
    elif isinstance(record, LedgerEntry):
        when = {"occurred_at": record.occurred_at, "recorded_at": record.recorded_at,
                "registered_at": record.registered_at}
    elif isinstance(record, AffiliatePlayerStatus):
        when = {"registered_at": record.registered_at, "qualified_at": record.qualified_at,
                "updated_at": record.updated_at}
    elif isinstance(record, IdentityLink):
        when = {"decided_at": record.decided_at}
    elif isinstance(record, PersonChange):
        when = {"changed_at": record.changed_at}
    elif isinstance(record, MultiAccountSignal):
        when = {"raised_at": record.raised_at}
    elif isinstance(record, TouchpointLink):
        when = {"clicked_at": record.clicked_at}
    elif isinstance(record, PlayerProfile):
        # DateTime64 holds more, but cohorts by registration day read toDate(registered_at).
        when = {"registered_at": record.registered_at, "first_deposit_at": record.first_deposit_at,
                "last_activity_at": record.last_activity_at, "updated_at": record.updated_at}
    for name, value in when.items():
        if value is None:
            continue
        day = value.astimezone(UTC).date() if isinstance(value, datetime) else value
        if not DATE_MIN <= day <= DATE_MAX:
            return f"{name} {value.isoformat()} is outside ClickHouse's Date range ({DATE_MIN} .. {DATE_MAX})"
    return None
