"""The `clickpath` command line that operators and scripts rely on: every command and flag, the
exit codes, and `status` when nothing runs."""

from __future__ import annotations

import argparse
import json

import pytest

from clickpath.run.cli import build_parser, main
from clickpath.run.state import RoleState, UpState, state_path, write_state

ENDPOINT_FLAGS = {"action", "id", "--affiliate", "--brand", "--url", "--method", "--body", "--events",
                  "--sign", "--reason", "--format", "--replace"}
RESULTS_FLAGS = {"--no-record", "--results"}
COMMANDS = {
    "up": {"--demo", "--rate", "--status-every"},
    "status": {"--format"},
    "worker": {"--index"},
    "sink": {"kind"},
    "api": set(),
    "demo": {"kind", "--rate", "--port"},
    "report": {"kind", "--format", "--brand", "--since", "--until", "--model", "--conversion",
               "--value", "--by", "--half-life-days", "--position-first", "--position-last",
               "--lookback-days", "--grain", "--periods", "--currency", "--layout"},
    "sql": {"query", "--format", "--brand"},
    "player": {"player_id", "--brand", "--limit", "--player", "--requested-by", "--reason"},
    "ledger": {"--affiliate", "--period", "--as-of", "--format", "ledger_action"},
    "statements": {"--period", "--as-of", "--format", "statements_action"},
    "close": {"--period", "--format"},
    "bench": {"--events", "--workers", "--latency-rate", "--latency-seconds", "--latency-workers"}
    | RESULTS_FLAGS,
    "bench-ingress": {"--seconds", "--batch", "--concurrency", "--click-rate"} | RESULTS_FLAGS,
    "bench-deliveries": {"--backlog", "--endpoints", "--rate", "--seconds"} | RESULTS_FLAGS,
    "bench-clickhouse": {"--sizes", "--chunk", "--repeats", "--clickhouse-url"} | RESULTS_FLAGS,
    "bench-state": {"--deposits", "--wagers"} | RESULTS_FLAGS,
    "bench-cohorts": {"--players", "--chunk", "--repeats", "--periods", "--clickhouse-url"}
    | RESULTS_FLAGS,
    "bench-statements": {"--affiliates", "--players", "--chunk", "--repeats", "--clickhouse-url"}
    | RESULTS_FLAGS,
    "bench-identity": {"--players", "--chunk", "--merges"} | RESULTS_FLAGS,
    "topics": set(),
    "import": {"file", "--format", "--brand", "--source", "--dry-run", "--rejects", "--batch",
               "--rate", "--ack-timeout", "--json"},
    "postbacks": ENDPOINT_FLAGS | {"--preset", "--base-url", "--param", "--event"},
    "webhooks": ENDPOINT_FLAGS,
    "deliveries": {"action", "--endpoint", "--job"},
    "keys": {"action", "key", "--role", "--brand", "--affiliate", "--format"},
    "links": {"--format"},
    "plans": {"action", "plan_id", "--file", "--format"},
    "affiliates": {"action", "affiliate_id", "--name", "--parent-id", "--no-parent", "--payout-currency",
                   "--min-payout", "--legal-name", "--address", "--country", "--vat-id",
                   "--reverse-charge", "--no-reverse-charge", "--format"},
    "campaigns": {"action", "affiliate_id", "campaign_id", "--brand", "--landing-url", "--tracking-code",
                  "--affiliate", "--format"},
    "mappings": {"--format"},
    "fx": {"--format"},
    "identity": {"identity_action"},
    "audit": {"audit_action"},
}


def test_every_command_and_flag_is_still_there() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    found = {
        name: {s for a in p._actions if not isinstance(a, argparse._HelpAction)
               for s in (a.option_strings or [a.dest])}
        for name, p in sub.choices.items()
    }
    assert found == COMMANDS


def test_status_format_choices() -> None:
    assert build_parser().parse_args(["status"]).format == "table"
    assert build_parser().parse_args(["status", "--format", "json"]).format == "json"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["status", "--format", "yaml"])


@pytest.fixture
def data_dir(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CLICKPATH_DATA_DIR", str(tmp_path / "cp"))
    return tmp_path / "cp"


def test_status_with_nothing_running_says_so_and_exits_1(data_dir, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["status"])
    assert exit_.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    path = data_dir / "up-state.json"
    assert err == f"clickpath: `clickpath up` is not running (no state file at {path})\n"


def test_status_json_of_an_up_that_was_killed(data_dir, capsys) -> None:
    dead = 2**22 + 7  # above Linux's default pid_max: no such process
    write_state(state_path(data_dir), UpState(
        pid=dead, state="running", broker="127.0.0.1:1", service_url="http://127.0.0.1:2",
        data_dir=str(data_dir), started_at="t0", updated_at="t1",
        roles=(RoleState("worker-0", dead + 1, "running"), RoleState("api", dead + 2, "running")),
    ))
    with pytest.raises(SystemExit) as exit_:
        main(["status", "--format", "json"])
    assert exit_.value.code == 1
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["up"] is False and report["state"] == "gone"
    assert [(r["name"], r["state"]) for r in report["roles"]] == [("worker-0", "gone"), ("api", "gone")]
    assert "not running" in err


def test_an_unreadable_state_file_is_an_error_not_a_traceback(data_dir, capsys) -> None:
    data_dir.mkdir(parents=True)
    state_path(data_dir).write_text("[]")
    with pytest.raises(SystemExit) as exit_:
        main(["status"])
    assert exit_.value.code == 1
    assert "cannot read the state of `clickpath up`" in capsys.readouterr().err


def test_a_command_error_is_one_line_on_stderr_with_exit_2(data_dir, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["keys", "revoke"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "clickpath: keys revoke needs the key id (or the key)\n"
