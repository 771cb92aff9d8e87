"""The pipeline's data: `clickpath topics`, `clickpath import` (history files), `clickpath
mappings` (how each source's fields become the schema's), `clickpath report` (funnel KPIs,
attribution by model, LTV cohorts, retention), `clickpath ledger` and `clickpath statements`
(commissions), `clickpath sql` (analyst queries) and `clickpath player` (a player's journey)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

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


REPORT_KINDS = ("funnel", "attribution", "cohorts", "retention")
_FLAGS = {  # the flags of each kind of report beyond --format, --brand, --since, --until
    "funnel": ("currency",),
    "attribution": ("model", "conversion", "value", "by", "half_life_days", "position_first",
                    "position_last", "lookback_days", "layout"),
    "cohorts": ("grain",),
    "retention": ("grain", "periods"),
}


def _from_service(
    settings: Settings, method: str, path: str, *, params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    """Ask the running service: only the running pipeline may open the embedded ClickHouse.
    With this host's own CLI key (the data directory's; no key flag needed)."""
    from clickpath.run.instances import running_in
    from clickpath.run.recording import cli_key_secret

    url = f"{settings.service_url}{path}"
    data_dir = settings.data_dir.resolve()
    if not data_dir.is_dir():  # a read never creates a data dir (nor a key in it)
        raise CommandError(f"no clickpath data directory at {data_dir}: is `clickpath up` running?"
                           " (or set CLICKPATH_DATA_DIR to its data directory)", 1)
    secret = cli_key_secret(settings)
    wire = {k: str(v) for k, v in (params or {}).items() if v is not None}
    try:
        response = httpx.request(method, url, params=wire, json=body, timeout=360,
                                 headers={"Authorization": f"Bearer {secret}"})
    except httpx.HTTPError as e:
        raise CommandError(
            f"cannot reach the clickpath service at {url} ({e}); is `clickpath up` running?", 1
        ) from None
    if response.status_code == 401 and running_in(data_dir) is None:
        raise CommandError(f"the service at {settings.service_url} is not the `clickpath up` of"
                           f" {data_dir} (it refused that data dir's key): is `clickpath up`"
                           " running? (or set CLICKPATH_DATA_DIR to its data directory)", 1)
    return response


def _answer(response: httpx.Response) -> Any:
    if response.status_code != 200:
        url = str(response.url).split("?", 1)[0]
        raise CommandError(f"{url} answered {response.status_code}: {response.text}", 1)
    return response.json()


def cmd_report(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath report [funnel|attribution|cohorts|retention]`; plain `report` is the funnel."""
    kind = getattr(args, "kind", None) or "funnel"  # scripts may build the namespace themselves
    misplaced = [
        name for other, names in _FLAGS.items() if other != kind for name in names
        if name not in _FLAGS[kind] and getattr(args, name, None) is not None
    ]
    if misplaced:
        flag = "--" + misplaced[0].replace("_", "-")
        raise CommandError(f"{flag} does not apply to `clickpath report {kind}`")
    if kind == "attribution":
        _report_attribution(settings, args)
    elif kind in ("cohorts", "retention"):
        _report_cohorts(settings, args, kind)
    else:
        _report_funnel(settings, args)


