"""Closing periods, adjusting the ledger and paying statements, in ClickHouse
(deploy/clickhouse/011_commission_closes.sql; the decisions are domain/commissions/close.py).

Everything an operator does is a row of `commission_actions` (who, what, when) beside its
effect: a close's set of entries (`statement_close_entries`), frozen rows (`statement_closes`)
and marker (`period_closes`, written last: what a close without one wrote counts for nothing,
and the next close decides afresh), an adjustment's ledger entry, a payment
(`statement_payments`). All of it lives in ClickHouse,
the store the statements are read from, so it survives a restart of `clickpath up` with them.
With embedded ClickHouse these run in the ClickHouse sink's process (the only one that may
open the engine), one at a time under `OPERATIONS_LOCK`.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from clickhouse_connect.driver.client import Client

from clickpath.contracts.models import LedgerEntry
from clickpath.domain.commissions.close import (
    ClosedRow,
    CloseRefused,
    adjustment_entry,
    check_adjustment,
    clean_reason,
    close_problem,
    decide_close,
    first_open_period,
    pay_chain,
    payment_problem,
    status_now,
)
from clickpath.domain.commissions.invoices import invoice_number
from clickpath.domain.commissions.statements import AMOUNT_COLUMNS, STATUS_OPEN, StatementRow, statement_row
from clickpath.domain.plans.periods import period_of
from clickpath.infra.affiliate_players import affiliates_on_hold

OPERATIONS_LOCK = threading.Lock()  # one close, adjustment or payment at a time in a process
LEDGER_FIELDS = tuple(LedgerEntry.model_fields)
_SUMMED = tuple(c for c in AMOUNT_COLUMNS if c != "total")


@dataclass(frozen=True)
class Close:
    period: str
    close_id: str
    closed_at: datetime
    actor: str
    requested_by: str


@dataclass(frozen=True)
class Actor:
    """Who acts: the API key's id, and the person the caller names (the CLI: the OS user)."""

    key_id: str
    requested_by: str = ""


def as_utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _ms(at: datetime) -> int:
    return int(as_utc(at).timestamp() * 1000)


def read_closes(client: Client, db: str) -> dict[str, Close]:
    """The periods closed, each with its (first) close."""
    rows = client.query(
        f"SELECT period, argMin(close_id, closed_at), min(closed_at), argMin(actor, closed_at), "
        f"argMin(requested_by, closed_at) FROM {db}.period_closes GROUP BY period"
    ).result_rows
    return {p: Close(p, cid, as_utc(at), actor, by) for p, cid, at, actor, by in rows}


def pays_clause(db: str, period: str, closes: Mapping[str, Close]) -> tuple[str, dict[str, Any]]:
    """The entries `period` pays. A closed period: the entries its close took in
    (`statement_close_entries`). An open one: every entry of the periods of its chain (its own
    and the closed ones just before it, domain/commissions/close.py pay_chain) that no close
    took in. A roll-over entry counts only once its close completed (a close that stopped half
    way wrote entries that count for nothing)."""
    done = sorted(c.close_id for c in closes.values())
    counted = "(kind != 'roll_over' OR has({done:Array(String)}, caused_by[1]))"
    own = closes.get(period)
    if own is not None:
        return (f"{counted} AND (affiliate_id, entry_id) IN (SELECT affiliate_id, entry_id "
                f"FROM {db}.statement_close_entries WHERE close_id = {{own_close:String}})",
                {"done": done, "own_close": own.close_id})
    chain = pay_chain(period, set(closes))
    return (f"{counted} AND has({{chain:Array(String)}}, period) AND (affiliate_id, entry_id) "
            f"NOT IN (SELECT affiliate_id, entry_id FROM {db}.statement_close_entries "
            f"WHERE has({{done:Array(String)}}, close_id) AND has({{chain:Array(String)}}, period))",
            {"done": done, "chain": chain})


