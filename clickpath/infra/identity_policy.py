"""The identity stages' policy as a running worker sees it: built once from settings.

The stage adapters call `identity_policy(settings)` at start and pass the result into every
decision; a decision never reads settings or the frequency file itself. The policy is not
re-read while a worker runs: a pair's score must not change under it (docs/identity.md), so a
new frequency table or new weights take effect at the next start.
"""

from __future__ import annotations

from datetime import timedelta

from clickpath.domain.identity.policy import FieldModel, IdentityPolicy
from clickpath.infra.pseudonym_keys import stable_key
from clickpath.settings import Settings


def identity_policy(settings: Settings) -> IdentityPolicy:
    """`IdentityPolicy` of `settings`: operators, prior, threshold, per-field m/u, the frequency
    table, the extra refused values, the caps, the window and the contract attribution's
    lookback and clock skew (unless identity_lookback_days sets another lookback)."""
    return IdentityPolicy(
        operators=settings.operator_of_brand,
        prior=settings.identity_prior,
        threshold=settings.identity_threshold,
        fields={kind: FieldModel(m=m, u=u) for kind, (m, u) in settings.identity_fields.items()},
        frequencies=settings.identity_frequencies(),
        refused=frozenset(v.strip() for v in settings.identity_refused),
        max_accounts=settings.identity_max_accounts,
        window=timedelta(days=settings.identity_window_days),
        lookback=timedelta(days=settings.identity_lookback),
        skew=timedelta(seconds=settings.attribution_clock_skew_s),
        max_clicks=settings.identity_max_clicks,
        max_per_account=settings.identity_max_per_account,
        person_key=stable_key(settings),  # person ids never rotate (docs/privacy.md)
    )