def _report_funnel(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.domain.report import render, summarize

    currency = getattr(args, "currency", None)
    if currency is not None and args.format == "json":
        raise CommandError("--currency applies to the table and CSV; JSON has every currency")
    filters = {"brand_id": args.brand, "since": args.since, "until": args.until}
    if settings.clickhouse_embedded:
        report = _answer(_from_service(settings, "GET", "/v1/reports/funnel", params=filters))
    else:
        from clickpath.infra.reports import funnel_rows

        fx = settings.fx_table  # amounts also in the reporting currency, day by day
        report = summarize(funnel_rows(settings, by_day=fx is not None, **filters), fx)
    print(render(report, args.format, currency and currency.upper()), end="")


def _report_attribution(settings: Settings, args: argparse.Namespace) -> None:
    from clickpath.domain.analytics_rows import params_problem, render_attribution
    from clickpath.domain.multitouch import (
        DEFAULT_HALF_LIFE_DAYS,
        DEFAULT_POSITION_FIRST,
        DEFAULT_POSITION_LAST,
        MODELS,
    )

    params: dict[str, Any] = {
        "conversion": args.conversion or "registration", "value": args.value or "ngr",
        "by": args.by or "affiliate",
        "half_life_days": (
            DEFAULT_HALF_LIFE_DAYS if args.half_life_days is None else args.half_life_days
        ),
        "position_first": (
            DEFAULT_POSITION_FIRST if args.position_first is None else args.position_first
        ),
        "position_last": DEFAULT_POSITION_LAST if args.position_last is None else args.position_last,
        "lookback_days": (
            settings.identity_lookback if args.lookback_days is None else args.lookback_days
        ),
        "brand_id": args.brand, "since": args.since, "until": args.until,
    }
    problem = params_problem(params["half_life_days"], params["position_first"],
                             params["position_last"])
    if problem is not None:
        raise CommandError(f"--{problem[0].replace('_', '-')}: {problem[1]}")
    if not 1 <= params["lookback_days"] <= 365:
        raise CommandError("--lookback-days: between 1 and 365")
    model = args.model or "all"
    if settings.clickhouse_embedded:
        response = _from_service(settings, "GET", "/v1/reports/attribution",
                                 params={"model": model, **params})
        rows = _answer(response)
    else:
        from clickpath.infra.reports import attribution_rows

        models = MODELS if model == "all" else (model,)
        rows = attribution_rows(settings, models=models, **params)
    print(render_attribution(rows, args.format, getattr(args, "layout", None) or "long"), end="")


def _report_cohorts(settings: Settings, args: argparse.Namespace, kind: str) -> None:
    from clickpath.domain.analytics_rows import render_cohorts, render_retention

    params: dict[str, Any] = {
        "grain": args.grain or "month", "brand_id": args.brand, "since": args.since,
        "until": args.until,
    }
    if kind == "retention":
        params["periods"] = 12 if args.periods is None else args.periods
        if not 1 <= params["periods"] <= 120:
            raise CommandError("--periods: between 1 and 120")
    if settings.clickhouse_embedded:
        rows = _answer(_from_service(settings, "GET", f"/v1/reports/{kind}", params=params))
    else:
        from clickpath.infra.reports import cohort_rows, retention_rows

        rows = (cohort_rows if kind == "cohorts" else retention_rows)(settings, **params)
    render = render_cohorts if kind == "cohorts" else render_retention
    print(render(rows, args.format), end="")


def _commissions(settings: Settings, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of /v1/reports/<path>: through the running service with embedded ClickHouse,
    else read from the ClickHouse server."""
    from datetime import UTC, datetime

    as_of = params.get("as_of") or datetime.now(UTC)
    if settings.clickhouse_embedded:
        wire = {**params, "as_of": as_of.isoformat()}
        rows: list[dict[str, Any]] = _answer(
            _from_service(settings, "GET", f"/v1/reports/{path}", params=wire)
        )
        return rows
    from clickpath.infra.reports import ledger_entries, statement_rows

    read = ledger_entries if path == "ledger" else statement_rows
    return read(settings, **{**params, "as_of": as_of})


def cmd_ledger(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath ledger --affiliate A --period YYYY-MM [--as-of TIME]`."""
    from clickpath.domain.commissions.statements import render_ledger

    if args.affiliate is None or args.period is None:
        raise CommandError("clickpath ledger: --affiliate and --period are required (or `ledger adjust`)")
    rows = _commissions(settings, "ledger", {
        "affiliate_id": args.affiliate, "period": args.period, "as_of": args.as_of,
    })
    print(render_ledger(rows, args.format), end="")


def cmd_statements(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath statements --period YYYY-MM [--as-of TIME]`."""
    from clickpath.domain.commissions.statements import render_statements

    if args.period is None:
        raise CommandError("clickpath statements: --period is required (or `statements pay`)")
    rows = _commissions(settings, "statements", {"period": args.period, "as_of": args.as_of})
    print(render_statements(rows, args.format), end="")


def cmd_sql(settings: Settings, args: argparse.Namespace) -> None:
    """One read-only SELECT over the analyst views (clickpath/infra/analyst_sql.py); exit 2
    with the reason when it is not allowed."""
    from clickpath.domain.analytics_rows import render_sql

    if settings.clickhouse_embedded:
        response = _from_service(settings, "POST", "/v1/sql",
                                 body={"query": args.query, "brand_id": args.brand})
        if response.status_code in (400, 422):
            detail = response.json().get("detail")
            raise CommandError(f"query not run: {detail}")
        answer = _answer(response)
    else:
        from clickpath.infra.analyst_sql import QueryRefused
        from clickpath.infra.reports import analyst_query

        try:
            answer = analyst_query(settings, args.query, args.brand)
        except QueryRefused as e:
            raise CommandError(f"query not run: {e}") from None
    print(render_sql(answer, args.format), end="")


def cmd_player(settings: Settings, args: argparse.Namespace) -> None:
    """`clickpath player PLAYER_ID --brand B [--limit N]`: the journey as
    `GET /v1/players/{player_id}/journey` answers it to an admin key (docs/identity.md#journey)."""
    from urllib.parse import quote

    from clickpath.domain.identity.journey import MAX_TIMELINE

    if not 1 <= args.limit <= MAX_TIMELINE:
        raise CommandError(f"--limit: between 1 and {MAX_TIMELINE}")
    params = {"brand_id": args.brand, "limit": args.limit}
    if settings.clickhouse_embedded:
        response = _from_service(settings, "GET", f"/v1/players/{quote(args.player_id, safe='')}/journey",
                                 params=params)
        if response.status_code in (404, 422):
            raise CommandError(str(response.json().get("detail")), 1)
        answer = _answer(response)
    else:
        from clickpath.infra.reports import journey_of
        from clickpath.run.recording import record, trail_for

        trail = trail_for(settings, "player")
        answer = journey_of(settings, player_id=args.player_id, full=True, **params)
        record(trail, "journey.read", f"{args.brand}:{args.player_id}",
               {"found": answer is not None, "limit": args.limit})
        if answer is None:
            raise CommandError(f"unknown player_id {args.player_id!r} at brand {args.brand!r}", 1)
    print(json.dumps(answer, indent=2))
