"""Bad arguments are named, with the nearest right one; help is for people; a closed pipe is
not a crash. What a newcomer types wrong in the first hour (issue 21, item 13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from clickpath.run import checks
from clickpath.run.checks import check_brand
from clickpath.run.cli import HIDDEN, build_parser, main
from clickpath.run.errors import CommandError
from clickpath.settings import Settings


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch: pytest.MonkeyPatch):
    for var in ("CLICKPATH_AFFILIATES", "CLICKPATH_CONFIG", "CLICKPATH_HTTP_PORT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CLICKPATH_DATA_DIR", str(tmp_path / "cp"))
    monkeypatch.setenv("CLICKPATH_INSTANCES_DIR", str(tmp_path / "instances"))
    return tmp_path / "cp"


def fails(argv: list[str], capsys) -> str:
    """Run `clickpath ARGV`, expecting exit 2; its stderr."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_a_misspelled_flag_is_named_with_the_nearest_one(capsys) -> None:
    err = fails(["report", "--fromat", "json"], capsys)
    assert "unrecognized arguments: --fromat (did you mean --format?)" in err
    assert "clickpath report: error:" in err  # the command it was given to, not the top level
    assert "did you mean --model?" in fails(["report", "attribution", "--modle", "linear"], capsys)
    assert "did you mean --half-life-days?" in fails(["report", "--half-life-dys=2"], capsys)


def test_a_misspelled_command_or_choice_is_named_with_the_nearest_one(capsys) -> None:
    err = fails(["reprot"], capsys)
    assert "unknown command 'reprot' (did you mean report?)" in err
    assert "worker" not in err  # internal commands are not offered
    assert "(did you mean attribution?)" in fails(["report", "atribution"], capsys)


def test_a_malformed_date_says_what_a_date_looks_like(capsys) -> None:
    err = fails(["report", "--since", "2026-13-01"], capsys)
    assert "argument --since: '2026-13-01' is not a date" in err and "YYYY-MM-DD" in err
    assert "argument --until: '31/01/2026' is not a date" in fails(["report", "--until", "31/01/2026"],
                                                                    capsys)
    assert "argument --position-first: 'half' is not a number" in fails(
        ["report", "attribution", "--position-first", "half"], capsys)


def test_since_after_until_is_refused_before_anything_is_asked(capsys, data_dir) -> None:
    err = fails(["report", "--since", "2026-02-01", "--until", "2026-01-01"], capsys)
    assert err == ("clickpath: --since 2026-02-01 is after --until 2026-01-01: nothing could"
                   " match (both days are included)\n")
    assert not data_dir.exists()


@pytest.fixture
def campaigns(monkeypatch) -> None:
    campaign = {"brand_id": "luckyspin", "landing_url": "https://luckyspin.example/?c={click_id}"}
    other = {"brand_id": "goldbet", "landing_url": "https://goldbet.example/?c={click_id}"}
    monkeypatch.setenv("CLICKPATH_AFFILIATES", json.dumps(
        {"aff-1": {"campaigns": {"spring": campaign, "autumn": other}}}))


def test_an_unknown_brand_is_named_with_the_known_ones(capsys, monkeypatch, data_dir, campaigns) -> None:
    monkeypatch.setattr(checks, "brands_with_data", lambda settings: {"reelhouse"})
    err = fails(["report", "--brand", "lukyspin"], capsys)
    assert err == ("clickpath: unknown brand 'lukyspin' (did you mean luckyspin?); known brands:"
                   " goldbet, luckyspin, reelhouse (from campaigns, settings, API keys and the data)\n")
    assert "unknown brand 'acme'; known brands" in fails(["sql", "SELECT 1", "--brand", "acme"], capsys)
    assert not data_dir.exists()  # looking for brands created nothing


def test_a_brand_with_rows_but_no_campaign_is_a_brand(monkeypatch, campaigns) -> None:
    """An import-only brand: ClickHouse has its rows. Where that cannot be asked, pass it on."""
    args = build_parser().parse_args(["report", "--brand", "reelhouse"])
    settings = Settings()
    monkeypatch.setattr(checks, "brands_with_data", lambda settings: {"reelhouse"})
    checks.check_filters(settings, args)
    monkeypatch.setattr(checks, "brands_with_data", lambda settings: None)
    checks.check_filters(settings, args)
    monkeypatch.setattr(checks, "brands_with_data", lambda settings: set())
    with pytest.raises(CommandError, match="unknown brand 'reelhouse'"):
        checks.check_filters(settings, args)


def test_with_no_brand_known_anywhere_the_filter_is_passed_on() -> None:
    check_brand("acme", [])
    with pytest.raises(CommandError):
        check_brand("acme", ["luckyspin"])


def test_no_arguments_prints_the_help(capsys) -> None:
    main([])
    out = capsys.readouterr().out
    assert out.startswith("usage: clickpath") and "clickpath up --demo" in out
    rows = out.split("commands:")[1].splitlines()[2:]
    listed = {row.split()[0] for row in rows if row.startswith("    ") and row[4] != " "}
    assert {"up", "status", "report", "sql", "links", "import", "keys"} <= listed
    assert not listed & set(HIDDEN)


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("clickpath ")


def test_every_public_command_has_help_written_for_people(capsys) -> None:
    sub = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    for name, parser in sub.choices.items():
        description = parser.description or ""
        assert description and "This module" not in description and "`clickpath" not in description[:10]
        if name in HIDDEN:
            assert description.startswith("Internal:"), name
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "Reports on the running pipeline" in out and "YYYY-MM-DD" in out


@pytest.mark.parametrize("argv", [["postbacks", "presets"], ["fx", "--format", "json"]])
def test_a_closed_pipe_ends_quietly(argv, tmp_path) -> None:
    """`clickpath report | head -1`: the reader is gone before the output is written. It ends
    as a Unix tool killed by SIGPIPE does (128 + 13), without a traceback."""
    read, write = os.pipe()
    os.close(read)  # no reader at all: the first write fails with EPIPE
    env = {**os.environ, "CLICKPATH_DATA_DIR": str(tmp_path / "cp"),
           "CLICKPATH_INSTANCES_DIR": str(tmp_path / "instances")}
    try:
        result = subprocess.run([sys.executable, "-m", "clickpath.run.cli", *argv], stdout=write,
                                stderr=subprocess.PIPE, text=True, env=env, timeout=60)
    finally:
        os.close(write)
    assert result.stderr == "" and result.returncode == 141
