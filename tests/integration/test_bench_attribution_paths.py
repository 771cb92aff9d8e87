"""The attribution bench's ClickHouse stage on a tiny run (real chdb, the shipped DDL): the
filled tables give back the generated paths through `query_paths`, and every model's credits
add up exactly to them."""

from __future__ import annotations

import json

from clickpath.devtools.bench.attribution import run_attribution_bench
from clickpath.devtools.bench.attribution_paths import PathsBenchConfig, run_paths_stage


def test_the_paths_read_back_are_the_generated_ones_and_every_model_sums_exactly():
    stage = run_paths_stage(PathsBenchConfig(persons=3_000, unlinked_clicks=2_000, chunk=1_000))
    ftd, registration = stage["steps"]["ftd"], stage["steps"]["registration"]
    for step in (ftd, registration):
        assert step["exact_sums"] is True
        assert step["as_generated"] is True
    assert ftd["paths"] == 3_000
    assert 0.2 < ftd["converted"] / 3_000 < 0.4
    assert registration["converted"] == 3_000
    # unlinked clicks: about 40 % on devices of 1-3 clicks (one path each), the rest alone
    assert 3_000 + 1_200 < registration["paths"] < 3_000 + 2_000
    assert stage["rows_written"]["identity_touchpoints"] > 3_000  # multi-touch paths
    assert stage["rows_written"]["player_profile_rows"] == 3_000


def test_the_bench_with_clickhouse_records_the_stage_and_ends_with_its_json(tmp_path, capsys):
    results = tmp_path / "results.jsonl"
    cfg = PathsBenchConfig(persons=1_000, unlinked_clicks=500, chunk=400)
    run_attribution_bench(1_000, results, cfg)
    assert json.loads(results.read_text())["clickhouse"]["persons"] == 1_000
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["clickhouse"]["exact"] is True
    assert set(last["clickhouse"]["query_paths_s"]) == {"ftd", "registration"}
