"""Close, adjust, pay and invoice with the CLI against `clickpath up`, as an operator runs them
(issue 24): a second close changes nothing, a late November deposit's CPA is paid in December,
and the close, the adjustment and the payment are all still there after a restart of `up`."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

from tests.integration.harness import processes_with, wait_until
from tests.integration.test_up_data_dir import (
    clickpath,
    every_role_running,
    healthy,
    post,
    start_up,
    stop_up,
    up_env,  # noqa: F401  (the fixture)
)

BRAND = "brand-a"
PLAN = {"cpa-c": {"versions": [{"effective_from": "2020-01-01", "currency": "EUR",
                                "cpa": {"amount": "30.00", "min_first_deposit": "20.00"}}],
                  "assign": [{"affiliate": "aff-c"}]}}
AFFILIATES = {"aff-c": {"name": "Closer", "legal_name": "Closer Media Ltd",
                        "address": "1 Harbour St", "country": "MT"}}


def player(n: int, day: int, amount: str) -> list[dict]:
    """A player of aff-c who clicks, registers and deposits on `day` of November 2026."""
    t = f"2026-11-{day:02d}T10:0"
    return [
        {"event_type": "click", "event_id": f"clk-{n}", "occurred_at": f"{t}0:00Z",
         "click_id": f"c-{n}", "affiliate_id": "aff-c", "campaign_id": "camp-c"},
        {"event_type": "registration", "event_id": f"reg-{n}", "occurred_at": f"{t}1:00Z",
         "player_id": f"p{n}", "click_id": f"c-{n}"},
        {"event_type": "deposit", "event_id": f"dep-{n}", "occurred_at": f"{t}2:00Z",
         "player_id": f"p{n}", "transaction_id": f"tx-{n}", "amount": amount, "currency": "EUR"},
    ]


def statement(env: dict[str, str], period: str) -> dict | None:
    result = clickpath("statements", "--period", period, "--format", "json", env=env)
    if result.returncode != 0:
        return None
    return next((r for r in json.loads(result.stdout) if r["affiliate_id"] == "aff-c"), None)


def test_close_adjust_pay_and_invoice_survive_a_restart_of_up(up_env, tmp_path) -> None:  # noqa: F811
    env = {**up_env, "CLICKPATH_PLANS": json.dumps(PLAN),
           "CLICKPATH_AFFILIATES": json.dumps(AFFILIATES),
           "CLICKPATH_VAT_RATES": json.dumps({"MT": "18"}),
           "CLICKPATH_INVOICE_OPERATOR_NAME": "Casino Op", "CLICKPATH_INVOICE_OPERATOR_ADDRESS": "Valletta"}
    base = f"http://127.0.0.1:{env['CLICKPATH_HTTP_PORT']}"
    secret = clickpath("keys", "create", "--role", "operator", "--brand", BRAND, env=env).stdout.strip()
    first = start_up(env)
    try:
        wait_until(lambda: every_role_running(env), 120, "`up` to run every role")
        wait_until(lambda: healthy(base), 60, "the service to answer")
        post(base, secret, player(1, 10, "50.00"))
        wait_until(lambda: (statement(env, "2026-11") or {}).get("total") == "30.00", 120,
                   "aff-c's November CPA in the statement")

        closed = clickpath("close", "--period", "2026-11", "--format", "json", env=env)
        assert closed.returncode == 0, closed.stderr
        [row] = [r for r in json.loads(closed.stdout)["rows"] if r["affiliate_id"] == "aff-c"]
        assert json.loads(closed.stdout)["webhooks"] == 1  # aff-c's statement_closed
        assert (row["status"], row["total"], row["invoice_number"]) == ("closed", "30.00", "CP-000001")
        again = clickpath("close", "--period", "2026-11", "--format", "json", env=env)
        assert again.returncode == 0 and json.loads(again.stdout)["closed"] is False, again.stdout
        assert json.loads(again.stdout)["webhooks"] == 0  # nothing published twice
        said = clickpath("close", "--period", "2026-11", env=env)
        assert "was already closed" in said.stdout, said.stdout
        early = clickpath("close", "--period", "2099-12", env=env)
        assert early.returncode == 1 and "has not ended" in early.stderr, early.stderr

        post(base, secret, player(2, 20, "40.00"))  # a late November player: paid in December
        wait_until(lambda: (statement(env, "2026-12") or {}).get("total") == "30.00", 120,
                   "the late CPA in December's statement")
        adjusted = clickpath("ledger", "adjust", "--affiliate", "aff-c", "--amount", "-5.00",
                             "--currency", "EUR", "--reason", "bonus abuse", "--period", "2026-12",
                             "--format", "json", env=env)
        assert adjusted.returncode == 0, adjusted.stderr
        assert json.loads(adjusted.stdout)[0]["reason"] == "bonus abuse"
        paid = clickpath("statements", "pay", "--period", "2026-11", "--affiliate", "aff-c",
                         "--reference", "W-77", "--format", "json", env=env)
        assert paid.returncode == 0, paid.stderr
        assert json.loads(paid.stdout)[0]["status"] == "paid"
        invoices = clickpath("statements", "invoice", "--period", "2026-11", "--affiliate", "aff-c",
                             "--format", "csv", "--output", str(tmp_path / "inv"), env=env)
        assert invoices.returncode == 0, invoices.stderr
        lines = list(csv.DictReader(io.StringIO((tmp_path / "inv" / "CP-000001.csv").read_text())))
        totals = {r["kind"]: Decimal(r["amount"]) for r in lines if r["kind"] in ("net", "vat", "gross")}
        assert totals == {"net": Decimal("30.00"), "vat": Decimal("5.40"), "gross": Decimal("35.40")}
    finally:
        output = stop_up(first)
    assert first.returncode == 0, output

    second = start_up(env)
    try:
        wait_until(lambda: every_role_running(env), 180, "the second `up` to run every role")
        november = wait_until(lambda: statement(env, "2026-11"), 120, "November after the restart")
        assert (november["status"], november["total"], november["payment_reference"],
                november["invoice_number"]) == ("paid", "30.00", "W-77", "CP-000001")
        december = wait_until(lambda: statement(env, "2026-12"), 60, "December after the restart")
        assert (december["total"], december["manual_amount"], december["status"]) == (
            "25.00", "-5.00", "open")
        again = clickpath("close", "--period", "2026-11", env=env)
        assert "was already closed" in again.stdout, again.stdout
    finally:
        output = stop_up(second)
    assert second.returncode == 0, output
    assert processes_with(env["CLICKPATH_DATA_DIR"]) == []
    assert Path(env["CLICKPATH_DATA_DIR"]).is_dir()