_SUMS_SQL = """
SELECT affiliate_id, currency,
       toInt64(countIf(component = 'cpa' AND kind = 'accrual' AND amount != 0))
         - toInt64(countIf(component = 'cpa' AND kind = 'clawback')) AS cpa_count,
       sumIf(amount, component = 'cpa' AND kind NOT IN ('clawback', 'carry_over', 'roll_over'))
         AS cpa_amount,
       sumIf(amount, component = 'revshare' AND kind NOT IN ('clawback', 'carry_over', 'roll_over'))
         AS revshare_amount,
       sumIf(amount, component = 'sub_affiliate' AND kind NOT IN ('clawback', 'carry_over', 'roll_over'))
         AS sub_affiliate_amount,
       sumIf(amount, kind = 'clawback') AS clawback_amount,
       sumIf(amount, kind = 'carry_over') AS carry_over,
       sumIf(amount, component = 'manual' AND kind NOT IN ('clawback', 'carry_over', 'roll_over'))
         AS manual_amount,
       sumIf(amount, kind = 'roll_over') AS roll_over,
       sum(amount) AS total,
       count() AS entries
FROM {db}.ledger_entries
WHERE {pays} AND {as_of}
GROUP BY affiliate_id, currency
ORDER BY affiliate_id, currency
"""
_AS_OF = "recorded_at <= fromUnixTimestamp64Milli({as_of_ms:Int64}, 'UTC')"


def open_sums(
    client: Client, db: str, period: str, closes: Mapping[str, Close], as_of: datetime | None,
    affiliate_id: str | None = None,
) -> list[StatementRow]:
    """The rows `period` pays (`as_of`: only the entries recorded by then; None: all), of
    `affiliate_id` only when given."""
    pays, params = pays_clause(db, period, closes)
    if affiliate_id is not None:
        pays += " AND affiliate_id = {only_affiliate:String}"
        params["only_affiliate"] = affiliate_id
    result = client.query(
        _SUMS_SQL.format(db=db, pays=pays, as_of="1" if as_of is None else _AS_OF),
        parameters={**params, "as_of_ms": _ms(as_of or datetime.now(UTC))})
    rows = []
    for raw in result.result_rows:
        sums = dict(zip(result.column_names, raw, strict=True))
        row = statement_row(sums["affiliate_id"], period, sums["currency"], sums,
                            as_of or datetime.now(UTC))
        if row.total != sums["total"]:  # the columns split every entry: they cannot disagree
            raise RuntimeError(f"statement of {row.affiliate_id} {row.currency} does not add up")
        rows.append(row)
    return rows


def closed_rows(
    client: Client, db: str, close: Close, holds: frozenset[str],
) -> list[StatementRow]:
    """A closed period's frozen rows, with their status now (paid, on hold...)."""
    columns = ", ".join(f"c.{n} AS {n}" for n in (
        "affiliate_id", "currency", "cpa_count", *_SUMMED, "total", "entries", "status",
        "invoice_number"))
    result = client.query(
        f"SELECT {columns}, p.ref AS paid_reference, p.first_paid AS paid_at, "
        f"p.by AS paid_by FROM {db}.statement_closes AS c "
        f"LEFT JOIN (SELECT affiliate_id, currency, argMin(reference, paid_at) AS ref, "
        f"min(paid_at) AS first_paid, argMin(actor, paid_at) AS by FROM {db}.statement_payments "
        f"WHERE period = {{period:String}} GROUP BY affiliate_id, currency) AS p "
        f"ON c.affiliate_id = p.affiliate_id AND c.currency = p.currency "
        f"WHERE c.close_id = {{close_id:String}} ORDER BY affiliate_id, currency",
        parameters={"period": close.period, "close_id": close.close_id},
        settings={"join_use_nulls": 1},
    )
    rows = []
    for raw in result.result_rows:
        r = dict(zip(result.column_names, raw, strict=True))
        paid = r["paid_reference"]
        row = statement_row(r["affiliate_id"], close.period, r["currency"], r, close.closed_at,
                            status_now(r["status"], paid is not None, r["affiliate_id"] in holds))
        rows.append(row.model_copy(update={
            "invoice_number": r["invoice_number"],
            "closed_at": close.closed_at, "closed_by": close.actor,
            "payment_reference": paid,
            "paid_at": None if paid is None else as_utc(r["paid_at"]),
            "paid_by": None if paid is None else r["paid_by"],
        }))
    return rows


def statements(
    client: Client, db: str, *, period: str, as_of: datetime, holds: frozenset[str] = frozenset(),
) -> list[StatementRow]:
    """The period's rows: frozen and with their status if it is closed, else as of `as_of`."""
    closes = read_closes(client, db)
    if period in closes:
        return closed_rows(client, db, closes[period], holds)
    return open_sums(client, db, period, closes, as_of)


