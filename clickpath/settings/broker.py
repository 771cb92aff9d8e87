"""Kafka: which broker, the topics' names and shape, and how clients authenticate to it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator


class BrokerSettings(BaseModel):
    """The broker (embedded unless a cluster is named), the topics, TLS and SASL."""

    kafka_bootstrap_servers: str | None = Field(
        default=None, description="Existing Kafka cluster; unset runs the embedded broker."
    )
    schema_registry_url: str | None = None
    topic_prefix: str = "clickpath"
    partitions: int = Field(default=4, ge=1, le=256)
    replication_factor: int = Field(default=1, ge=1)
    broker_compat: Literal["auto", "kafka", "tansu"] = Field(
        default="auto",
        description="Apply the embedded broker's workarounds (docs/topics.md, 'The embedded broker').",
    )

    # Kafka TLS and SASL (a production cluster; docs/security.md). Unset: PLAINTEXT.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How every client talks to Kafka."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: Path | None = Field(
        default=None, description="CA bundle (PEM) to verify the brokers; default the system's."
    )

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"kafka_security_protocol {self.kafka_security_protocol} needs "
                "kafka_sasl_mechanism, kafka_sasl_username and kafka_sasl_password"
            )
        return self

    @property
    def embedded_broker(self) -> bool:
        return self.kafka_bootstrap_servers is None

    @property
    def tansu_compat(self) -> bool:
        if self.broker_compat == "auto":
            return self.embedded_broker
        return self.broker_compat == "tansu"
