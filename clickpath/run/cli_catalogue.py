"""The arguments of `clickpath affiliates` and `clickpath campaigns`. Their functions:
commands_catalogue (the running service's admin API)."""

from __future__ import annotations

import argparse
from typing import Any

from clickpath.run.arguments import add_command, decimal
from clickpath.run.catalogue_text import catalogue_id
from clickpath.run.commands_catalogue import cmd_affiliates, cmd_campaigns

# Both talk to a running `up` (cli.CLIENT_COMMANDS).
CLIENT_COMMANDS = frozenset({"affiliates", "campaigns"})

AFFILIATES_EPILOG = """\
actions:
  add AFFILIATE_ID [flags]  add an affiliate, or change the fields given (the others stay)
  list                      every affiliate: name, parent, payout currency, minimum payout,
                            country, number of campaigns
  show AFFILIATE_ID         every field, and its campaigns with their tracking links

e.g.  clickpath affiliates add aff-delta --name "Delta Media" --parent-id aff-alpha \\
          --payout-currency EUR --min-payout 100.00 --country MT --vat-id MT12345678 --reverse-charge

A change is effective on the running service at once (the next click, the next statement);
a refusal (an unknown parent, a cycle, a bad country) names the flag. docs/tracker.md
"""

CAMPAIGNS_EPILOG = """\
actions:
  add AFFILIATE_ID CAMPAIGN_ID --brand B --landing-url URL [--tracking-code CODE]
                            add a campaign to an affiliate, or replace it; its link works at once
  list [--affiliate A]      every campaign (or one affiliate's): brand, tracking code, link

The landing URL is a template: {click_id} {sub1}..{sub5} {affiliate_id} {campaign_id}
{brand_id} {tracking_code}. A tracking code must be unique across all campaigns; the link is
/c/<code>, or /c?aff=...&campaign=... without one. docs/tracker.md
"""


def add_catalogue_commands(sub: Any) -> None:
    affiliates = add_command(
        sub, "affiliates", "add, list and show affiliates (effective on the running service)",
        "Adds and changes affiliates (sub-affiliate parent, payout currency and minimum, invoice\n"
        "details) on the running service, and lists and shows them with their campaigns.",
        epilog=AFFILIATES_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    affiliates.add_argument("action", choices=["add", "list", "show"])
    affiliates.add_argument("affiliate_id", nargs="?", type=catalogue_id, metavar="AFFILIATE_ID",
                            help="add, show: the affiliate id, e.g. aff-alpha")
    affiliates.add_argument("--name", default=None, help="add: the affiliate's display name")
    parent = affiliates.add_mutually_exclusive_group()
    parent.add_argument("--parent-id", dest="parent_id", default=None, metavar="PARENT",
                        help="add: the affiliate that brought this one; it earns its plan's"
                        " sub_affiliate_share of this one's commission")
    parent.add_argument("--no-parent", action="store_true",
                        help="add: this affiliate has no parent (any more)")
    affiliates.add_argument("--payout-currency", dest="payout_currency", default=None, metavar="CURRENCY",
                            help="add: the currency it is paid in, e.g. EUR")
    affiliates.add_argument("--min-payout", dest="min_payout", type=decimal, default=None, metavar="AMOUNT",
                            help="add: the least a statement pays; less rolls over, e.g. 100.00")
    affiliates.add_argument("--legal-name", dest="legal_name", default=None, metavar="NAME",
                            help="add: the name on invoices")
    affiliates.add_argument("--address", default=None, help="add: the address on invoices")
    affiliates.add_argument("--country", default=None, metavar="CC",
                            help="add: ISO 3166-1 alpha-2, e.g. MT (picks the invoice's VAT rate)")
    affiliates.add_argument("--vat-id", dest="vat_id", default=None, metavar="VAT_ID",
                            help="add: the VAT number on invoices")
    affiliates.add_argument("--reverse-charge", dest="vat_reverse_charge",
                            action=argparse.BooleanOptionalAction, default=None,
                            help="add: its invoices carry no VAT (the recipient accounts for it)")
    affiliates.add_argument("--format", choices=["table", "json"], default="table")
    affiliates.set_defaults(func=cmd_affiliates)

    campaigns = add_command(
        sub, "campaigns", "add and list campaigns and their tracking links (effective at once)",
        "Adds a campaign to an affiliate on the running service (or replaces it) and lists the\n"
        "campaigns with their brand, tracking code and link.",
        epilog=CAMPAIGNS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    campaigns.add_argument("action", choices=["add", "list"])
    campaigns.add_argument("affiliate_id", nargs="?", type=catalogue_id, metavar="AFFILIATE_ID",
                           help="add: the affiliate")
    campaigns.add_argument("campaign_id", nargs="?", type=catalogue_id, metavar="CAMPAIGN_ID",
                           help="add: the campaign id")
    campaigns.add_argument("--brand", dest="brand_id", default=None, metavar="BRAND",
                           help="add: the operator brand")
    campaigns.add_argument("--landing-url", dest="landing_url", default=None, metavar="URL",
                           help="add: the landing URL template, e.g."
                           " 'https://brand.example/welcome?click_id={click_id}'")
    campaigns.add_argument("--tracking-code", dest="tracking_code", default=None, metavar="CODE",
                           help="add: the short code of the link /c/<code>, unique")
    campaigns.add_argument("--affiliate", type=catalogue_id, default=None, metavar="AFFILIATE_ID",
                           help="list: only this affiliate's")
    campaigns.add_argument("--format", choices=["table", "json"], default="table")
    campaigns.set_defaults(func=cmd_campaigns)
