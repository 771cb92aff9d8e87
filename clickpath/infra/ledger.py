"""The commission ledger read from ClickHouse: an affiliate's entries for a period, and the
period's statements, as of a time (docs/ledger.md).

Both read the `ledger_entries` view (deploy/clickhouse/009_commission_ledger.sql), which takes
each entry id's earliest copy, so a re-sent entry counts once, merged or not, and no read needs
FINAL. The statements are summed in SQL (exact Decimal sums per affiliate and currency, one
pass over the period) and shaped by the pure module (domain/commissions/statements.py), whose
columns they follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from clickpath.contracts.models import LedgerEntry
from clickpath.domain.commissions.statements import entry_json, statement_row

_FIELDS = tuple(LedgerEntry.model_fields)
_AS_OF = "recorded_at <= fromUnixTimestamp64Milli({as_of_ms:Int64}, 'UTC')"
_TIMES = ("occurred_at", "recorded_at", "registered_at")


def _ms(at: datetime) -> int:
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def query_ledger_entries(
    client: Client, db: str, *, affiliate_id: str, period: str, as_of: datetime
) -> list[dict[str, Any]]:
    """The affiliate's entries of `period` recorded up to `as_of`, each once, in the order they
    were recorded, as JSON values (statements.entry_json)."""
    rows: Sequence[Sequence[Any]] = client.query(
        f"SELECT {', '.join(_FIELDS)} FROM {db}.ledger_entries "
        f"WHERE affiliate_id = {{affiliate:String}} AND period = {{period:String}} AND {_AS_OF} "
        "ORDER BY recorded_at, entry_id",
        parameters={"affiliate": affiliate_id, "period": period, "as_of_ms": _ms(as_of)},
    ).result_rows
    entries = []
    for row in rows:
        values = dict(zip(_FIELDS, row, strict=True))
        for name in _TIMES:  # the driver hands DateTime64 back naive, in UTC
            if isinstance(values[name], datetime) and values[name].tzinfo is None:
                values[name] = values[name].replace(tzinfo=UTC)
        entries.append(entry_json(LedgerEntry(**values)))
    return entries


_STATEMENT_SQL = """
SELECT affiliate_id, currency,
       toInt64(countIf(component = 'cpa' AND kind = 'accrual' AND amount != 0))
         - toInt64(countIf(component = 'cpa' AND kind = 'clawback')) AS cpa_count,
       sumIf(amount, component = 'cpa' AND kind NOT IN ('clawback', 'carry_over')) AS cpa_amount,
       sumIf(amount, component = 'revshare' AND kind NOT IN ('clawback', 'carry_over'))
         AS revshare_amount,
       sumIf(amount, component = 'sub_affiliate' AND kind NOT IN ('clawback', 'carry_over'))
         AS sub_affiliate_amount,
       sumIf(amount, kind = 'clawback') AS clawback_amount,
       sumIf(amount, kind = 'carry_over') AS carry_over,
       sum(amount) AS total,
       count() AS entries
FROM {db}.ledger_entries
WHERE period = {{period:String}} AND {as_of}
GROUP BY affiliate_id, currency
ORDER BY affiliate_id, currency
"""


def query_statements(client: Client, db: str, *, period: str, as_of: datetime) -> list[dict[str, Any]]:
    """One statement row per affiliate and currency of `period` as of `as_of`, as JSON values
    (StatementRow.as_json); the total is the exact sum of the entries."""
    result = client.query(
        _STATEMENT_SQL.format(db=db, as_of=_AS_OF),
        parameters={"period": period, "as_of_ms": _ms(as_of)},
    )
    rows = []
    for raw in result.result_rows:
        sums = dict(zip(result.column_names, raw, strict=True))
        row = statement_row(sums["affiliate_id"], period, sums["currency"], sums, as_of)
        if row.total != sums["total"]:  # the columns split every entry: they cannot disagree
            raise RuntimeError(f"statement of {row.affiliate_id} {row.currency} does not add up")
        rows.append(row.as_json())
    return rows
