"""confluent-kafka clients configured one way for every role, and the topic bootstrap.

Producers use the murmur2 partitioner, the one the Java client and Faust's aiokafka use, so
a key lands in the same partition whichever of them produced it: the agents rely on that to
meet a click and its registration's link in one partition.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from clickpath.contracts.topics import SPECS
from clickpath.settings import Settings


class BrokerUnavailable(RuntimeError):
    """The Kafka cluster did not answer in time."""


def bootstrap_servers(settings: Settings) -> str:
    if settings.kafka_bootstrap_servers is None:
        raise BrokerUnavailable(
            "no broker configured: run `clickpath up` (embedded) or set "
            "CLICKPATH_KAFKA_BOOTSTRAP_SERVERS"
        )
    return settings.kafka_bootstrap_servers


def security_config(settings: Settings) -> dict[str, Any]:
    """librdkafka's TLS/SASL settings from CLICKPATH_KAFKA_SECURITY_PROTOCOL and friends; empty
    for PLAINTEXT (the embedded broker, a trusted network)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    config: dict[str, Any] = {"security.protocol": protocol}
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        config.update({
            "sasl.mechanism": settings.kafka_sasl_mechanism,
            "sasl.username": settings.kafka_sasl_username,
            "sasl.password": password.get_secret_value() if password else None,
        })
    if protocol.endswith("SSL") and settings.kafka_ssl_ca_location:
        config["ssl.ca.location"] = str(settings.kafka_ssl_ca_location)
    return config


def faust_credentials(settings: Settings) -> Any:
    """The same TLS/SASL settings as Faust's `broker_credentials` (None for PLAINTEXT)."""
    from faust.auth import SASLCredentials, SSLCredentials

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context: ssl.SSLContext | None = None
    if protocol.endswith("SSL"):
        ca = settings.kafka_ssl_ca_location
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
    if protocol == "SSL":
        return SSLCredentials(context)
    password = settings.kafka_sasl_password
    return SASLCredentials(
        username=settings.kafka_sasl_username,
        password=password.get_secret_value() if password else None,
        ssl_context=context, mechanism=settings.kafka_sasl_mechanism,
    )


def admin_config(settings: Settings) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap_servers(settings), **security_config(settings)}


def producer_config(settings: Settings, **extra: Any) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap_servers(settings),
        **security_config(settings),
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "partitioner": "murmur2_random",
        **extra,
    }


def consumer_config(settings: Settings, group: str, **extra: Any) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap_servers(settings),
        **security_config(settings),
        "group.id": f"{settings.topic_prefix}.{group}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "fetch.wait.max.ms": settings.fetch_wait_ms,
        **extra,
    }


def make_producer(settings: Settings, **extra: Any) -> Producer:
    return Producer(producer_config(settings, **extra))


def wait_for_broker(settings: Settings, timeout_s: float = 30.0) -> None:
    admin = AdminClient(admin_config(settings))
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin.list_topics(timeout=2)
            return
        except KafkaException as e:
            if time.monotonic() > deadline:
                raise BrokerUnavailable(f"Kafka at {bootstrap_servers(settings)}: {e}") from e


def probe_broker(settings: Settings, timeout_s: float = 5.0) -> None:
    """Fail fast, quietly, with one reason: BrokerUnavailable as soon as librdkafka says every
    bootstrap broker is down (refused, unresolvable, not Kafka: well under a second), or after
    `timeout_s` when the cluster accepts but does not answer. For commands a person runs
    (`clickpath import`), where librdkafka's default is a `FAIL` log line per retry on stderr."""
    errors: list[KafkaError] = []
    quiet: dict[str, Any] = {
        "log_level": 0, "error_cb": errors.append,
        "socket.connection.setup.timeout.ms": max(1000, int(timeout_s * 1000)),
    }
    admin = AdminClient({**admin_config(settings), **quiet})
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin.list_topics(timeout=0.25)
            return
        except KafkaException as e:
            last = e.args[0].str() if e.args and isinstance(e.args[0], KafkaError) else str(e)
        admin.poll(0)  # serves error_cb
        down = any(e.code() == KafkaError._ALL_BROKERS_DOWN for e in errors)
        if down or time.monotonic() > deadline:
            reason = next((e.str() for e in errors if e.code() != KafkaError._ALL_BROKERS_DOWN), last)
            where = bootstrap_servers(settings)
            reason = reason.removeprefix(f"{where}/bootstrap: ")
            raise BrokerUnavailable(f"cannot reach Kafka at {where}: {reason}")


def create_topics(settings: Settings) -> list[str]:
    """Create every registered topic with its partition count; existing ones are kept.

    Must run before any agent starts: Faust refuses source topics whose partition count
    differs from its own, and the embedded broker auto-creates with 4 partitions.
    """
    admin = AdminClient(admin_config(settings))
    existing = admin.list_topics(timeout=10).topics
    wanted = []
    for spec in SPECS.values():
        name = spec.name(settings)
        if name in existing:
            have = len(existing[name].partitions)
            if have != settings.partitions:
                raise RuntimeError(
                    f"topic {name} has {have} partitions, settings say {settings.partitions}"
                )
            continue
        config = {} if settings.tansu_compat else {"retention.ms": str(spec.retention_ms)}
        wanted.append(
            NewTopic(name, settings.partitions, settings.replication_factor, config=config)
        )
    if not wanted:
        return []
    for future in admin.create_topics(wanted, operation_timeout=30).values():
        try:
            future.result()
        except KafkaException as e:
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise
    return [t.topic for t in wanted]
