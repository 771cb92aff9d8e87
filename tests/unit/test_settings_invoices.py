"""The invoicing settings (clickpath/settings/invoices.py): the operator's details and VAT rates
from the config file or the environment, as the invoice builder takes them; a rate that is not
a decimal percent, a country that is not alpha-2, or a bad number prefix stops the start."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from clickpath.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("CLICKPATH_"):
            monkeypatch.delenv(var)


def test_config_file_gives_the_operator_and_rates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "clickpath.toml"
    config.write_text(
        'invoice_operator_name = "Operator Gaming plc"\n'
        'invoice_operator_address = "2 Tower Road\\nSliema"\n'
        'invoice_operator_vat_id = "MT87654321"\n'
        'invoice_number_prefix = "OP"\n'
        '[vat_rates]\nMT = "18"\nDE = "19"\nCH = "8.1"\n'
    )
    monkeypatch.setenv("CLICKPATH_CONFIG", str(config))
    terms = Settings().invoice_terms()
    assert (terms.operator.name, terms.operator.address) == ("Operator Gaming plc", "2 Tower Road\nSliema")
    assert terms.operator.vat_id == "MT87654321"
    assert dict(terms.vat_rates) == {"MT": Decimal("18"), "DE": Decimal("19"), "CH": Decimal("8.1")}
    assert Settings().invoice_number_prefix == "OP"


def test_environment_json_rates_survive_the_trip_to_a_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKPATH_VAT_RATES", '{"MT": "18", "DE": "19"}')
    s = Settings()
    assert s.vat_rates == {"MT": Decimal("18"), "DE": Decimal("19")}
    for var, value in s.to_env().items():
        monkeypatch.setenv(var, value)
    assert Settings().vat_rates == s.vat_rates


@pytest.mark.parametrize(("rates", "message"), [
    ('{"MT": 18.5}', "write the percent as a string"),
    ('{"mt": "18"}', "not an ISO 3166-1 alpha-2 country"),
    ('{"MALTA": "18"}', "not an ISO 3166-1 alpha-2 country"),
    ('{"MT": "100"}', "not a percent from 0 to under 100"),
    ('{"MT": "-1"}', "not a percent from 0 to under 100"),
])
def test_bad_rates_stop_the_start(monkeypatch: pytest.MonkeyPatch, rates: str, message: str) -> None:
    monkeypatch.setenv("CLICKPATH_VAT_RATES", rates)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_a_bad_number_prefix_stops_the_start() -> None:
    with pytest.raises(ValidationError, match="invoice_number_prefix"):
        Settings(invoice_number_prefix="C P")
