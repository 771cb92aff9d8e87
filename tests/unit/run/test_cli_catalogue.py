"""`clickpath affiliates` and `clickpath campaigns`: the arguments and the bodies they send, how
answers and refusals read, and the commands against the admin API of an in-process service
(no broker; tests/integration/test_cli_catalogue.py runs them against a real one)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from structlog.testing import capture_logs

from clickpath.run.catalogue_text import (
    AFFILIATE_FLAGS,
    CAMPAIGN_FLAGS,
    affiliate_body,
    affiliate_detail,
    affiliates_table,
    campaign_body,
    campaigns_table,
    refusal,
)
from clickpath.run.cli import CLIENT_COMMANDS, build_parser
from clickpath.run.commands_catalogue import cmd_affiliates, cmd_campaigns
from clickpath.run.errors import CommandError
from clickpath.settings import Settings
from tests.integration.harness import ServedApp
from tests.unit.connectors.http_support import LANDING, service


def parse(*argv: str) -> Any:
    return build_parser().parse_args(list(argv))


# --- arguments and bodies --------------------------------------------------------------------


def test_affiliates_add_sends_only_the_fields_given() -> None:
    assert affiliate_body(parse("affiliates", "add", "aff-9")) == {}
    assert affiliate_body(parse("affiliates", "add", "aff-9", "--name", "Nine")) == {"name": "Nine"}
    args = parse("affiliates", "add", "aff-9", "--name", "Nine Media", "--parent-id", "aff-1",
                 "--payout-currency", "EUR", "--min-payout", "100.00", "--legal-name", "Nine Ltd",
                 "--address", "1 Main St, Valletta", "--country", "MT", "--vat-id", "MT123",
                 "--reverse-charge")
    assert affiliate_body(args) == {
        "name": "Nine Media", "parent_id": "aff-1", "payout_currency": "EUR", "min_payout": "100.00",
        "legal_name": "Nine Ltd", "address": "1 Main St, Valletta", "country": "MT",
        "vat_id": "MT123", "vat_reverse_charge": True,
    }
    assert affiliate_body(parse("affiliates", "add", "a", "--no-reverse-charge")) == {
        "vat_reverse_charge": False}
    assert affiliate_body(parse("affiliates", "add", "a", "--no-parent")) == {"parent_id": None}


def test_campaigns_add_sends_the_whole_campaign() -> None:
    args = parse("campaigns", "add", "aff-1", "summer", "--brand", "b", "--landing-url", LANDING)
    assert (args.affiliate_id, args.campaign_id) == ("aff-1", "summer")
    assert campaign_body(args) == {"brand_id": "b", "landing_url": LANDING, "tracking_code": None}
    args = parse("campaigns", "add", "aff-1", "summer", "--brand", "b", "--landing-url", LANDING,
                 "--tracking-code", "sum1")
    assert campaign_body(args)["tracking_code"] == "sum1"
    assert parse("campaigns", "list", "--affiliate", "aff-1").affiliate == "aff-1"


@pytest.mark.parametrize(("argv", "named"), [
    (["affiliates", "add", "a", "--min-payout", "lots"], "argument --min-payout: 'lots' is not a number"),
    (["affiliates", "add", "a", "--parnt-id", "b"], "(did you mean --parent-id?)"),
    (["affiliates", "remove", "a"], "invalid choice: 'remove'"),
    (["affiliates", "add", "a", "--parent-id", "b", "--no-parent"],
     "argument --no-parent: not allowed with argument --parent-id"),
    (["affiliates", "show", "no/such"], "argument AFFILIATE_ID: 'no/such' is not an id"),
    (["campaigns", "add", "a", "has space"], "argument CAMPAIGN_ID: 'has space' is not an id"),
    (["campaigns", "list", "--affiliate", "../x"], "argument --affiliate: '../x' is not an id"),
    (["campaigns", "add", "a", "c", "--landing", LANDING, "--brnd", "b"], "(did you mean --brand?)"),
])
def test_bad_arguments_are_named(argv, named, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(*argv)
    assert exit_.value.code == 2
    assert named in capsys.readouterr().err


def test_both_groups_are_aimed_at_the_running_up() -> None:
    assert {"affiliates", "campaigns"} <= CLIENT_COMMANDS
    help_text = build_parser().format_help()
    assert "affiliates" in help_text and "campaigns" in help_text


# --- how answers and refusals read -----------------------------------------------------------


def test_a_refusal_names_the_flag_that_set_the_field() -> None:
    body = {"detail": [{"loc": ["body", "parent_id"], "msg": "affiliates.a.parent_id: no affiliate 'x'",
                        "type": "value_error"}]}
    assert refusal(422, body, AFFILIATE_FLAGS) == "--parent-id: affiliates.a.parent_id: no affiliate 'x'"
    body = {"detail": [
        {"loc": ["body", "landing_url"], "msg": "Value error, unknown macro {nope}", "type": "value_error"},
        {"loc": ["path", "campaign_id"], "msg": "String should match pattern '^x$'", "type": "x"},
    ]}
    assert refusal(422, body, CAMPAIGN_FLAGS) == (
        "--landing-url: unknown macro {nope}; CAMPAIGN_ID: String should match pattern '^x$'")
    assert refusal(404, {"detail": "no affiliate 'ghost'"}, AFFILIATE_FLAGS) == "no affiliate 'ghost'"
    assert refusal(500, {"detail": None}, AFFILIATE_FLAGS) == "answered 500"
    body = {"detail": [{"loc": ["body", "campaigns", "x"], "msg": "Extra inputs are not permitted"}]}
    assert refusal(422, body, AFFILIATE_FLAGS) == "campaigns.x: Extra inputs are not permitted"


CAMPAIGN = {"affiliate_id": "aff-9", "campaign_id": "summer", "brand_id": "brand-a",
            "landing_url": LANDING, "tracking_code": "sum1", "url": "https://t.example/c/sum1",
            "query_url": "https://t.example/c?aff=aff-9&campaign=summer"}
AFFILIATE = {"affiliate_id": "aff-9", "name": "Nine", "postback_url": None,
             "postback_events": ["registration", "ftd"], "parent_id": "aff-1", "payout_currency": "EUR",
             "min_payout": "100.00", "legal_name": "Nine Ltd", "address": "1 Main St", "country": "MT",
             "vat_id": "MT123", "vat_reverse_charge": True, "campaigns": [CAMPAIGN]}


def test_the_tables_show_each_field_and_link() -> None:
    assert affiliates_table([AFFILIATE, {**AFFILIATE, "affiliate_id": "aff-10", "name": "",
                                         "parent_id": None, "min_payout": None, "campaigns": []}]) == (
        "AFFILIATE  NAME  PARENT  CURRENCY  MIN PAYOUT  COUNTRY  CAMPAIGNS\n"
        "aff-9      Nine  aff-1   EUR       100.00      MT       1\n"
        "aff-10     -     -       EUR       -           MT       0"
    )
    assert campaigns_table([CAMPAIGN]) == (
        "AFFILIATE  CAMPAIGN  BRAND    CODE  LINK\n"
        "aff-9      summer    brand-a  sum1  https://t.example/c/sum1\n"
        f"    lands on {LANDING}\n"
        "    also     https://t.example/c?aff=aff-9&campaign=summer"
    )
    detail = affiliate_detail(AFFILIATE).splitlines()
    assert detail[:13] == [
        "affiliate aff-9",
        "  name:            Nine",
        "  parent:          aff-1",
        "  payout currency: EUR",
        "  minimum payout:  100.00",
        "  legal name:      Nine Ltd",
        "  address:         1 Main St",
        "  country:         MT",
        "  VAT id:          MT123",
        "  reverse charge:  yes",
        "  postback URL:    -",
        "  postback events: registration,ftd",
        "",
    ]
    assert "https://t.example/c/sum1" in detail[14]
    assert "no campaigns" in affiliate_detail({**AFFILIATE, "campaigns": []})
    assert "No affiliates yet" in affiliates_table([])


# --- the commands against the admin API --------------------------------------------------------


@pytest.fixture
def settings(tmp_path):
    """A service in this process; its log lines are captured, not mixed into the command's stdout."""
    app, ctx = service(tmp_path, tracker_base_url="https://t.example")
    with capture_logs(), ServedApp(app) as server:
        yield ctx.settings.with_overrides(http_port=server.port)


