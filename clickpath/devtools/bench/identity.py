"""`clickpath bench-identity`: the identity graph over 1M players with three devices each.

The players of clickpath.devtools.bench.identity_population go, chunk by chunk, as the player
stage's canonical events through the identity and identifier stages (streams/identity.py,
streams/identifiers.py) on the real runtime and codec, in memory
(clickpath.devtools.bench.identity_runner). After each chunk the bench reads what the stages
stored and forgets the chunk's keys (only the shared values' identifiers span chunks), so memory
stays one chunk's while the counts cover every player. Then two small phases time what one
registration costs: `--merges` new accounts that merge into a person by their e-mail hash, and
as many that merge nothing.

It asserts that the graph is the one the generator built (accounts, persons, merged and
possible pairs, open multi-account signals, identifiers and shared identifiers by kind, refused
values), after recording and printing the result: a bench that reports nonsense fails. Ends
with a table and one JSON line.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from clickpath.contracts.topics import Topic
from clickpath.devtools.bench.identity_population import (
    BRAND_OPERATOR,
    START,
    Expected,
    Population,
)
from clickpath.devtools.bench.identity_runner import Cost, IdentityRunner
from clickpath.devtools.bench.results import commit, machine, record_result
from clickpath.devtools.procs import peak_rss_mib
from clickpath.domain.identity.policy import IdentityPolicy
from clickpath.infra.metrics import IDENTITY_REFUSED

NOW = START + timedelta(days=62)  # the stages' processing time: after every event


@dataclass(frozen=True)
class IdentityBenchConfig:
    players: int = 1_000_000
    chunk: int = 50_000  # players whose keys are held at once
    merges: int = 1_000  # registrations in each of the two cost phases
    batch_max: int = 500  # records per micro-batch (agent_batch_max)
    seed: int = 25
    max_accounts: int = 10
    results_file: Path | None = None


class BenchMismatch(AssertionError):
    """The identity graph is not the one the generator built."""


@dataclass
class Tally:
    """What the stages stored, summed over the chunks as they are forgotten."""

    accounts: int = 0
    click_keys: int = 0  # the identity stage's states of clicks (keyed by click id)
    persons: int = 0
    persons_multi: int = 0  # persons with more than one account
    links: Counter[str] = field(default_factory=Counter)  # status -> pairs (from the first side)
    links_other_side: Counter[str] = field(default_factory=Counter)
    signals: Counter[str] = field(default_factory=Counter)  # status -> signals
    touchpoints: Counter[str] = field(default_factory=Counter)  # link -> touchpoints
    account_bytes: int = 0
    account_max: int = 0
    click_bytes: int = 0
    identifiers: Counter[str] = field(default_factory=Counter)  # kind -> identifiers
    shared: Counter[str] = field(default_factory=Counter)
    identifier_bytes: Counter[str] = field(default_factory=Counter)  # kind -> bytes

    def accounts_of(self, rows: Any) -> None:
        persons: Counter[str] = Counter()
        for key, raw in rows:
            st = orjson.loads(raw)["state"]
            if ":" not in key:
                self.click_keys += 1
                self.click_bytes += len(raw)
                continue
            self.accounts += 1
            self.account_bytes += len(raw)
            self.account_max = max(self.account_max, len(raw))
            persons[st["label"]["person_id"]] += 1
            for other, link in st["links"].items():
                (self.links if key < other else self.links_other_side)[link["status"]] += 1
            self.signals.update(s["status"] for s in st["signals"].values())
            self.touchpoints.update(t["link"] for t in st["touchpoints"].values())
        self.persons += len(persons)
        self.persons_multi += sum(1 for n in persons.values() if n > 1)

    def identifiers_of(self, rows: Any) -> None:
        for _, raw in rows:
            st = orjson.loads(raw)["state"]
            self.identifiers[st["kind"]] += 1
            self.identifier_bytes[st["kind"]] += len(raw)
            if st["shared"]:
                self.shared[st["kind"]] += 1


def _refused() -> Counter[str]:
    """The refused sightings counted so far (clickpath_identity_refused_total), by kind."""
    out: Counter[str] = Counter()
    for metric in IDENTITY_REFUSED.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                out[sample.labels["kind"]] += int(sample.value)
    return out


def _diff(after: tuple[dict[Topic, Cost], Counter[str]],
          before: tuple[dict[Topic, Cost], Counter[str]]) -> dict[str, Any]:
    """A phase's records sent and CPU, from two runner snapshots."""
    cpu = sum(a.cpu_s - before[0][t].cpu_s for t, a in after[0].items())
    sent = after[1] - before[1]
    return {"cpu_s": cpu, "sent": {k.removeprefix("bench."): v for k, v in sorted(sent.items())}}


