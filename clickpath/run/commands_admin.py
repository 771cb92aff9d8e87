"""Administration while the pipeline runs: API keys, tracking links, postback and webhook
endpoints, and replays of dead-lettered deliveries. Changes take effect on the running service
without a restart (the stores are watched files)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from clickpath.run.errors import CommandError
from clickpath.settings import Settings

if TYPE_CHECKING:
    from clickpath.infra.endpoint_store import EndpointStore
    from clickpath.infra.metrics import EndpointHealth


def cmd_keys(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.connectors.keys import KeyError_, KeyStore
    from clickpath.run.recording import key_detail, record, trail_for

    store = KeyStore(settings.key_store_path)
    if args.action == "create":
        trail = trail_for(settings, "keys create")
        try:
            key, secret = store.create(args.role, brand_id=args.brand, affiliate_id=args.affiliate)
        except ValueError as e:
            raise CommandError(str(e)) from None
        record(trail, "key.created", f"key:{key.key_id}", key_detail(key))
        print(secret)
        scope = "/".join(filter(None, (key.brand_id, key.affiliate_id))) or "all"
        print(f"key {key.key_id}: role {key.role}, scope {scope}; shown once, store it now",
              file=sys.stderr)
    elif args.action == "revoke":
        if not args.key:
            raise CommandError("keys revoke needs the key id (or the key)")
        trail = trail_for(settings, "keys revoke")
        try:
            key = store.revoke(args.key)
        except KeyError_ as e:
            raise CommandError(str(e.args[0])) from None
        record(trail, "key.revoked", f"key:{key.key_id}", key_detail(key))
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
    """The running service's links (the demo's too); with no `up` running, configuration's."""
    from clickpath.run.catalogue_view import catalogue_rows

    rows = catalogue_rows(settings)
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
    from clickpath.domain.endpoints import Endpoint, validation_message
    from clickpath.domain.signing import new_secret
    from clickpath.infra.endpoint_store import check_destination

    if args.action == "presets":
        _print_presets(args.format)
        return
    store = _endpoint_store(settings)
    kind = "postback" if args.command == "postbacks" else "webhook"
    if args.action == "test":
        _print_test(store, args.id, args.event)
        return
    if args.action == "list":
        _print_list(settings, store, kind, args.format)
        return
    if not args.id:
        raise CommandError(f"{args.command} {args.action} needs an endpoint id")
    from clickpath.connectors.admin_endpoints import endpoint_detail
    from clickpath.run.recording import record, trail_for

    trail = trail_for(settings, f"{args.command} {args.action}")
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
            preset = getattr(args, "preset", None)
            url = getattr(args, "base_url", None) if preset else args.url
            if preset and (not url or args.url):
                raise CommandError(f"{args.command} add --preset needs --base-url (not --url)")
            if not preset and (not args.url or not args.events):
                raise CommandError(f"{args.command} add needs --url and --events (or --preset)")
            _check_new(settings, store, args, kind)
            secret = new_secret() if args.sign or kind == "webhook" else None
            events = [x.strip() for x in (args.events or "").split(",") if x.strip()]
            endpoint = Endpoint.model_validate({
                "endpoint_id": args.id, "kind": kind, "affiliate_id": args.affiliate,
                "brand_id": args.brand, "url": url,
                "method": args.method or ("POST" if kind == "webhook" else "GET"),
                "body": args.body, "events": events, "secret": secret, "preset": preset,
                "params": _params(getattr(args, "param", [])),
            })
            check_destination(endpoint, settings.egress_allow)
            e = store.put(endpoint)
            if secret:
                print(secret)
    except ValidationError as err:
        raise CommandError(validation_message(err)) from None
    except (LookupError, ValueError) as err:
        raise CommandError(str(err)) from None
    action = {"add": "put", "rotate-secret": "rotate_secret"}.get(args.action, args.action)
    record(trail, "endpoint.changed", f"endpoint:{e.endpoint_id}", endpoint_detail(action, e))
    print(f"{e.endpoint_id}: {'enabled' if e.enabled else 'disabled'}", file=sys.stderr)


def _check_new(settings: Settings, store: EndpointStore, args: argparse.Namespace, kind: str) -> None:
    """`add` refuses an affiliate clickpath does not know (its postbacks would never come: they
    are made for known affiliates' clicks) and an id in use, unless `--replace` says so: an
    endpoint's secret, events and URL are not overwritten by a typo."""
    if args.affiliate and args.affiliate not in (known := _known_affiliates(settings)):
        shown = ", ".join(sorted(known)) or "none yet"
        raise CommandError(
            f"--affiliate: unknown affiliate {args.affiliate!r} (known: {shown}); add it first "
            "(CLICKPATH_AFFILIATES, or PUT /v1/admin/affiliates/{id})"
        )
    existing = store.current().get(args.id)
    if existing is not None and not getattr(args, "replace", False):
        raise CommandError(
            f"{args.id}: a {existing.kind} endpoint with this id exists ({existing.url}); "
            f"give another id, or --replace to overwrite it ({kind}s list shows them)"
        )


def _known_affiliates(settings: Settings) -> set[str]:
    """Configured affiliates and those added on the running service (the catalogue file), and,
    under `up --demo` with none configured, the demo's (they live in its environment only)."""
    from clickpath.connectors.catalogue import CatalogueStore
    from clickpath.devtools.demo import DEMO_AFFILIATES
    from clickpath.run.state import current_status

    known = set(CatalogueStore(settings.catalogue_path, settings.affiliates).current().affiliates)
    if not settings.affiliates:
        try:
            status = current_status(settings.data_dir)
        except ValueError:  # an unreadable state file: no running demo to take them from
            return known
        if status.up and any(r.name == "demo-traffic" for r in status.roles):
            known |= set(DEMO_AFFILIATES)
    return known