def test_add_list_and_show_through_the_admin_api(settings, capsys) -> None:
    cmd_affiliates(settings, parse("affiliates", "add", "aff-9", "--name", "Nine", "--parent-id", "aff-1",
                                   "--min-payout", "100.00", "--country", "MT", "--format", "json"))
    out = capsys.readouterr()
    added = json.loads(out.out)
    assert (added["parent_id"], added["min_payout"], added["country"]) == ("aff-1", "100.00", "MT")
    assert "affiliate aff-9 added" in out.err
    # A second add changes only what it names.
    cmd_affiliates(settings, parse("affiliates", "add", "aff-9", "--vat-id", "MT123"))
    out = capsys.readouterr()
    assert "affiliate aff-9 changed" in out.err
    assert "  parent:          aff-1" in out.out and "  VAT id:          MT123" in out.out

    cmd_campaigns(settings, parse("campaigns", "add", "aff-9", "summer", "--brand", "brand-a",
                                  "--landing-url", LANDING, "--tracking-code", "sum1"))
    assert "https://t.example/c/sum1" in capsys.readouterr().out
    cmd_affiliates(settings, parse("affiliates", "list", "--format", "json"))
    listed = {a["affiliate_id"]: a for a in json.loads(capsys.readouterr().out)}
    assert set(listed) == {"aff-1", "aff-9"} and len(listed["aff-9"]["campaigns"]) == 1
    cmd_affiliates(settings, parse("affiliates", "show", "aff-9"))
    assert "https://t.example/c/sum1" in capsys.readouterr().out
    cmd_campaigns(settings, parse("campaigns", "list", "--affiliate", "aff-9", "--format", "json"))
    assert [c["url"] for c in json.loads(capsys.readouterr().out)] == ["https://t.example/c/sum1"]
    cmd_campaigns(settings, parse("campaigns", "list"))
    table = capsys.readouterr().out
    assert "https://t.example/c/spring1" in table and "https://t.example/c/sum1" in table


