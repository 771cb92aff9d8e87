"""The keys of a player's ledger rows, in one place (as contracts/topics.py is for topics).

A player's ledger (domain/ledger.py) holds the rows that grow with their history, each under a
key `<prefix>|<parts>` in the player's table partition. Every kind of row is listed here, with
what it holds and which module writes it, and every key is made by a function here: no other
module spells a prefix, so two kinds cannot collide and a reader can find who owns a row.

A stored row keeps its key for the player's life (rows written by an older version must still
be found), so a prefix is never changed or reused; a new kind of row takes a new letter.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum, unique


@unique
class RowKind(StrEnum):
    """The prefix of each kind of ledger row (the part of the key before the first `|`)."""

    # {"days": [day row keys]}: every day and currency the player has totals for, in the order
    # first written; read only when every fact must be sent again (a re-tag, a replay) and to
    # search the FTD candidates. Written by domain/day_value.py.
    DAY_INDEX = "I"
    # DayTotals (domain/day_value.py) of one day and currency: what a funnel fact is made of.
    # Written by domain/day_value.py (add_to_day).
    DAY = "D"
    # Payment (domain/payments.py) of one deposit or withdrawal: its status and where it counts;
    # the dedup of its transaction id, kept forever. Written by domain/money.py.
    PAYMENT = "T"
    # {"txns": [transaction ids]}: one chunk of a day's FTD candidates (every deposit approved
    # on that day). Written by domain/payments.py (remember_candidate).
    FTD_CANDIDATES = "A"
    # {"event_id"}: a chargeback counted once by its chargeback id. Written by domain/money.py.
    CHARGEBACK = "C"
    # {"event_id"}: a wager counted once by its wager id. Written by domain/money.py.
    WAGER = "W"
    # {"event_id"}: a bonus action (granted, converted...) counted once by bonus id and action.
    # Written by domain/money.py.
    BONUS = "B"
    # DepositReport (domain/players/deposits.py): what the affiliate was told of one deposit
    # (its FTD or deposit postback, its reversal: sent or suppressed), so each goes once.
    # Written by the player stage (domain/players/).
    DEPOSIT_REPORT = "P"
    # PeriodTotals (domain/earnings/values.py) of one commission period (a month in the
    # commission time zone) and currency. Written by the earnings stage (domain/earnings/).
    PERIOD = "M"
    # The evidence a CPA qualification is evaluated on (domain/earnings/evidence.py): `Q|d` the
    # deposits, `Q|w` the real-money wagers, with their event times. Written by the earnings
    # stage (domain/earnings/).
    EVIDENCE = "Q"


# The key of the one day-index row (it has no parts).
DAY_INDEX: str = RowKind.DAY_INDEX.value

_DAY = f"{RowKind.DAY.value}|"
_PAYMENT = f"{RowKind.PAYMENT.value}|"
_CANDIDATES = f"{RowKind.FTD_CANDIDATES.value}|"
_CHARGEBACK = f"{RowKind.CHARGEBACK.value}|"
_WAGER = f"{RowKind.WAGER.value}|"
_BONUS = f"{RowKind.BONUS.value}|"
_REPORT = f"{RowKind.DEPOSIT_REPORT.value}|"
_PERIOD = f"{RowKind.PERIOD.value}|"
_EVIDENCE = f"{RowKind.EVIDENCE.value}|"


def kind_of(row: str) -> RowKind:
    """The kind of a row key; ValueError for a key no module here makes."""
    return RowKind(row.split("|", 1)[0])


def day_row(day: date, currency: str) -> str:
    """The day's totals in `currency`: `D|<day>|<currency>`."""
    return f"{_DAY}{day.isoformat()}|{currency}"


def day_of_row(row: str) -> tuple[date, str]:
    """The (day, currency) of a `day_row` key (as listed in the day index)."""
    _, day_text, currency = row.split("|", 2)
    return date.fromisoformat(day_text), currency


def payment_row(kind: str, transaction_id: str) -> str:
    """A payment (`kind` "deposit" or "withdrawal"): `T|d|<id>` or `T|w|<id>`."""
    return f"{_PAYMENT}{kind[0]}|{transaction_id}"


def candidates_row(day: date, currency: str, chunk: int) -> str:
    """Chunk `chunk` of the day's FTD candidates: `A|<day>|<currency>|<chunk>`."""
    return f"{_CANDIDATES}{day.isoformat()}|{currency}|{chunk}"


def chargeback_row(chargeback_id: str) -> str:
    """A chargeback's natural key: `C|<chargeback id>`."""
    return f"{_CHARGEBACK}{chargeback_id}"


def wager_row(wager_id: str) -> str:
    """A wager's natural key: `W|<wager id>`."""
    return f"{_WAGER}{wager_id}"


def bonus_row(bonus_id: str, action: str) -> str:
    """A bonus action's natural key: `B|<bonus id>|<action>`."""
    return f"{_BONUS}{bonus_id}|{action}"


def deposit_report_row(transaction_id: str) -> str:
    """What was reported of a deposit: `P|<transaction id>`."""
    return f"{_REPORT}{transaction_id}"


def period_row(period: str, currency: str) -> str:
    """A commission period's totals in `currency`: `M|<YYYY-MM>|<currency>`."""
    return f"{_PERIOD}{period}|{currency}"


def evidence_row(kind: str) -> str:
    """The qualification evidence of one kind ("d" deposits, "w" wagers): `Q|<kind>`."""
    return f"{_EVIDENCE}{kind}"