def _phase(runner: IdentityRunner, events: Any) -> dict[str, Any]:
    before = runner.snapshot()
    runner.produce_canonical(events)
    runner.drain()
    out = _diff(runner.snapshot(), before)
    n = len(events)
    out["records_per_registration"] = round(sum(out["sent"].values()) / n, 2)
    out["cpu_ms_per_registration"] = round(out["cpu_s"] * 1000 / n, 3)
    del out["cpu_s"]
    return out


def _checks(t: Tally, e: Expected, refused: Counter[str]) -> dict[str, list[Any]]:
    """Each measure next to the generator's expectation: [measured, expected]."""
    return {
        "accounts": [t.accounts, e.accounts],
        "persons": [t.persons, e.persons],
        "links_merged": [t.links["merged"], e.merged],
        "links_possible": [t.links["possible"], e.possible],
        "links_agree_both_sides": [dict(t.links), dict(t.links_other_side)],
        "signals_open": [t.signals["open"], e.signals],
        "identifiers": [dict(sorted(t.identifiers.items())), dict(sorted(e.identifiers.items()))],
        "shared": [dict(sorted(t.shared.items())), dict(sorted(e.shared.items()))],
        "refused": [dict(sorted(refused.items())), dict(sorted(e.refused.items()))],
    }