@pytest.mark.parametrize(("argv", "message"), [
    (["affiliates", "add", "aff-9", "--parent-id", "ghost"],
     "affiliates add aff-9: --parent-id: affiliates.aff-9.parent_id: no affiliate 'ghost'"
     " (the service answered 422)"),
    (["affiliates", "add", "aff-1", "--parent-id", "aff-1"], "--parent-id: affiliates.aff-1.parent_id:"
     " a cycle through 'aff-1'"),
    (["affiliates", "add", "aff-9", "--country", "malta"], "--country: String should match pattern"),
    (["affiliates", "show", "ghost"], "affiliates show ghost: no affiliate 'ghost'"),
    (["campaigns", "add", "aff-1", "dup", "--brand", "b", "--landing-url", LANDING,
      "--tracking-code", "spring1"], "--tracking-code: must be unique: 'spring1' is used by"),
    (["campaigns", "add", "aff-1", "bad", "--brand", "b", "--landing-url", "https://x.example/{nope}"],
     "--landing-url: "),
    (["campaigns", "add", "ghost", "c", "--brand", "b", "--landing-url", LANDING],
     "no affiliate 'ghost'; add it first"),
    (["campaigns", "list", "--affiliate", "ghost"], "no affiliate 'ghost'"),
])
def test_refusals_are_readable_and_exit_2(settings, argv, message, capsys) -> None:
    args = parse(*argv)
    with pytest.raises(CommandError) as refused:
        args.func(settings, args)
    assert message in str(refused.value) and refused.value.code == 2
    assert "{\"detail\"" not in str(refused.value)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(("argv", "message"), [
    (["affiliates", "list", "--parent-id", "aff-1"],
     "--parent-id applies to `clickpath affiliates add`, not list"),
    (["affiliates", "show", "aff-1", "--no-parent"],
     "--no-parent applies to `clickpath affiliates add`, not show"),
    (["affiliates", "show", "aff-1", "--no-reverse-charge"], "--no-reverse-charge applies to"),
    (["affiliates", "list", "aff-1"],
     "affiliates list takes no AFFILIATE_ID (`clickpath affiliates show aff-1`)"),
    (["campaigns", "list", "--brand", "b"], "--brand applies to `clickpath campaigns add`, not list"),
    (["campaigns", "list", "aff-1"], "campaigns list takes no AFFILIATE_ID (`--affiliate aff-1`"),
    (["campaigns", "add", "aff-1", "c", "--brand", "b", "--landing-url", LANDING, "--affiliate", "aff-2"],
     "campaigns add takes the affiliate as AFFILIATE_ID, not --affiliate"),
])
def test_arguments_of_another_action_are_refused_not_ignored(argv, message) -> None:
    args = parse(*argv)
    with pytest.raises(CommandError) as refused:
        args.func(Settings(), args)  # refused before any call: no service needed
    assert message in str(refused.value) and refused.value.code == 2


def test_missing_arguments_are_named_before_any_call(settings) -> None:
    with pytest.raises(CommandError, match="needs AFFILIATE_ID"):
        cmd_affiliates(settings, parse("affiliates", "show"))
    with pytest.raises(CommandError, match="needs CAMPAIGN_ID, --landing-url"):
        cmd_campaigns(settings, parse("campaigns", "add", "aff-1", "--brand", "b"))


def test_with_no_service_it_asks_whether_up_runs(settings) -> None:
    from clickpath.infra.broker import free_port

    nowhere = settings.with_overrides(http_port=free_port())
    with pytest.raises(CommandError, match="is `clickpath up` running?") as refused:
        cmd_affiliates(nowhere, parse("affiliates", "list"))
    assert refused.value.code == 1
