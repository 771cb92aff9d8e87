"""`clickpath plans add|list|show`: the commission plans in effect (configuration plus admin
versions in the data directory, which the running worker re-reads)."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path
from typing import Any

from clickpath.contracts.models import utcnow
from clickpath.run.errors import CommandError
from clickpath.settings import Settings


def cmd_plans(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.connectors.admin_plans import plan_view
    from clickpath.domain.plans import PlanError
    from clickpath.infra.plan_store import plan_store_of

    store = plan_store_of(settings)
    if args.action == "add":
        if not args.plan_id or not args.file:
            raise CommandError("plans add PLAN_ID --file VERSION.toml (effective_from, currency,"
                               " cpa/revshare; [[assign]] for a new plan)")
        from clickpath.connectors.admin_plans import version_detail
        from clickpath.run.recording import record, trail_for

        raw = _read_version(Path(args.file))
        trail = trail_for(settings, "plans add")
        try:
            added = store.add_version(args.plan_id, raw, utcnow())
        except PlanError as e:
            raise CommandError(str(e)) from None
        record(trail, "plan.version_added", f"plan:{args.plan_id}", version_detail(added, "assign" in raw))
        print(f"plan {args.plan_id}: version {added.version} ({added.kind}) from"
              f" {added.effective_from}, recorded {added.recorded_at:%Y-%m-%d %H:%M} UTC")
        return
    book = store.current()
    if args.action == "show":
        if args.plan_id not in book.plan_ids():
            known = ", ".join(book.plan_ids()) or "none"
            raise CommandError(f"no plan {args.plan_id!r} (known: {known})")
        view = plan_view(book, args.plan_id)
        print(json.dumps(view, indent=2) if args.format == "json" else _show(view))
        return
    views = [plan_view(book, p) for p in book.plan_ids()]
    if args.format == "json":
        print(json.dumps(views, indent=2))
        return
    _print_table(views)


def _read_version(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CommandError(f"--file {path}: {e}") from None
    assign = data.pop("assign", None)
    raw: dict[str, Any] = {"versions": [data]}
    if assign is not None:
        raw["assign"] = assign
    return raw


def _show(view: dict[str, Any]) -> str:
    lines = [f"plan {view['plan_id']}"]
    for a in view["assign"]:
        scope = ", ".join(f"{k} {a[k]}" for k in ("brand_id", "country") if a[k]) or "every brand and country"
        lines.append(f"  pays {a['affiliate_id']} ({scope})")
    for v in view["versions"]:
        at = f", recorded {v['recorded_at']}" if v["recorded_at"] else ""
        lines.append(f"  version {v['version']} ({v['kind']}) from {v['effective_from']}:"
                     f" {v['source']}{at}")
        for part in ("cpa", "revshare", "sub_affiliate_share"):
            if part in v:
                lines.append(f"    {part}: {json.dumps(v[part])}")
    return "\n".join(lines)


def _print_table(views: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="clickpath commission plans (configuration and admin versions)")
    for column in ("plan", "kind", "version", "from", "source", "pays"):
        table.add_column(column, overflow="fold")
    for view in views:
        latest = view["versions"][-1]
        pays = ", ".join(sorted({a["affiliate_id"] for a in view["assign"]})) or "-"
        table.add_row(view["plan_id"], latest["kind"], str(latest["version"]), latest["effective_from"],
                      latest["source"], pays)
    Console(width=200).print(table)
    if not views:
        print("No plans yet: write [plans.<id>] in CLICKPATH_CONFIG or `clickpath plans add`"
              " (docs/commissions.md).")
