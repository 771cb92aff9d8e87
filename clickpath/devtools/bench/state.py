"""`clickpath bench-state`: a long-lived player's state stays small and as cheap as a new one's.

Runs the player stage's per-event work outside Kafka, as the agent does it for a key: read the
stored state (JSON) and the ledger rows the event needs, decide, write the changed rows and the
state back as JSON. It builds a VIP with `--deposits` deposits (spread over two years), then
times deposits of that VIP against the first deposits of new players and the 11th deposits of
young ones (ten deposits), in alternating rounds (the median round counts). Ends with one
JSON line: state sizes, µs per event, and the ratios.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from clickpath.contracts.models import Deposit, Registration, Wager
from clickpath.devtools.bench.results import commit, machine, record_result
from clickpath.domain.ledger import StoredLedger, ledger_key
from clickpath.domain.players import PlayerPolicy, PlayerState, decide_player

START = datetime(2025, 1, 1, tzinfo=UTC)
POLICY = PlayerPolicy(recent_ids=256, pseudonym_key=b"bench")
TWO_YEARS_S = 2 * 365 * 24 * 3600


@dataclass(frozen=True)
class StateBenchConfig:
    deposits: int = 100_000
    wagers: int = 100_000
    events_per_round: int = 1_000
    rounds: int = 7
    results_file: Path | None = None


class StoredPlayers:
    """The agent's table for the player stage, as bytes: states and ledger rows."""

    def __init__(self) -> None:
        self.rows: dict[str, bytes] = {}

    def apply(self, person_id: str, record: Any, now: datetime) -> None:
        raw = self.rows.get(person_id)
        stored = json.loads(raw) if raw else None
        state = PlayerState.model_validate(stored["state"]) if stored else None
        ledger = StoredLedger(self._reader(person_id), state.version if state else 0)
        new, _, _ = decide_player(state, record, POLICY, now, ledger=ledger)
        for row, value in ledger.writes(new.version):
            self.rows[ledger_key(person_id, row)] = json.dumps(value).encode()
        self.rows[person_id] = json.dumps({"state": new.model_dump(mode="json")}).encode()

    def _reader(self, person_id: str) -> Any:
        def read(row: str) -> Any:
            raw = self.rows.get(ledger_key(person_id, row))
            return json.loads(raw) if raw else None

        return read


def _registration(player: str) -> Registration:
    return Registration(
        event_id=f"reg-{player}", occurred_at=START, brand_id="b1", source="bench",
        player_id=player, click_id=None,
    )


def _deposit(player: str, n: int, total: int) -> Deposit:
    at = START + timedelta(seconds=n * TWO_YEARS_S // max(total, 1))
    return Deposit(
        event_id=f"dep-{player}-{n}", occurred_at=at, brand_id="b1", source="bench",
        player_id=player, transaction_id=f"tx-{player}-{n}", amount=Decimal("25.00"),
        currency="EUR",
    )


def _wager(player: str, n: int, total: int) -> Wager:
    at = START + timedelta(seconds=n * TWO_YEARS_S // max(total, 1) + 1)
    return Wager(
        event_id=f"wag-{player}-{n}", occurred_at=at, brand_id="b1", source="bench",
        player_id=player, wager_id=f"w-{player}-{n}", stake=Decimal("2.00"),
        win=Decimal("1.50"), bonus_stake=Decimal("0"), currency="EUR", game_category="casino",
    )


def _timed(table: StoredPlayers, work: list[tuple[str, Any]], now: datetime) -> float:
    started = time.perf_counter()
    for person, record in work:
        table.apply(person, record, now)
    return (time.perf_counter() - started) / len(work) * 1e6


def run_state_bench(cfg: StateBenchConfig) -> dict[str, Any]:
    now = START + timedelta(days=800)
    table = StoredPlayers()
    vip = "vip"
    table.apply(f"b1:{vip}", _registration(vip), now)
    built = time.perf_counter()
    for n in range(max(cfg.deposits, cfg.wagers)):
        if n < cfg.deposits:
            table.apply(f"b1:{vip}", _deposit(vip, n, cfg.deposits), now)
        if n < cfg.wagers:
            table.apply(f"b1:{vip}", _wager(vip, n, cfg.wagers), now)
    build_s = time.perf_counter() - built

    vip_us, new_us, young_us = [], [], []
    extra = cfg.deposits
    for r in range(cfg.rounds):
        news = [f"new-{r}-{i}" for i in range(cfg.events_per_round)]
        youngs = [f"young-{r}-{i}" for i in range(cfg.events_per_round)]
        for player in news + youngs:
            table.apply(f"b1:{player}", _registration(player), now)
        for player in youngs:  # ten deposits each: young, but past their first
            for n in range(10):
                table.apply(f"b1:{player}", _deposit(player, n, 10), now)
        new_work = [(f"b1:{p}", _deposit(p, 0, 1)) for p in news]
        young_work = [(f"b1:{p}", _deposit(p, 10, 10)) for p in youngs]
        vip_work = [
            (f"b1:{vip}", _deposit(vip, extra + i, cfg.deposits)) for i in range(cfg.events_per_round)
        ]
        extra += cfg.events_per_round
        new_us.append(_timed(table, new_work, now))
        young_us.append(_timed(table, young_work, now))
        vip_us.append(_timed(table, vip_work, now))

    new_state = len(table.rows[f"b1:{news[0]}"])
    new, young, old = (round(statistics.median(us), 1) for us in (new_us, young_us, vip_us))
    result: dict[str, Any] = {
        "bench": "state", "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(), "machine": machine(),
        "vip_deposits": extra, "vip_wagers": cfg.wagers,
        "vip_state_bytes": len(table.rows[f"b1:{vip}"]),
        "new_state_bytes": new_state,
        "new_us_per_event": new, "young_us_per_event": young, "vip_us_per_event": old,
        "cost_ratio": round(old / new, 3), "cost_ratio_young": round(old / young, 3),
        "build_s": round(build_s, 1),
    }
    record_result(cfg.results_file, result)
    _print(result)
    return result


def _print(result: dict[str, Any]) -> None:
    rows = [
        ("deposits and wagers of the VIP", f"{result['vip_deposits']:,} and {result['vip_wagers']:,}"),
        ("VIP state (bytes)", f"{result['vip_state_bytes']:,}  (target < 65,536)"),
        ("new player's state (bytes)", f"{result['new_state_bytes']:,}"),
        ("µs per event, new player", f"{result['new_us_per_event']}"),
        ("µs per event, player with 10 deposits", f"{result['young_us_per_event']}"),
        ("µs per event, VIP", f"{result['vip_us_per_event']}"),
        ("VIP / new", f"{result['cost_ratio']}  (target ≤ 1.10)"),
        ("VIP / player with 10 deposits", f"{result['cost_ratio_young']}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    keys = ("vip_deposits", "vip_wagers", "vip_state_bytes", "new_state_bytes", "new_us_per_event",
            "young_us_per_event", "vip_us_per_event", "cost_ratio", "cost_ratio_young")
    print(json.dumps({k: result[k] for k in keys}))