def run_identity_bench(cfg: IdentityBenchConfig) -> dict[str, Any]:
    policy = IdentityPolicy(operators=BRAND_OPERATOR, max_accounts=cfg.max_accounts)
    population = Population(cfg.players, cfg.seed, cfg.chunk, cfg.max_accounts)
    runner = IdentityRunner(policy, NOW, cfg.batch_max)
    tally = Tally()
    refused_before = _refused()
    started, generate_s, chunks = time.perf_counter(), 0.0, 0
    state_peak = 0
    made = population.chunks()
    while True:
        t0 = time.perf_counter()
        events = next(made, None)
        generate_s += time.perf_counter() - t0
        if events is None:
            break
        runner.produce_canonical(events)
        del events
        runner.drain()
        chunks += 1
        done = min(chunks * cfg.chunk, cfg.players)
        print(f"bench-identity: {done:,} of {cfg.players:,} players in"
              f" {time.perf_counter() - started:,.0f} s", flush=True)
        if chunks * cfg.chunk < cfg.players:  # the last chunk stays for the cost phases
            state_peak = max(state_peak, _stored_bytes(runner))
            _forget(runner, tally, population.pool_identifiers)
    main = runner.snapshot()
    main_s = time.perf_counter() - started
    fresh = _phase(runner, population.fresh(cfg.merges))
    merging = _phase(runner, population.merging(cfg.merges))
    state_peak = max(state_peak, _stored_bytes(runner))
    changelog = {name: (store.writes, store.written_bytes) for name, store in runner.stores.items()}
    _forget(runner, tally, ())
    refused = _refused() - refused_before
    e = population.expected
    checks = _checks(tally, e, refused)
    costs, sent = main
    stage_cost = {
        "identity": _sum(costs[Topic.CANONICAL], costs[Topic.IDENTITY_INBOX]),
        "identifiers": costs[Topic.IDENTITY_SIGHTINGS],
    }
    canonical = costs[Topic.CANONICAL].records
    cpu_all = sum(c.cpu_s for c in costs.values())
    result: dict[str, Any] = {
        "bench": "identity", "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(), "machine": machine(),
        "players": cfg.players, "chunk": cfg.chunk, "max_accounts": cfg.max_accounts,
        "events": canonical,
        "records": {t.value: c.records for t, c in costs.items()},
        "per_1k_records": {
            "identity.canonical": costs[Topic.CANONICAL].per_1k(),
            "identity.inbox": costs[Topic.IDENTITY_INBOX].per_1k(),
            "identity": stage_cost["identity"].per_1k(),
            "identifiers": stage_cost["identifiers"].per_1k(),
        },
        "cpu_ms_per_1k_events": round(cpu_all * 1e6 / max(canonical, 1), 1),
        "stage_wall_s": round(sum(c.wall_s for c in costs.values()), 1),
        "run_s": round(main_s, 1), "generate_s": round(generate_s, 1),
        "sent": {k.removeprefix("bench."): v for k, v in sorted(sent.items())},
        "persons": tally.persons, "persons_expected": e.persons,
        "persons_multi_account": tally.persons_multi,
        "persons_by_kind": dict(e.by_kind),
        "accounts": tally.accounts,
        "links": dict(tally.links), "signals": dict(tally.signals),
        "touchpoints": dict(tally.touchpoints),
        "identifiers": dict(sorted(tally.identifiers.items())),
        "shared": dict(sorted(tally.shared.items())),
        "shared_share": {k: round(tally.shared[k] / n, 6) for k, n in sorted(tally.identifiers.items())},
        "refused": dict(sorted(refused.items())),
        "state_bytes": _state_bytes(tally, state_peak),
        "changelog": {k: {"writes": w, "bytes": b} for k, (w, b) in changelog.items()},
        "registration_fresh": fresh, "registration_merging": merging,
        "merge_extra_records": _extra(merging, fresh, "records_per_registration", 2),
        "merge_extra_cpu_ms": _extra(merging, fresh, "cpu_ms_per_registration", 3),
        "peak_rss_mib": peak_rss_mib(os.getpid()),
        "checks": checks,
        "exact": all(measured == expected for measured, expected in checks.values()),
    }
    record_result(cfg.results_file, result)
    _print(result)
    if not result["exact"]:
        wrong = {k: v for k, v in checks.items() if v[0] != v[1]}
        raise BenchMismatch(f"the identity graph is not the generator's: {wrong}")
    return result


def _state_bytes(t: Tally, held_peak: int) -> dict[str, Any]:
    """The stored JSON's size: per account (and the largest), per click (its own state), per
    identifier (by kind), in all, and the most the bench held at once."""
    identifiers, ident_bytes = sum(t.identifiers.values()), sum(t.identifier_bytes.values())
    return {
        "accounts": t.account_bytes, "per_account": round(t.account_bytes / max(t.accounts, 1)),
        "account_max": t.account_max,
        "clicks": t.click_bytes, "per_click": round(t.click_bytes / max(t.click_keys, 1)),
        "identifiers": ident_bytes, "per_identifier": round(ident_bytes / max(identifiers, 1)),
        "per_identifier_by_kind": {
            k: round(b / t.identifiers[k]) for k, b in sorted(t.identifier_bytes.items())
        },
        "total": t.account_bytes + t.click_bytes + ident_bytes,
        "held_peak": held_peak,
    }


def _extra(merging: dict[str, Any], fresh: dict[str, Any], key: str, digits: int) -> float:
    return round(float(merging[key]) - float(fresh[key]), digits)


def _sum(*costs: Cost) -> Cost:
    return Cost(sum(c.records for c in costs), sum(c.batches for c in costs),
                sum(c.wall_s for c in costs), sum(c.cpu_s for c in costs))


def _stored_bytes(runner: IdentityRunner) -> int:
    return sum(len(v) for store in runner.stores.values() for v in store.rows.values())


def _forget(runner: IdentityRunner, tally: Tally, keep: Any) -> None:
    tally.accounts_of(runner.stores["identity"].forget())
    tally.identifiers_of(runner.stores["identifiers"].forget(keep))


