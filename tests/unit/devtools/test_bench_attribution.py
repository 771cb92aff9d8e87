"""The attribution bench on a small run: deterministic paths, exact sums, a JSON last line."""

from __future__ import annotations

import json

from clickpath.devtools.bench.attribution import generate_paths, run_attribution_bench


def test_paths_are_deterministic_and_look_like_the_stated_mix():
    paths = generate_paths(5_000)
    assert paths == generate_paths(5_000)
    converted = [p for p in paths if p.converted]
    assert 0.22 < len(converted) / len(paths) < 0.38
    assert {c for p in paths for c in p.channels} <= {f"aff-{i:02d}" for i in range(40)}
    assert {len(p.channels) for p in paths} == {1, 2, 3, 4, 5, 6}
    assert {cur for p in converted for cur in p.value} == {"EUR", "USD"}
    assert all(list(p.ages_s) == sorted(p.ages_s, reverse=True) for p in paths)


def test_a_small_run_records_exact_sums(tmp_path, capsys):
    results = tmp_path / "results.jsonl"
    result = run_attribution_bench(3_000, results)
    assert result["exact_sums"] is True
    assert set(result["model_s"]) == {
        "first",
        "last",
        "linear",
        "time_decay",
        "position",
        "markov",
        "shapley",
    }
    assert json.loads(results.read_text())["bench"] == "attribution"
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last)["paths"] == 3_000
