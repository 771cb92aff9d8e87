"""The qualified_cpa postback and webhook: made once per player and affiliate, when the
player's CPA first pays (a non-zero CPA stands after the decision).

A 0 accrual over the monthly cap is no paid CPA, so nothing is reported then; a player pushed
under the cap later, or a hold released, is reported when the CPA starts to pay. The Q row
remembers that it was made (`reported`), so a record sent again, a requalification into
another period or a clawback undone never reports it twice; a replay after a crash sends the
same records again from the row's `notices`, with the same ids (docs/postback-presets.md).

Consent and responsible gaming stop the postback exactly as they stop the player stage's
(domain/consent.py, carried from the player's profile): a suppression is logged instead and
the postback is never made later; the webhook still goes to operators' endpoints, not to
endpoints scoped to the affiliate.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from clickpath.domain.commissions.run import Run
from clickpath.domain.commissions.state import QualificationRow
from clickpath.domain.plans import PlanVersion, period_of
from clickpath.domain.postbacks import make_postback, suppressed_postback
from clickpath.domain.webhooks import qualified_cpa_webhook

EVENT: Final = "qualified_cpa"


@dataclass(frozen=True)
class _Credit:
    """The affiliate a qualified_cpa credits (domain/postbacks.Credit)."""

    affiliate_id: str
    campaign_id: str
    click_id: str | None
    subs: list[str | None]


def report_cpa(run: Run, person_id: str, row: QualificationRow, plan: PlanVersion,
               pays: Decimal) -> None:
    """Make the player's qualified_cpa postback (or its suppression) and webhook, paying
    `pays` in the affiliate's payout currency; marks the row reported."""
    assert row.qualified_at is not None
    row.reported = True
    affiliate, currency, at = run.affiliate_id, run.currency, row.qualified_at
    subs = [*row.subs, None, None, None, None, None][:5]
    if row.postback_block is None:
        credit = _Credit(affiliate, row.campaign_id or "", row.click_id, subs)
        run.notices.append(make_postback(
            person_id, row.brand_id, credit, EVENT, at, run.policy.pseudonym_key,
            currency=currency, payout=pays, payout_currency=currency,
        ))
    else:
        run.notices.append(suppressed_postback(
            person_id, row.brand_id, affiliate, EVENT, row.postback_block, run.now,
        ))
    run.notices.append(qualified_cpa_webhook(
        person_id=person_id, brand_id=row.brand_id, affiliate_id=affiliate,
        campaign_id=row.campaign_id, click_id=row.click_id, qualified_at=at,
        period=period_of(at, run.policy.time_zone), payout=pays, payout_currency=currency,
        plan=(plan.plan_id, plan.version), affiliate_block=row.postback_block,
    ))
