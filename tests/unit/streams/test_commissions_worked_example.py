"""docs/commissions.md's worked example, run: its plan and its steps through the four stages in
memory (the topology harness), each step's ledger entry and the statement as the page says."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from clickpath.contracts.models import Bonus, IngressEvent, Kyc, LedgerEntry, Wager
from clickpath.contracts.topics import Topic
from clickpath.devtools.topology import Topology, pipeline_stages
from clickpath.domain.commissions import CommissionPolicy
from clickpath.domain.commissions.statements import statements
from clickpath.domain.earnings import EarningsPolicy
from clickpath.domain.fx import FxTable
from clickpath.domain.plans import PlanBook, parse_plan
from tests.factories import at, click, deposit, registration

PAGE = Path(__file__).resolve().parents[3] / "docs" / "commissions.md"
P1 = {"brand_id": "brand-a", "player_id": "p1", "source": "crm"}
DAY = 24 * 60


def _section() -> str:
    text = PAGE.read_text()
    return text.split("## Worked example", 1)[1].split("\n## ", 1)[0]


def _plans() -> PlanBook:
    raw = tomllib.loads(re.search(r"```toml\n(.*?)```", _section(), re.S).group(1))  # type: ignore[union-attr]
    return PlanBook.build({pid: parse_plan(pid, table) for pid, table in raw["plans"].items()})


def _table() -> list[tuple[str, str, Decimal | None]]:
    """(step, "kind, component" or "", amount) of each row of the page's table."""
    rows = []
    for line in _section().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].isdigit():
            entry = ", ".join(cells[3].split(" (")[0].split(", ")[:2]) if cells[4] else ""
            rows.append((cells[0], entry, Decimal(cells[4]) if cells[4] else None))
    return rows


def _steps() -> dict[str, IngressEvent]:
    def wager(n: int, stake: str, win: str) -> Wager:
        return Wager(event_id=f"w{n}", occurred_at=at(DAY + 10 * n), wager_id=f"w{n}",
                     stake=Decimal(stake), win=Decimal(win), bonus_stake=Decimal(0), currency="EUR",
                     game_category="casino", **P1)

    return {
        "1": deposit("p1", "t1", "30.00", minutes=DAY + 5),
        "2": wager(2, "400.00", "100.00"),
        "3": Kyc(event_id="k1", occurred_at=at(DAY + 30), status="verified", **P1),
        "4": wager(4, "1000.00", "200.00"),
        "5": wager(5, "100.00", "0.00"),
        "6": Bonus(event_id="b1", occurred_at=at(DAY + 70), bonus_id="b1", action="converted",
                   amount=Decimal("200.00"), currency="EUR", **P1),
    }


def test_the_worked_example_gives_the_entries_and_statement_the_page_shows() -> None:
    book = _plans()
    top = Topology(pipeline_stages(
        earnings=EarningsPolicy(book=book, time_zone=ZoneInfo("UTC")),
        commissions=CommissionPolicy(plans=book, fx=FxTable("EUR", []), pseudonym_key=b"k" * 32),
    ))
    top.send_all([click("c1", affiliate="aff-1"), registration("p1", "c1", minutes=DAY)])
    steps = _steps()
    table = _table()
    assert [step for step, _, _ in table] == list(steps)
    seen = 0
    for step, entry, amount in table:
        top.advance(timedelta(minutes=1))
        top.send_all([steps[step]])
        ledger = [e for e in top.emitted(Topic.COMMISSION_LEDGER) if isinstance(e, LedgerEntry)]
        new, seen = ledger[seen:], len(ledger)
        got = [(f"{e.kind}, {e.component}", e.amount) for e in new]
        assert got == ([(entry, amount)] if amount is not None else []), f"step {step}"

    entries = [e for e in top.emitted(Topic.COMMISSION_LEDGER) if isinstance(e, LedgerEntry)]
    [row] = statements(entries, "2026-11", datetime(2027, 1, 1, tzinfo=UTC))
    page = _section()
    assert f"`cpa_count` {row.cpa_count}" in page
    for name in ("cpa_amount", "revshare_amount", "total"):
        assert f"`{name}` {getattr(row, name):.2f}" in page, name
    assert row.total == sum(e.amount for e in entries)
