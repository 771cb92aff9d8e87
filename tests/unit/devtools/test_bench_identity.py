"""The identity bench on a small run: the graph it reports is the one the generator built, and
a wrong expectation makes it fail rather than print."""

from __future__ import annotations

import json

import pytest

from clickpath.devtools.bench import identity_population
from clickpath.devtools.bench.identity import BenchMismatch, IdentityBenchConfig, run_identity_bench
from clickpath.devtools.bench.identity_population import KINDS, Population, PopulationError

SMALL = IdentityBenchConfig(players=1000, chunk=500, merges=20)  # two chunks: one is forgotten


def _from_kinds(by_kind: dict[str, int], column: int) -> int:
    """Accounts, persons, merged or possible pairs (KINDS' column) of the persons made."""
    return sum(n * next(k for k in KINDS if k[0] == kind)[column] for kind, n in by_kind.items())


def test_a_small_run_reports_the_persons_and_links_the_generator_made(tmp_path, capsys):
    results = tmp_path / "results.jsonl"
    r = run_identity_bench(IdentityBenchConfig(**{**SMALL.__dict__, "results_file": results}))
    by_kind = r["persons_by_kind"]
    assert _from_kinds(by_kind, 2) == 1000  # accounts
    # The fresh registrations are persons of their own; the merging ones join one each.
    assert r["persons"] == r["persons_expected"] == _from_kinds(by_kind, 3) + SMALL.merges
    assert r["accounts"] == 1000 + 2 * SMALL.merges
    assert r["links"]["merged"] == _from_kinds(by_kind, 4) + SMALL.merges
    assert r["links"]["possible"] == _from_kinds(by_kind, 5)
    assert r["signals"]["open"] == by_kind["multi_account"] > 0
    assert r["links"]["removed"] > 0  # kiosk and carrier pairs, undone when the cap fired
    assert r["shared_share"]["ua_family"] == 1.0 and r["shared"]["device_id"] > 0
    assert r["refused"]["device_id"] > 0 and r["exact"] is True
    assert r["merge_extra_records"] > 0
    assert json.loads(results.read_text())["bench"] == "identity"
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (last["persons"], last["exact"]) == (r["persons"], True)


def test_the_bench_fails_when_the_graph_is_not_the_generators(monkeypatch):
    # Say e-mail pairs merge nothing: the stages still merge them, so the counts disagree.
    wrong = tuple((*k[:4], 0, *k[5:]) if k[0] == "email_pair" else k for k in KINDS)
    monkeypatch.setattr(identity_population, "KINDS", wrong)
    with pytest.raises(BenchMismatch, match="links_merged"):
        run_identity_bench(IdentityBenchConfig(players=500, chunk=500, merges=5))


def test_the_population_is_seeded_and_refuses_what_it_cannot_cap():
    def events(seed: int) -> list[tuple[str, object]]:
        return [(e.event_id, e.occurred_at) for chunk in Population(600, seed, 600).chunks()
                for e in chunk]

    assert events(25) == events(25) != events(26)
    with pytest.raises(PopulationError):
        Population(100)
    with pytest.raises(PopulationError, match="more players per chunk"):
        list(Population(2000, chunk=200).chunks())
