"""The identity settings (clickpath/settings/identity.py) and the policy built of them
(clickpath/infra/identity_policy.py): operators from the config file or the environment, a
brand named by two operators refused by name, the scores' knobs and the frequency table."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from clickpath.domain.identity.policy import DEFAULT_FIELDS, DEFAULT_OPERATOR, FieldModel, IdentityPolicy
from clickpath.infra.identity_policy import identity_policy
from clickpath.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("CLICKPATH_"):
            monkeypatch.delenv(var)


def test_the_defaults_are_the_policys_defaults() -> None:
    """No setting: one operator for every brand, and exactly the documented weights; person ids
    keyed by the pseudonym key."""
    settings = Settings()
    policy = identity_policy(settings)
    key = settings.pseudonym_key.get_secret_value().encode()
    assert policy == IdentityPolicy(fields=dict(DEFAULT_FIELDS), person_key=key)
    assert policy.operator_of("any-brand") == DEFAULT_OPERATOR


def test_operators_from_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "clickpath.toml"
    config.write_text(
        '[operators.acme]\nbrands = ["luckyspin", "goldbet"]\n'
        '[operators.other]\nbrands = ["rivalcasino"]\n'
    )
    monkeypatch.setenv("CLICKPATH_CONFIG", str(config))
    policy = identity_policy(Settings())
    assert dict(policy.operators) == {"luckyspin": "acme", "goldbet": "acme", "rivalcasino": "other"}
    assert [policy.operator_of(b) for b in ("goldbet", "rivalcasino", "newbrand")] == [
        "acme", "other", DEFAULT_OPERATOR]


def test_operators_from_the_environment_survive_the_trip_to_a_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLICKPATH_OPERATORS", '{"acme": {"brands": ["a", "b"]}}')
    monkeypatch.setenv("CLICKPATH_IDENTITY_REFUSED", '["test-device", "0000"]')
    s = Settings()
    assert s.operator_of_brand == {"a": "acme", "b": "acme"}
    for var, value in s.to_env().items():
        monkeypatch.setenv(var, value)
    assert Settings() == s


def test_a_brand_named_by_two_operators_stops_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKPATH_OPERATORS",
                       '{"acme": {"brands": ["a", "shared-brand"]}, "rival": {"brands": ["shared-brand"]}}')
    with pytest.raises(ValidationError, match="brand 'shared-brand' is named by both 'acme' and 'rival'"):
        Settings()


def test_a_brand_named_twice_by_one_operator_is_one_brand() -> None:
    s = Settings(operators={"acme": {"brands": ["a", "a"]}})
    assert s.operator_of_brand == {"a": "acme"}


@pytest.mark.parametrize(("operators", "message"), [
    ({"ac|me": {"brands": ["a"]}}, "not an operator id"),
    ({"acme": {"brands": [""]}}, "an empty brand id"),
    ({"acme": {"brand": ["a"]}}, "brand"),  # a misspelt key is refused, not ignored
])
def test_bad_operators_stop_the_start(operators: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(operators=operators)


def test_the_knobs_reach_the_policy(tmp_path: Path) -> None:
    table = tmp_path / "frequencies.json"
    table.write_text(json.dumps({"ua_family": {"Chrome/Android": 0.3}, "device_id": {}}))
    s = Settings(identity_prior=0.001, identity_threshold=8, identity_device_id_m=0.95,
                 identity_device_id_u=1e-6, identity_frequencies_file=table,
                 identity_refused=[" test-device "], identity_max_accounts=5,
                 identity_window_days=7, identity_max_clicks=20, attribution_lookback_days=14,
                 attribution_clock_skew_s=60)
    policy = identity_policy(s)
    assert (policy.prior, policy.threshold, policy.max_accounts, policy.max_clicks) == (0.001, 8, 5, 20)
    assert policy.fields["device_id"] == FieldModel(m=0.95, u=1e-6)
    assert policy.fields["ip_prefix"] == DEFAULT_FIELDS["ip_prefix"]
    assert policy.frequencies == {"ua_family": {"Chrome/Android": 0.3}, "device_id": {}}
    assert policy.weight_of("ua_family", "Chrome/Android") == pytest.approx(1.5849625)  # log2(.9/.3)
    assert policy.refused == frozenset({"test-device"})
    assert (policy.window, policy.skew) == (timedelta(days=7), timedelta(seconds=60))
    assert policy.lookback == timedelta(days=14)  # the contract attribution's, by default
    assert identity_policy(s.with_overrides(identity_lookback_days=3)).lookback == timedelta(days=3)


def test_agreement_must_count_for_a_match() -> None:
    with pytest.raises(ValidationError, match="identity_ip_prefix_u .* must be below identity_ip_prefix_m"):
        Settings(identity_ip_prefix_m=0.01, identity_ip_prefix_u=0.02)


@pytest.mark.parametrize(("content", "message"), [
    ("[1, 2]", "expected an object of kind -> value -> u"),
    ('{"email_hash": {}}', "'email_hash' is not a scored kind"),
    ('{"device_id": {"d1": 0}}', "u must be a number above 0 and at most 1"),
    ('{"device_id": {"d1": "0.1"}}', "u must be a number above 0 and at most 1"),
    ('{"device_id": [1]}', "expected an object of value -> u"),
    ("{", "not valid JSON"),
])
def test_a_bad_frequency_table_stops_the_start(tmp_path: Path, content: str, message: str) -> None:
    table = tmp_path / "frequencies.json"
    table.write_text(content)
    with pytest.raises(ValidationError, match=message):
        Settings(identity_frequencies_file=table)
    with pytest.raises(ValidationError, match="cannot be read"):
        Settings(identity_frequencies_file=tmp_path / "missing.json")
