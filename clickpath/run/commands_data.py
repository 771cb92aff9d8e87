"""The pipeline's data: `clickpath topics`, `clickpath import` (history files), `clickpath
mappings` (how each source's fields become the schema's) and `clickpath report` (funnel KPIs)."""

from __future__ import annotations

import argparse
import json
import sys

import httpx

from clickpath.run.errors import CommandError
from clickpath.settings import Settings


def cmd_topics(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.contracts.topics import SPECS
    from clickpath.infra.kafka import create_topics, wait_for_broker

    wait_for_broker(settings)
    created = create_topics(settings)
    for spec in SPECS.values():
        mark = "created" if spec.name(settings) in created else "exists"
        print(f"{spec.name(settings):45} {mark:8} key={spec.key}")


def cmd_import(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.connectors.importer import FileFormatError, ImportOptions, detect_format, run_cli

    try:
        fmt = args.format or detect_format(args.file)
    except FileFormatError as e:
        raise CommandError(str(e)) from None
    try:
        options = ImportOptions(
            path=args.file, format=fmt, brand=args.brand, source=args.source, dry_run=args.dry_run,
            rejects_path=args.rejects, batch_lines=args.batch, rate=args.rate, ack_timeout_s=args.ack_timeout,
        )
    except ValueError as e:
        raise CommandError(str(e)) from None
    sys.exit(run_cli(settings, options, as_json=args.json))


def cmd_mappings(settings: Settings, args: argparse.Namespace) -> None:
    """List the source mappings (docs/mappings.md). Invalid ones never get here: the settings
    are checked when the command starts, and `main` exits 2 with every problem."""
    from clickpath.domain.mappings import describe

    mappings = settings.source_mappings
    if args.format == "json":
        rows = [{"source": source, **mapping.model_dump(mode="json")}
                for source, mapping in sorted(mappings.items())]
        print(json.dumps(rows, indent=2))
        return
    if not mappings:
        where = "CLICKPATH_MAPPINGS_FILE or [mappings.<source>] in CLICKPATH_CONFIG"
        print(f"no source mappings ({where}); every door takes the schema's field names")
        return
    origin = f" (from {settings.mappings_file})" if settings.mappings_file else ""
    print(f"{len(mappings)} source mapping{'s' if len(mappings) != 1 else ''}{origin}")
    for source, mapping in sorted(mappings.items()):
        print(f"\n{source}")
        for line in describe(mapping):
            print(f"  {line}")


def cmd_fx(settings: Settings, args: argparse.Namespace) -> None:
    """Show the reporting currency and the FX table the reports convert with (domain/fx.py)."""
    rates = sorted(settings.fx_rates, key=lambda r: (r.currency, r.effective_from))
    if args.format == "json":
        print(json.dumps({
            "reporting_currency": settings.reporting_currency,
            "rates": [r.model_dump(mode="json") for r in rates],
        }, indent=2))
        return
    if settings.reporting_currency is None:
        print("no reporting currency (CLICKPATH_REPORTING_CURRENCY): reports give amounts per"
              " currency only")
    else:
        print(f"reporting currency {settings.reporting_currency}: one unit of each currency is"
              " worth, from the day on")
    for r in rates:
        print(f"  {r.currency}  {r.effective_from.isoformat()}  {r.rate}")
    if not rates:
        print("  no rates (fx_rates in CLICKPATH_CONFIG, [[fx_rates]] currency/rate/effective_from)")


def cmd_report(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.domain.report import render, summarize

    filters = {"brand_id": args.brand, "since": args.since, "until": args.until}
    if settings.clickhouse_embedded:
        # Only the running pipeline may open the embedded ClickHouse: ask its service, with
        # this host's own CLI key (the data directory's; no key flag needed).
        from clickpath.connectors.keys import KeyStore

        url = f"{settings.service_url}/v1/reports/funnel"
        params = {k: str(v) for k, v in filters.items() if v is not None}
        secret = KeyStore(settings.key_store_path).local_secret()
        try:
            response = httpx.get(url, params=params, timeout=30,
                                 headers={"Authorization": f"Bearer {secret}"})
        except httpx.HTTPError as e:
            raise CommandError(
                f"cannot reach the clickpath service at {url} ({e}); is `clickpath up` running?", 1
            ) from None
        if response.status_code != 200:
            raise CommandError(f"{url} answered {response.status_code}: {response.text}", 1)
        report = response.json()
    else:
        from clickpath.infra.reports import funnel_rows

        fx = settings.fx_table  # amounts also in the reporting currency, day by day
        report = summarize(funnel_rows(settings, by_day=fx is not None, **filters), fx)
    print(render(report, args.format), end="")
