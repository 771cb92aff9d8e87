"""Administration while the pipeline runs: API keys, tracking links, postback and webhook
endpoints, and replays of dead-lettered deliveries. Changes take effect on the running service
without a restart (the stores are watched files)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from pydantic import ValidationError

from clickpath.run.errors import CommandError
from clickpath.settings import Settings

if TYPE_CHECKING:
    from clickpath.infra.endpoint_store import EndpointStore


def cmd_keys(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.connectors.keys import KeyError_, KeyStore

    store = KeyStore(settings.key_store_path)
    if args.action == "create":
        try:
            key, secret = store.create(args.role, brand_id=args.brand, affiliate_id=args.affiliate)
        except ValueError as e:
            raise CommandError(str(e)) from None
        print(secret)
        scope = "/".join(filter(None, (key.brand_id, key.affiliate_id))) or "all"
        print(f"key {key.key_id}: role {key.role}, scope {scope}; shown once, store it now",
              file=sys.stderr)
    elif args.action == "revoke":
        if not args.key:
            raise CommandError("keys revoke needs the key id (or the key)")
        try:
            key = store.revoke(args.key)
        except KeyError_ as e:
            raise CommandError(str(e.args[0])) from None
        print(f"revoked {key.key_id} ({key.role}) at {key.revoked_at:%Y-%m-%d %H:%M:%S}Z")
    else:
        rows = [k.model_dump(mode="json", exclude={"digest"}) for k in store.list()]
        if args.format == "json":
            print(json.dumps(rows, indent=2))
        else:
            for k in rows:
                state = "revoked" if k["revoked_at"] else "active"
                scope = "/".join(filter(None, (k["brand_id"], k["affiliate_id"]))) or "all"
                label = f"  ({k['label']})" if k.get("label") else ""
                print(f"{k['key_id']}  {k['role']:9} {scope:20} {state:8} created {k['created_at']}{label}")


def cmd_links(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.connectors.catalogue import CatalogueStore
    from clickpath.domain.tracking import tracking_links

    catalogue = CatalogueStore(settings.catalogue_path, settings.affiliates).current()
    rows = tracking_links(catalogue, settings.tracker_url)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"clickpath tracking links ({settings.catalogue_path} and configuration)")
    for column in ("url", "affiliate", "campaign", "brand", "landing URL"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["url"], row["affiliate_id"], row["campaign_id"], row["brand_id"],
                      row["landing_url"])
    Console(width=200).print(table)
    if not rows:
        print("No campaigns yet: configure them (CLICKPATH_AFFILIATES) or add them with the admin API.")


def _endpoint_store(settings: Settings) -> EndpointStore:
    from clickpath.infra.endpoint_store import EndpointStore

    return EndpointStore.from_settings(settings)


def cmd_endpoints(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath postbacks|webhooks add|list|disable|enable|rotate-secret`."""
    from clickpath.domain.endpoints import Endpoint
    from clickpath.domain.signing import new_secret

    store = _endpoint_store(settings)
    kind = "postback" if args.command == "postbacks" else "webhook"
    if args.action == "list":
        rows = [e.model_dump(mode="json", exclude={"secret", "previous_secrets"})
                | {"signed": bool(e.secret)}
                for e in store.current().values() if e.kind == kind]
        if args.format == "json":
            print(json.dumps(rows, indent=2))
        for r in rows if args.format == "table" else []:
            state = "enabled" if r["enabled"] else f"DISABLED ({r['disabled_reason']})"
            owner = r["affiliate_id"] or r["brand_id"] or "all"
            print(f"{r['endpoint_id']:24} {owner:14} {r['method']:4} {','.join(r['events']):28} "
                  f"{state}\n    {r['url']}")
        return
    if not args.id:
        raise CommandError(f"{args.command} {args.action} needs an endpoint id")
    try:
        if args.action == "disable":
            e = store.disable(args.id, args.reason or "disabled by an operator")
        elif args.action == "enable":
            e = store.enable(args.id)
        elif args.action == "rotate-secret":
            current = store.current().get(args.id)
            if current is None:
                raise LookupError(f"no endpoint {args.id!r}")
            secret: str | None = new_secret()
            keep = [s for s in [current.secret, *current.previous_secrets] if s][:2]
            e = store.put(current.model_copy(update={"secret": secret, "previous_secrets": keep}))
            print(secret)
        else:
            if not args.url or not args.events:
                raise CommandError(f"{args.command} add needs --url and --events")
            secret = new_secret() if args.sign or kind == "webhook" else None
            e = store.put(Endpoint(
                endpoint_id=args.id, kind=kind, affiliate_id=args.affiliate, brand_id=args.brand,
                url=args.url, method=args.method or ("POST" if kind == "webhook" else "GET"),
                body=args.body, events=[x.strip() for x in args.events.split(",") if x.strip()],
                secret=secret,
            ))
            if secret:
                print(secret)
    except (LookupError, ValidationError, ValueError) as err:
        raise CommandError(str(err)) from None
    print(f"{e.endpoint_id}: {'enabled' if e.enabled else 'disabled'}", file=sys.stderr)


def cmd_deliveries(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.sinks.delivery.replay import replay_dead_letters

    count = replay_dead_letters(settings, endpoint_id=args.endpoint, job_id=args.job)
    print(f"replayed {count} dead-lettered deliveries (same delivery ids: receivers drop repeats)")