def _print(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"clickpath bench-identity — {r['commit']} on {r['machine']['cpus']} CPUs")
    for col in ("measure", "value", "expected"):
        table.add_column(col)
    c = r["checks"]
    p = r["per_1k_records"]
    rec = r["records"]
    table.add_row("players (brand accounts) / canonical events",
                  f"{r['accounts']:,} / {r['events']:,}", f"{c['accounts'][1]:,}")
    table.add_row("records read: sightings / inbox",
                  f"{rec[Topic.IDENTITY_SIGHTINGS.value]:,} / {rec[Topic.IDENTITY_INBOX.value]:,}", "")
    for name, label in (("identity.canonical", "identity stage, canonical events"),
                        ("identity.inbox", "identity stage, inbox records"),
                        ("identifiers", "identifier stage, sightings")):
        table.add_row(f"{label}: wall / CPU ms per 1,000", f"{p[name]['wall_ms']} / {p[name]['cpu_ms']}", "")
    table.add_row("both stages, CPU ms per 1,000 canonical events", f"{r['cpu_ms_per_1k_events']:,}", "")
    table.add_row("time in the stages / whole run (incl. generating)",
                  f"{r['stage_wall_s']} s / {r['run_s']} s", "")
    table.add_row("persons (with more than one account)",
                  f"{r['persons']:,} ({r['persons_multi_account']:,})", f"{c['persons'][1]:,}")
    links = r["links"]
    table.add_row("links merged / possible (pairs)",
                  f"{links.get('merged', 0):,} / {links.get('possible', 0):,}",
                  f"{c['links_merged'][1]:,} / {c['links_possible'][1]:,}")
    table.add_row("links removed (undone when a value was capped)", f"{links.get('removed', 0):,}", "")
    sig = r["signals"]
    table.add_row("multi-account signals open / withdrawn",
                  f"{sig.get('open', 0):,} / {sig.get('withdrawn', 0):,}", f"{c['signals_open'][1]:,}")
    table.add_row("touchpoints named click / device",
                  " / ".join(f"{r['touchpoints'].get(k, 0):,}" for k in ("named_click", "device")), "")
    for kind, n in r["identifiers"].items():
        share = r["shared_share"][kind]
        table.add_row(f"identifiers {kind}: total, shared (capped)",
                      f"{n:,}, {r['shared'].get(kind, 0):,} ({share:.4%})",
                      f"{c['identifiers'][1].get(kind, 0):,}, {c['shared'][1].get(kind, 0):,}")
    table.add_row("refused sightings by kind", json.dumps(r["refused"]), json.dumps(c["refused"][1]))
    sb = r["state_bytes"]
    table.add_row("stored state: bytes per account (max) / per click",
                  f"{sb['per_account']:,} ({sb['account_max']:,}) / {sb['per_click']:,}", "")
    table.add_row("stored state: bytes per identifier", f"{sb['per_identifier']:,} "
                  + json.dumps(sb["per_identifier_by_kind"]), "")
    table.add_row("stored state: total MiB (held at most at once)",
                  f"{sb['total'] / 2**20:,.1f} ({sb['held_peak'] / 2**20:,.1f})", "")
    for name, label in (("registration_fresh", "registration that merges nothing"),
                        ("registration_merging", "registration that merges (same e-mail)")):
        ph = r[name]
        table.add_row(f"{label}: records sent / CPU ms", f"{ph['records_per_registration']} / "
                      f"{ph['cpu_ms_per_registration']}", "")
    table.add_row("a merge's extra records / CPU ms",
                  f"{r['merge_extra_records']} / {r['merge_extra_cpu_ms']}", "")
    table.add_row("peak RSS MiB", f"{r['peak_rss_mib'] or 0:,.0f}", "")
    table.add_row("graph equals the generator's", "yes" if r["exact"] else "NO", "yes")
    Console().print(table)
    keys = ("players", "events", "persons", "persons_expected", "links", "signals", "shared_share",
            "cpu_ms_per_1k_events", "per_1k_records", "state_bytes", "merge_extra_records",
            "merge_extra_cpu_ms", "run_s", "peak_rss_mib", "exact")
    print(json.dumps({k: r[k] for k in keys}), flush=True)