def ch_now(client: Client) -> datetime:
    """The ClickHouse clock: the one `written_at` is stamped with."""
    return as_utc(client.query("SELECT now64(3)").result_rows[0][0])


def _ledger_rows(entries: Sequence[LedgerEntry], written_at: datetime) -> list[list[Any]]:
    return [[getattr(e, f) for f in LEDGER_FIELDS] + [written_at] for e in entries]


def _insert_entries(client: Client, db: str, entries: Sequence[LedgerEntry], at: datetime) -> None:
    if entries:
        client.insert(f"{db}.commission_ledger", _ledger_rows(entries, at),
                      column_names=[*LEDGER_FIELDS, "written_at"])


def _action(
    client: Client, db: str, kind: str, actor: Actor, at: datetime, *, period: str = "",
    affiliate_id: str = "", currency: str = "", amount: Decimal | None = None,
    reference: str = "", reason: str = "", detail: Mapping[str, Any] | None = None,
    action_id: str | None = None,
) -> str:
    action_id = action_id or uuid.uuid4().hex
    client.insert(f"{db}.commission_actions", [[
        action_id, kind, period, affiliate_id, currency, amount, reference, reason, actor.key_id,
        actor.requested_by, at, orjson.dumps(detail or {}, default=str).decode(),
    ]], column_names=["action_id", "kind", "period", "affiliate_id", "currency", "amount",
                      "reference", "reason", "actor", "requested_by", "at", "detail"])
    return action_id


def _next_seq(client: Client, db: str, closes: Mapping[str, Close]) -> int:
    ids = [c.close_id for c in closes.values()]
    if not ids:
        return 1
    top = client.query(
        f"SELECT max(invoice_seq) FROM {db}.statement_closes WHERE close_id IN {{ids:Array(String)}}",
        parameters={"ids": ids},
    ).result_rows[0][0]
    return int(top or 0) + 1


def close_period(
    client: Client, db: str, *, period: str, actor: Actor, zone: ZoneInfo,
    min_payouts: Callable[[str], Decimal | None], holds: frozenset[str] = frozenset(),
    invoice_prefix: str = "CP",
) -> tuple[list[StatementRow], bool]:
    """Close `period` (module docstring): its rows and whether this call closed it (False:
    it was closed already, and nothing changed). Invoice numbers are `invoice_prefix`-NNNNNN,
    kept as given, so a later change of the prefix does not renumber a closed invoice."""
    with OPERATIONS_LOCK:
        closes = read_closes(client, db)
        if period in closes:
            return closed_rows(client, db, closes[period], holds), False
        now = ch_now(client)
        problem = close_problem(period, now, zone)
        if problem is not None:
            raise CloseRefused(problem)
        close_id = f"close-{period}-{uuid.uuid4().hex[:12]}"
        # What the close takes in is fixed first, inside ClickHouse: an entry arriving meanwhile
        # is either in the set (and summed) or not (and paid in the next open period).
        pays, params = pays_clause(db, period, closes)
        client.command(
            f"INSERT INTO {db}.statement_close_entries (close_id, period, affiliate_id, entry_id) "
            f"SELECT {{close_id:String}}, period, affiliate_id, entry_id FROM {db}.ledger_entries "
            f"WHERE {pays}", parameters={**params, "close_id": close_id})
        taken = Close(period, close_id, now, actor.key_id, actor.requested_by)
        sums = open_sums(client, db, period, {**closes, period: taken}, None)
        frozen: Sequence[ClosedRow]
        frozen, entries = decide_close(
            sums, {r.affiliate_id: min_payouts(r.affiliate_id) for r in sums},
            _next_seq(client, db, closes), close_id, now,
        )
        if entries:  # the roll-outs belong to the closed period's set, the roll-ins to the next
            client.insert(f"{db}.statement_close_entries",
                          [[close_id, e.period, e.affiliate_id, e.entry_id]
                           for e in entries if e.period == period],
                          column_names=["close_id", "period", "affiliate_id", "entry_id"])
        _insert_entries(client, db, entries, now)
        if frozen:
            client.insert(f"{db}.statement_closes", [
                [close_id, period, c.row.affiliate_id, c.row.currency, c.row.cpa_count,
                 *(getattr(c.row, n) for n in _SUMMED), c.row.total, c.row.entries, c.status,
                 c.invoice_seq,
                 None if c.invoice_seq is None else invoice_number(invoice_prefix, c.invoice_seq),
                 c.rolled_over] for c in frozen
            ], column_names=["close_id", "period", "affiliate_id", "currency", "cpa_count",
                             *_SUMMED, "total", "entries", "status", "invoice_seq",
                             "invoice_number", "rolled_over"])
        _action(client, db, "close", actor, now, period=period, detail={
            "close_id": close_id, "rows": len(frozen),
            "rolled_over": [[c.row.affiliate_id, c.row.currency, str(c.rolled_over)]
                            for c in frozen if c.rolled_over],
        })
        client.insert(f"{db}.period_closes",
                      [[period, close_id, now, actor.key_id, actor.requested_by, len(frozen)]],
                      column_names=["period", "close_id", "closed_at", "actor", "requested_by", "rows"])
        winner = read_closes(client, db)[period]  # two at once: the first close counts
        return closed_rows(client, db, winner, holds), winner.close_id == close_id


