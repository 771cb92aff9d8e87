"""Kafka TLS/SASL settings reach every client: confluent-kafka producers, consumers and admin
clients, Faust's broker credentials, and the roles `up` starts (issue 13, Low)."""

from __future__ import annotations

import pytest
from faust.auth import SASLCredentials, SSLCredentials

from clickpath.infra.kafka import (
    admin_config,
    consumer_config,
    faust_credentials,
    producer_config,
)
from clickpath.settings import Settings

SASL = dict(kafka_bootstrap_servers="kafka.example:9093", kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="clickpath",
            kafka_sasl_password="s3cret")


def test_plaintext_adds_nothing() -> None:
    settings = Settings(kafka_bootstrap_servers="k:9092")
    assert "security.protocol" not in producer_config(settings)
    assert faust_credentials(settings) is None


def test_sasl_ssl_reaches_every_confluent_client(tmp_path) -> None:
    ca = tmp_path / "ca.pem"
    settings = Settings(**SASL, kafka_ssl_ca_location=ca)
    expected = {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": "clickpath", "sasl.password": "s3cret",
                "ssl.ca.location": str(ca)}
    for config in (producer_config(settings), consumer_config(settings, "g"), admin_config(settings)):
        assert expected.items() <= config.items()


def test_faust_gets_broker_credentials() -> None:
    sasl = faust_credentials(Settings(**SASL))
    assert isinstance(sasl, SASLCredentials)
    assert (sasl.username, sasl.password, sasl.mechanism.value) == ("clickpath", "s3cret", "SCRAM-SHA-512")
    assert sasl.protocol.value == "SASL_SSL"
    assert isinstance(faust_credentials(Settings(kafka_security_protocol="SSL")), SSLCredentials)


def test_the_password_is_secret_but_reaches_child_processes() -> None:
    settings = Settings(**SASL)
    assert "s3cret" not in repr(settings)
    assert settings.to_env()["CLICKPATH_KAFKA_SASL_PASSWORD"] == "s3cret"


def test_sasl_without_credentials_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="kafka_sasl_username"):
        Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="PLAIN")
