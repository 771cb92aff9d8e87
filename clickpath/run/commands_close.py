"""`clickpath close`, `clickpath ledger adjust` and `clickpath statements pay`: the operator's
commission actions (docs/commissions.md#close-and-pay).

With embedded ClickHouse they ask the running service's admin API with this host's CLI key
(commands_data._from_service), so the running pipeline does them and records that key; against
a ClickHouse server they run here, and record themselves in the audit trail (as `cli:<os
user>`; through the service, the service records them). Either way the OS user is recorded as
`requested_by`.
"""

from __future__ import annotations

import argparse
import getpass
import json
from decimal import Decimal, InvalidOperation
from typing import Any

from clickpath.domain.commissions.statements import render_statements
from clickpath.run.commands_data import _answer, _from_service
from clickpath.run.errors import CommandError
from clickpath.run.recording import record, trail_for
from clickpath.settings import Settings

CLI_ACTOR = "local-cli"  # the actor recorded when the CLI writes to a ClickHouse server itself


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return ""


def _service(settings: Settings, path: str, body: dict[str, Any]) -> Any:
    response = _from_service(settings, "POST", path, body=body)
    if response.status_code in (404, 409, 422):
        detail = response.json().get("detail")
        if isinstance(detail, list):  # pydantic's: name the field
            detail = "; ".join(f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}"
                               for d in detail)
        raise CommandError(str(detail), 1)
    if response.status_code == 201:
        return response.json()
    return _answer(response)


def _direct(job: Any) -> Any:
    from clickpath.domain.commissions.close import CloseRefused

    try:
        return job()
    except CloseRefused as e:
        raise CommandError(str(e), 1) from None


def cmd_close(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath close --period YYYY-MM`."""
    if settings.clickhouse_embedded:
        result = _service(settings, f"/v1/admin/periods/{args.period}/close",
                          {"requested_by": _user()})
    else:
        from clickpath.connectors.catalogue import CatalogueStore
        from clickpath.infra.closes import Actor
        from clickpath.infra.commission_ops import close_statements

        trail = trail_for(settings, "close")
        catalogue = CatalogueStore(settings.catalogue_path, settings.affiliates).current()
        minimums = {a: c.min_payout for a, c in catalogue.affiliates.items()}
        result = _direct(lambda: close_statements(
            settings, period=args.period, actor=Actor(CLI_ACTOR, _user()), min_payouts=minimums))
        if result["closed"]:
            record(trail, "period.closed", f"period:{args.period}",
                   {"rows": len(result["rows"]), "requested_by": _user()})
    if args.format == "json":
        print(json.dumps(result, indent=2))
        return
    said = "closed" if result["closed"] else "was already closed (nothing changed)"
    print(f"period {args.period} {said}")
    if result.get("webhooks_error"):
        print(f"warning: {result['webhooks_error']}")
    elif result.get("webhooks"):
        print(f"statement_closed webhooks published: {result['webhooks']}")
    print(render_statements(result["rows"], "table"), end="")


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text[:30]!r} is not an amount, e.g. -50.00") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"{text[:30]!r} is not an amount, e.g. -50.00")
    return value


def cmd_adjust(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath ledger adjust --affiliate A --amount -50.00 --currency EUR --reason ...`."""
    from clickpath.domain.commissions.statements import render_ledger

    currency = args.currency.upper()
    if settings.clickhouse_embedded:
        entry = _service(settings, "/v1/admin/ledger/adjustments", {
            "affiliate_id": args.affiliate, "amount": str(args.amount), "currency": currency,
            "reason": args.reason, "period": args.period, "requested_by": _user(),
        })
    else:
        from clickpath.connectors.admin_commissions import adjustment_detail
        from clickpath.infra.closes import Actor
        from clickpath.infra.commission_ops import adjust_ledger

        trail = trail_for(settings, "ledger adjust")
        entry = _direct(lambda: adjust_ledger(
            settings, affiliate_id=args.affiliate, amount=args.amount, currency=currency,
            reason=args.reason, period=args.period, actor=Actor(CLI_ACTOR, _user())))
        record(trail, "ledger.adjusted", f"affiliate:{args.affiliate}",
               adjustment_detail(entry["period"], args.amount, currency, args.reason, _user()))
    print(render_ledger([entry], args.format), end="")


def cmd_pay(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath statements pay --period P --affiliate A --reference R`."""
    if settings.clickhouse_embedded:
        rows = _service(settings, f"/v1/admin/statements/{args.period}/{args.affiliate}/payment",
                        {"reference": args.reference, "requested_by": _user()})
    else:
        from clickpath.infra.closes import Actor
        from clickpath.infra.commission_ops import pay_statement

        trail = trail_for(settings, "statements pay")
        rows = _direct(lambda: pay_statement(
            settings, period=args.period, affiliate_id=args.affiliate, reference=args.reference,
            actor=Actor(CLI_ACTOR, _user())))
        record(trail, "statement.paid", f"statement:{args.period}/{args.affiliate}",
               {"reference": args.reference, "rows": len(rows), "requested_by": _user()})
    print(render_statements(rows, args.format), end="")


def add_amount_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amount", required=True, type=_amount, metavar="AMOUNT",
                        help="signed, in the currency's units, e.g. -50.00")


def cmd_invoice(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath statements invoice --period P --affiliate A [--format html|csv|pdf]`: each
    invoice of the affiliate's closed statement, written to `--output` (a directory, default
    here) as <number>.<format>."""
    from pathlib import Path

    if settings.clickhouse_embedded:
        params = {"period": args.period, "affiliate_id": args.affiliate}
        rows = _answer(_from_service(settings, "GET", "/v1/affiliate/statements", params=params))
    else:
        from clickpath.infra.commission_ops import affiliate_statements

        rows = affiliate_statements(settings, affiliate_id=args.affiliate, period=args.period,
                                    as_of=None)
    wanted = None if args.currency is None else args.currency.upper()
    numbers = [r["invoice_number"] for r in rows
               if r.get("invoice_number") and wanted in (None, r["currency"])]
    if not numbers:
        raise CommandError(f"{args.affiliate} has no invoice for {args.period}: the period must be"
                           " closed and the statement total positive", 1)
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    for number in numbers:
        body = _invoice_bytes(settings, args.affiliate, number, args.format)
        path = folder / f"{number}.{args.format}"
        path.write_bytes(body)
        print(path)


def _invoice_bytes(settings: Settings, affiliate_id: str, number: str, fmt: str) -> bytes:
    if settings.clickhouse_embedded:
        response = _from_service(settings, "GET", f"/v1/affiliate/invoices/{number}",
                                 params={"affiliate_id": affiliate_id, "format": fmt})
        if response.status_code in (404, 409):
            raise CommandError(str(response.json().get("detail")), 1)
        if response.status_code != 200:
            _answer(response)
        return response.content
    from clickpath.connectors.affiliate_statements import invoice_document
    from clickpath.connectors.catalogue import CatalogueStore
    from clickpath.domain.catalogue import AffiliateConfig
    from clickpath.domain.commissions.invoices import InvoiceError
    from clickpath.infra.commission_ops import invoice_source

    found = invoice_source(settings, affiliate_id=affiliate_id, number=number)
    if found is None:
        raise CommandError(f"no invoice {number!r} of affiliate {affiliate_id!r}", 1)
    affiliates = CatalogueStore(settings.catalogue_path, settings.affiliates).current().affiliates
    try:
        return invoice_document(found, affiliates.get(affiliate_id, AffiliateConfig()), settings, fmt)[0]
    except InvoiceError as e:
        raise CommandError(str(e), 1) from None