def adjust(
    client: Client, db: str, *, affiliate_id: str, amount: Decimal, currency: str, reason: str,
    actor: Actor, zone: ZoneInfo, period: str | None = None,
) -> LedgerEntry:
    """An operator's adjustment entry for the affiliate, in `period` (default the open period
    of today in the commission zone); a closed period is refused with the one to use."""
    text = clean_reason(reason)
    check_adjustment(affiliate_id, amount, currency)
    with OPERATIONS_LOCK:
        closes = read_closes(client, db)
        now = ch_now(client)
        target = period or first_open_period(period_of(now, zone), closes)
        if target in closes:
            raise CloseRefused(f"period {target} is closed; adjust {first_open_period(target, closes)}"
                               " (the next open period) instead")
        action_id = uuid.uuid4().hex
        entry = adjustment_entry(action_id, affiliate_id, target, amount, currency, text, now)
        _insert_entries(client, db, [entry], now)
        _action(client, db, "adjust", actor, now, period=target, affiliate_id=affiliate_id,
                currency=currency, amount=amount, reason=text, action_id=action_id,
                detail={"entry_id": entry.entry_id})
        return entry


def pay(
    client: Client, db: str, *, period: str, affiliate_id: str, reference: str, actor: Actor,
    holds: frozenset[str] = frozenset(),
) -> list[StatementRow]:
    """Mark the affiliate's closed rows of `period` paid with `reference` (a second call with the
    same reference changes nothing); CloseRefused says why a row cannot be paid."""
    ref = " ".join(reference.split())
    if not ref or len(ref) > 200:
        raise CloseRefused("reference: the payment's reference, 1 to 200 characters", 422)
    with OPERATIONS_LOCK:
        closes = read_closes(client, db)
        if period not in closes:
            raise CloseRefused(f"period {period} is {STATUS_OPEN}: close it before paying")
        rows = [r for r in closed_rows(client, db, closes[period], holds) if r.affiliate_id == affiliate_id]
        if not rows:
            raise CloseRefused(f"affiliate {affiliate_id!r} has no statement in {period}", 404)
        problems = {r.currency: payment_problem(r.status, r.total, r.payment_reference, ref)
                    for r in rows}
        payable = [r for r in rows if problems[r.currency] is None]
        if not payable:
            raise CloseRefused("; ".join(f"{affiliate_id} {period} {c}: {p}" for c, p in problems.items()))
        todo = [r for r in payable if r.payment_reference is None]
        if todo:
            now = ch_now(client)
            for r in todo:
                action_id = _action(client, db, "pay", actor, now, period=period,
                                    affiliate_id=affiliate_id, currency=r.currency,
                                    amount=r.total, reference=ref)
                client.insert(f"{db}.statement_payments", [[
                    period, affiliate_id, r.currency, r.total, ref, action_id, actor.key_id,
                    actor.requested_by, now,
                ]], column_names=["period", "affiliate_id", "currency", "amount", "reference",
                                  "action_id", "actor", "requested_by", "paid_at"])
        return [r for r in closed_rows(client, db, closes[period], holds) if r.affiliate_id == affiliate_id]


def held_affiliates(client: Client, db: str) -> frozenset[str]:
    """The affiliates a fraud hold applies to now (a player whose newest status has reason
    `fraud_hold`, infra/affiliate_players.py): their closed rows read `on_hold`, unpaid."""
    return frozenset(affiliates_on_hold(client, db))
