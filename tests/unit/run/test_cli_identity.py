"""`clickpath identity unmerge`: its arguments, a bad value named before any broker is asked,
and no broker to write to said as such."""

from __future__ import annotations

import pytest

from clickpath.run.cli import CLIENT_COMMANDS, build_parser
from clickpath.run.errors import CommandError
from clickpath.settings import Settings


def test_the_account_and_the_reason_are_required(capsys) -> None:
    args = build_parser().parse_args(["identity", "unmerge", "--brand", "brand-b", "q1",
                                      "--reason", "support ticket 12"])
    assert (args.brand, args.player_id, args.reason) == ("brand-b", "q1", "support ticket 12")
    assert "identity" in CLIENT_COMMANDS  # aimed at the running `up`'s broker
    with pytest.raises(SystemExit):
        build_parser().parse_args(["identity", "unmerge", "--brand", "brand-b", "q1"])
    assert "--reason" in capsys.readouterr().err


def test_personal_data_in_the_reason_is_named_before_the_broker_is_asked(tmp_path) -> None:
    args = build_parser().parse_args(["identity", "unmerge", "--brand", "brand-b", "q1",
                                      "--reason", "mail from ann@example.com"])
    settings = Settings(data_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1")
    with pytest.raises(CommandError) as refused:
        args.func(settings, args)
    assert str(refused.value).startswith("reason: holds what looks like an e-mail address")


def test_without_a_running_up_or_a_broker_it_says_so(tmp_path) -> None:
    args = build_parser().parse_args(["identity", "unmerge", "--brand", "brand-b", "q1",
                                      "--reason", "support ticket 12"])
    with pytest.raises(CommandError) as refused:
        args.func(Settings(data_dir=tmp_path, kafka_bootstrap_servers=None), args)
    assert refused.value.code == 1 and "no broker" in str(refused.value)
