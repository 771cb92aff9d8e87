"""Report and SQL filters refused by name before anything is asked: `--since` after `--until`
(an empty report that looks like "no traffic"), and a `--brand` nobody configured (a typo that
would also answer with an empty report).

The brands a filter may name are the catalogue's (the running service's, which includes what
`up --demo` configured; else configuration plus catalogue.json), the settings' and the API
keys'. Where none of them names any brand there is nothing to check against, and the filter
is passed on as given.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from clickpath.run.errors import CommandError
from clickpath.settings import Settings


def check_filters(settings: Settings, args: argparse.Namespace) -> None:
    """Raise CommandError (exit 2) naming the bad filter."""
    since, until = getattr(args, "since", None), getattr(args, "until", None)
    if since is not None and until is not None and since > until:
        raise CommandError(f"--since {since.isoformat()} is after --until {until.isoformat()}:"
                           " nothing could match (both days are included)")
    brand = getattr(args, "brand", None)
    if brand is not None:
        check_brand(brand, known_brands(settings))


def check_brand(brand: str, known: Iterable[str]) -> None:
    from clickpath.run.arguments import did_you_mean

    names = sorted(set(known))
    if names and brand not in names:
        raise CommandError(f"unknown brand {brand!r}{did_you_mean(brand, names)}; known brands:"
                           f" {', '.join(names)} (campaigns, settings and API keys)")


def known_brands(settings: Settings) -> set[str]:
    """Every brand the catalogue in effect, the settings and the API keys name."""
    from clickpath.connectors.keys import KeyStore
    from clickpath.run.catalogue_view import catalogue_rows

    brands = {row["brand_id"] for row in catalogue_rows(settings) if row["brand_id"]}
    brands |= set(settings.brand_time_zones)
    brands |= {k.brand_id for k in KeyStore(settings.key_store_path).list() if k.brand_id}
    return brands
