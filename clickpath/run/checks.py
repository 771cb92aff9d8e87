"""Report and SQL filters refused by name before anything is asked: `--since` after `--until`
(an empty report that looks like "no traffic"), and a `--brand` that names nothing (a typo that
would also answer with an empty report).

A brand is known when the catalogue in effect names it (the running service's, which includes
what `up --demo` configured; else configuration plus catalogue.json), or the settings, or an
API key; failing those, when ClickHouse holds rows of it (a brand that only imports, with no
campaign or key, is still a brand). Where nothing can be asked, the filter is passed on.
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
    if brand is None:
        return
    known = known_brands(settings)
    if brand in known:
        return
    with_data = brands_with_data(settings)
    if with_data is not None:
        check_brand(brand, known | with_data)


def check_brand(brand: str, known: Iterable[str]) -> None:
    from clickpath.run.arguments import did_you_mean

    names = sorted(set(known))
    if names and brand not in names:
        raise CommandError(f"unknown brand {brand!r}{did_you_mean(brand, names)}; known brands:"
                           f" {', '.join(names)} (from campaigns, settings, API keys and the data)")


def known_brands(settings: Settings) -> set[str]:
    """Every brand the catalogue in effect, the settings and the API keys name."""
    from clickpath.connectors.keys import KeyStore
    from clickpath.run.catalogue_view import catalogue_rows

    brands = {row["brand_id"] for row in catalogue_rows(settings) if row["brand_id"]}
    brands |= set(settings.brand_time_zones)
    brands |= {k.brand_id for k in KeyStore(settings.key_store_path).list() if k.brand_id}
    return brands


def brands_with_data(settings: Settings) -> set[str] | None:
    """The brands ClickHouse has funnel rows of (an analyst query); None when it cannot say."""
    import httpx

    from clickpath.infra.analyst_sql import QueryRefused

    query = "SELECT DISTINCT brand_id FROM funnel_daily"
    try:
        if settings.clickhouse_embedded:
            from clickpath.run.commands_data import _from_service

            response = _from_service(settings, "POST", "/v1/sql", body={"query": query})
            if response.status_code != 200:
                return None
            answer = response.json()
        else:
            from clickpath.infra.reports import analyst_query

            answer = analyst_query(settings, query, None)
        return {str(row[0]) for row in answer["rows"]}
    except (CommandError, QueryRefused, httpx.HTTPError, OSError, RuntimeError, KeyError,
            TypeError, ValueError):
        return None
