"""The affiliate and campaign catalogue as a client command sees it (`clickpath links`, the
`--brand` check).

While `up` runs, the truth is the running service's: its configuration may not be this
shell's (`up --demo` hands its demo affiliates to its roles only) and its tracker URL is the
one visitors use. So the catalogue is asked of the service (the admin list, with this host's
CLI key); with no `up` running it is built from this shell's configuration plus the data dir's
catalogue.json, as the service would build it.
"""

from __future__ import annotations

from typing import Any

import httpx

from clickpath.settings import Settings

Row = dict[str, Any]


def catalogue_rows(settings: Settings) -> list[Row]:
    """Every campaign's tracking link: the `tracking_links` rows, sorted by affiliate, campaign."""
    from clickpath.run.instances import running_in

    if running_in(settings.data_dir.resolve()) is not None:
        served = _from_service(settings)
        if served is not None:
            return served
    return _from_files(settings)


def _from_files(settings: Settings) -> list[Row]:
    from clickpath.connectors.catalogue import CatalogueStore
    from clickpath.domain.tracking import tracking_links

    catalogue = CatalogueStore(settings.catalogue_path, settings.affiliates).current()
    return tracking_links(catalogue, settings.tracker_url)


def _from_service(settings: Settings) -> list[Row] | None:
    """The running service's catalogue; None when it does not answer (then: the files)."""
    from clickpath.run.recording import cli_key_secret

    secret = cli_key_secret(settings)
    try:
        response = httpx.get(f"{settings.service_url}/v1/admin/affiliates", timeout=5,
                             headers={"Authorization": f"Bearer {secret}"})
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return [
        {
            "url": c["url"], "query_url": c["query_url"], "affiliate_id": a["affiliate_id"],
            "affiliate_name": a.get("name") or None, "campaign_id": c["campaign_id"],
            "brand_id": c["brand_id"], "tracking_code": c.get("tracking_code"),
            "landing_url": c["landing_url"],
        }
        for a in response.json()["affiliates"]
        for c in a["campaigns"]
    ]
