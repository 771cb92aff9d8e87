"""`make bench-attribution`: every multi-touch model over 1M synthetic paths, time and memory.

Generates the paths deterministically (random.Random(seed)): ~40 affiliates with a Zipf-like
skew (a few big affiliates, a long tail), 1-6 touches (short paths most common, a third of
the next touches on the same affiliate), ages growing back from the conversion, ~30 %
converting with an affiliate-dependent rate, values in EUR (70 %) and USD at 2 decimals.
Times each model alone (its own grouping pass included) and all models in one call, checks
every model's sums are exact, and reports peak RSS (getrusage maxrss). With --clickhouse, a
second stage runs the report end to end over --persons registered persons in an embedded
ClickHouse (attribution_paths.py): paths read by `query_paths`, then all models. Ends with a
table and one JSON line; the result is appended to --results like the other benches.

Run: `python -m clickpath.devtools.bench.attribution [--paths N] [--clickhouse [--persons N]]
[--results FILE | --no-record]`.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path as FilePath
from typing import Any

from clickpath.devtools.bench.attribution_paths import PathsBenchConfig, credits_exact, run_paths_stage
from clickpath.devtools.bench.results import DEFAULT_RESULTS_FILE, commit, machine, record_result
from clickpath.domain.multitouch import MODELS, ModelParams, Path, attribute

TOUCH_COUNTS = (1, 2, 3, 4, 5, 6)
TOUCH_WEIGHTS = (0.38, 0.25, 0.16, 0.10, 0.07, 0.04)
DAY_S = 86_400.0


def generate_paths(n: int, *, affiliates: int = 40, seed: int = 15) -> list[Path]:
    rng = random.Random(seed)
    names = [f"aff-{i:02d}" for i in range(affiliates)]
    skew = [1.0 / (i + 1) ** 1.1 for i in range(affiliates)]
    quality = [0.10 + 0.30 * rng.random() for _ in range(affiliates)]
    index = {name: i for i, name in enumerate(names)}
    no_value: dict[str, Decimal] = {}
    lengths = rng.choices(TOUCH_COUNTS, TOUCH_WEIGHTS, k=n)
    paths: list[Path] = []
    for length in lengths:
        picks = rng.choices(names, skew, k=length)
        for i in range(1, length):  # a third of next clicks go back to the same affiliate
            if rng.random() < 0.33:
                picks[i] = picks[i - 1]
        age = rng.expovariate(1.0) * DAY_S
        ages = [0.0] * length
        for i in range(length - 1, -1, -1):
            ages[i] = age
            age += rng.expovariate(0.5) * DAY_S
        # More touches and a good last affiliate make conversion likelier (~30 % overall).
        p = quality[index[picks[-1]]] + 0.03 * (length - 1)
        converted = rng.random() < p
        value = no_value
        if converted:
            cents = int(rng.lognormvariate(3.5, 1.0) * 100)
            value = {"EUR" if rng.random() < 0.7 else "USD": Decimal(cents).scaleb(-2)}
        paths.append(Path(tuple(picks), tuple(ages), converted, value))
    return paths


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_attribution_bench(
    n: int, results_file: FilePath | None, clickhouse: PathsBenchConfig | None = None
) -> dict[str, Any]:
    """The in-memory models over `n` paths, then (`clickhouse` given) the report end to end."""
    started = time.perf_counter()
    paths = generate_paths(n)
    generate_s = time.perf_counter() - started
    rss_paths = _peak_rss_mib()
    converted = [p for p in paths if p.converted and p.channels]
    conversions = len(converted)
    value: dict[str, Decimal] = {}
    for p in converted:
        for cur, amount in p.value.items():
            value[cur] = value.get(cur, Decimal(0)) + amount
    distinct_sequences = len({p.channels for p in paths})
    distinct_sets = len({frozenset(p.channels) for p in paths})
    del converted

    params = ModelParams()
    per_model: dict[str, float] = {}
    exact = True
    for model in MODELS:
        t0 = time.perf_counter()
        credits = attribute(paths, [model], params)
        per_model[model] = round(time.perf_counter() - t0, 2)
        exact = exact and credits_exact(credits, conversions, value)
    t0 = time.perf_counter()
    credits = attribute(paths, MODELS, params)
    all_s = time.perf_counter() - t0
    exact = exact and credits_exact(credits, conversions, value)
    channels = len({c.channel for c in credits})
    del paths, credits

    result: dict[str, Any] = {
        "bench": "attribution",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "paths": n,
        "converted": conversions,
        "channels": channels,
        "distinct_sequences": distinct_sequences,
        "distinct_sets": distinct_sets,
        "generate_s": round(generate_s, 1),
        "model_s": per_model,
        "all_models_s": round(all_s, 2),
        "peak_rss_mib": round(_peak_rss_mib(), 0),
        "rss_after_generate_mib": round(rss_paths, 0),
        "exact_sums": exact,
    }
    if clickhouse is not None:
        result["clickhouse"] = run_paths_stage(clickhouse)
    record_result(results_file, result)
    _print(result)
    return result


def _print(result: dict[str, Any]) -> None:
    rows = [
        ("paths (converted)", f"{result['paths']:,} ({result['converted']:,})"),
        (
            "channels / distinct sequences / distinct sets",
            f"{result['channels']} / {result['distinct_sequences']:,} / {result['distinct_sets']:,}",
        ),
        ("generating the paths (s, not timed below)", f"{result['generate_s']}"),
    ]
    rows += [(f"{model} alone (s, grouping pass included)", f"{s}") for model, s in result["model_s"].items()]
    rows += [
        ("all models in one call (s)", f"{result['all_models_s']}  (target < 60)"),
        ("peak RSS (MiB), paths in memory included", f"{result['peak_rss_mib']:,.0f}  (target < 4,096)"),
        ("RSS after generating the paths (MiB)", f"{result['rss_after_generate_mib']:,.0f}"),
        ("every model's sums exact", f"{result['exact_sums']}"),
    ]
    ch = result.get("clickhouse")
    if ch is not None:
        rows += _clickhouse_rows(ch)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    keys = ("paths", "converted", "all_models_s", "peak_rss_mib", "exact_sums")
    last: dict[str, Any] = {**{k: result[k] for k in keys}, "model_s": result["model_s"]}
    if ch is not None:
        steps = ch["steps"]
        last["clickhouse"] = {
            "persons": ch["persons"],
            "fill_s": ch["fill_s"],
            "query_paths_s": {c: s["query_paths_s"] for c, s in steps.items()},
            "models_s": {c: s["models_s"] for c, s in steps.items()},
            "report_s": ch["report_s"],
            "peak_rss_mib": ch["peak_rss_mib"],
            "exact": all(s["exact_sums"] and s["as_generated"] for s in steps.values()),
        }
    print(json.dumps(last), flush=True)


def _clickhouse_rows(ch: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [
        (
            "ClickHouse: persons / unlinked clicks",
            f"{ch['persons']:,} / {ch['unlinked_clicks']:,}",
        ),
        (
            "  fill (Arrow inserts: click events, touchpoints, profiles; s)",
            f"{ch['fill_s']}  ({sum(ch['rows_written'].values()):,} rows)",
        ),
    ]
    for conversion, s in ch["steps"].items():
        rows += [
            (f"  {conversion}: paths (converted)", f"{s['paths']:,} ({s['converted']:,})"),
            (f"  {conversion}: query_paths / all models (s)", f"{s['query_paths_s']} / {s['models_s']}"),
            (
                f"  {conversion}: sums exact / as generated",
                f"{s['exact_sums']} / {s['as_generated']}",
            ),
        ]
    fill_peak, query_peak = ch["fill_peak_mib"], ch["query_peak_mib"]
    rows += [
        ("  report end to end, both conversions (s)", f"{ch['report_s']}  (target < 60)"),
        (
            "  peak RSS MiB (chdb in process): fill / report",
            f"{fill_peak or 0:,.0f} / " + ("-" if query_peak is None else f"{query_peak:,.0f}"),
        ),
        ("peak RSS of the whole run (MiB)", f"{ch['peak_rss_mib']:,.0f}  (target < 4,096)"),
    ]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m clickpath.devtools.bench.attribution")
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument("--no-record", action="store_true", help="do not append to the results file")
    parser.add_argument(
        "--results",
        type=FilePath,
        default=DEFAULT_RESULTS_FILE,
        metavar="FILE",
        help="append the result to FILE as a JSON line (default %(default)s)",
    )
    parser.add_argument(
        "--clickhouse",
        action="store_true",
        help="also run the report end to end: paths from an embedded ClickHouse, then all models",
    )
    parser.add_argument("--persons", type=int, default=1_000_000, help="registered persons (--clickhouse)")
    parser.add_argument(
        "--unlinked-clicks", type=int, default=1_000_000, help="clicks no person's path holds (--clickhouse)"
    )
    args = parser.parse_args(argv)
    clickhouse = (
        PathsBenchConfig(persons=args.persons, unlinked_clicks=args.unlinked_clicks)
        if args.clickhouse
        else None
    )
    run_attribution_bench(args.paths, None if args.no_record else args.results, clickhouse)


if __name__ == "__main__":
    main()