def _print_list(settings: Settings, store: EndpointStore, kind: str, fmt: str) -> None:
    """`postbacks|webhooks list`: every endpoint, and, while `up` runs on this data dir, how
    its deliveries go (delivered, failed, retrying, circuit), from the engine's metrics."""
    from dataclasses import asdict

    from clickpath.infra.metrics import EndpointHealth

    health = _running_health(settings)
    endpoints = [e for e in store.current().values() if e.kind == kind]
    rows = [e.model_dump(mode="json", exclude={"secret", "previous_secrets"})
            | {"signed": bool(e.secret)}
            | {"health": asdict(health.get(e.endpoint_id, EndpointHealth())) if health is not None else None}
            for e in endpoints]
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    table = [["ID", "OWNER", "METHOD", "EVENTS", "STATE", "DELIVERED", "FAILED", "RETRYING", "CIRCUIT"]]
    for r in rows:
        h = r["health"]
        table.append([
            r["endpoint_id"], r["affiliate_id"] or r["brand_id"] or "all", r["method"], ",".join(r["events"]),
            "enabled" if r["enabled"] else "DISABLED",
            *([str(h["delivered"]), str(h["failed"]), str(h["retrying"]), h["circuit"].replace("_", " ")]
              if h is not None else ["-"] * 4),
        ])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    numeric = {5, 6, 7}
    for n, row in enumerate(table):
        cells = [cell.rjust(width) if i in numeric else cell.ljust(width)
                 for i, (cell, width) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip())
        if n == 0:
            continue
        r = rows[n - 1]
        print(f"    {r['url']}")
        if not r["enabled"]:
            print(f"    disabled: {r['disabled_reason']}")
        if r.get("preset"):
            overrides = " ".join(f"{k}={v}" for k, v in r["params"].items())
            print(f"    preset {r['preset']} {overrides}".rstrip())
    for endpoint_id, reason in sorted(store.invalid.items()):
        print(f"{endpoint_id}: INVALID, not delivered to: {reason}", file=sys.stderr)
    if health is None and rows:
        print(f"(delivery counts: no `clickpath up` running on {settings.data_dir})", file=sys.stderr)
    elsewhere = sorted(set(health or {}) - set(store.current()))
    if elsewhere:  # configured in `up`'s own environment (the demo's affiliates), not here
        from clickpath.run.status import health_text

        assert health is not None
        print("(the running `clickpath up` also delivers to endpoints configured in its environment: "
              + "; ".join(f"{e} {health[e].delivered} delivered, {health_text(health[e])}" for e in elsewhere)
              + ")", file=sys.stderr)


def _running_health(settings: Settings) -> dict[str, EndpointHealth] | None:
    """The delivery engine's per-endpoint health while `up` runs on this data dir, else None."""
    from clickpath.infra.metrics import read_endpoint_health
    from clickpath.run.state import current_status

    metrics = settings.data_dir / "metrics"
    try:
        if not current_status(settings.data_dir).up or not metrics.is_dir():
            return None
        return read_endpoint_health(str(metrics))
    except (OSError, ValueError):  # a state file or metrics file mid-write
        return None


def _params(pairs: list[str]) -> dict[str, str]:
    """`--param name=value` options as a dict; a malformed one is refused by name."""
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"--param {pair!r}: expected NAME=VALUE, e.g. goal_ftd=3")
        params[name.strip()] = value.strip()
    return params


def _print_presets(fmt: str) -> None:
    """`clickpath postbacks presets`: every preset, its parameters and overrides."""
    from clickpath.domain.presets import PRESETS, preset_view

    rows: list[dict[str, Any]] = [preset_view(p) for p in PRESETS.values()]
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return
    for r in rows:
        filled = ", ".join(f"{k}={v}" for k, v in r["parameters"].items())
        print(f"{r['preset']:9} {r['tracker']} — {r['base_url']}")
        need = r["default_events_need_goal"]
        with_goal = f" ({','.join(need)} too, given goal_<event>)" if need else ""
        print(f"    click id {r['click_id']}; {filled}; event {r['goal'] or '-'}; "
              f"status {r['status'] or '-'}; reversals {'yes' if r['reversal'] else 'no'}; "
              f"default events {','.join(r['default_events'])}{with_goal}")
        width = max((len(name) for name in r["overrides"]), default=0)
        for name, what in r["overrides"].items():
            print(f"    --param {name + '=...':{width + 4}}  {what}")
        print(f"    {r['note']}")


def _print_test(store: EndpointStore, endpoint_id: str | None, event: str) -> None:
    """`clickpath postbacks test ID [--event E]`: the request a sample conversion makes, unsent."""
    from clickpath.sinks.delivery.render import sample_request

    if not endpoint_id:
        raise CommandError("postbacks test needs an endpoint id")
    endpoint = store.current().get(endpoint_id)
    if endpoint is None or endpoint.kind != "postback":
        raise CommandError(f"no postback endpoint {endpoint_id!r} (clickpath postbacks list)")
    try:
        request = sample_request(endpoint, event)
    except ValueError as e:
        raise CommandError(str(e)) from None
    print(f"{request.method} {request.url}")
    if request.content:
        print(request.content.decode())
    if not endpoint.wants(event):
        print(f"note: {endpoint_id} does not subscribe to {event} (events: "
              f"{','.join(endpoint.events)}{'' if endpoint.enabled else '; disabled'})",
              file=sys.stderr)


def cmd_deliveries(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.sinks.delivery.replay import replay_dead_letters

    count = replay_dead_letters(settings, endpoint_id=args.endpoint, job_id=args.job)
    print(f"replayed {count} dead-lettered deliveries (same delivery ids: receivers drop repeats)")
