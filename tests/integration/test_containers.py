"""The end-to-end scenario against Apache Kafka and a ClickHouse server, via testcontainers.

Runs where a Docker engine is reachable; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import uuid

import pytest

from clickpath.domain.catalogue import AffiliateConfig
from clickpath.infra.kafka import create_topics
from clickpath.settings import Settings
from tests.integration.conftest import MASTER_KEY, PSEUDONYM_KEY, TEMPLATE
from tests.integration.test_end_to_end import run_scenario

pytestmark = pytest.mark.docker


def docker_unavailable_reason() -> str | None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as e:  # no socket, no permission, no daemon: all mean "no engine"
        return f"no Docker engine reachable ({type(e).__name__}: {e}); testcontainers needs one"
    return None


@pytest.fixture(scope="module")
def containers():
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from testcontainers.clickhouse import ClickHouseContainer
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as kafka, ClickHouseContainer(
        "clickhouse/clickhouse-server:24.8", port=8123
    ) as clickhouse:
        url = (f"http://{clickhouse.username}:{clickhouse.password}@"
               f"{clickhouse.get_container_host_ip()}:{clickhouse.get_exposed_port(8123)}")
        yield kafka.get_bootstrap_server(), url


def test_scenario_on_apache_kafka_and_clickhouse_server(
    containers, tmp_path, codec, receiver, start_role
) -> None:
    bootstrap, clickhouse_url = containers
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        broker_compat="kafka",
        topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        partitions=2,
        data_dir=tmp_path / "data",
        clickhouse_url=clickhouse_url,
        clickhouse_database=f"cp_{uuid.uuid4().hex[:8]}",
        pseudonym_key=PSEUDONYM_KEY,
        master_key=MASTER_KEY,
        postback_backoff_s=0.05,
        affiliates={"aff-1": AffiliateConfig(postback_url=receiver.url + TEMPLATE),
                    "aff-2": AffiliateConfig(postback_url=receiver.url + TEMPLATE)},
    )
    create_topics(settings)
    run_scenario(settings, codec, receiver, start_role)


def test_close_and_pay_on_a_clickhouse_server(containers) -> None:
    """The close, adjustment and payment tests of the embedded engine, on a ClickHouse server:
    same DDL, same queries (each on a fresh database)."""
    from clickpath.infra.clickhouse import apply_migrations, connect
    from tests.integration import test_clickhouse_closes as same

    _, clickhouse_url = containers
    client = connect(Settings(clickhouse_url=clickhouse_url, clickhouse_database=same.DB))
    try:
        for test in (same.test_close_freezes_rolls_over_under_the_minimum_and_pays_late_entries_next,
                     same.test_adjust_and_pay_are_recorded_with_who_and_when,
                     same.test_a_period_not_ended_cannot_close):
            client.command(f"DROP DATABASE IF EXISTS {same.DB}")
            apply_migrations(client, same.DB)
            test(client)
    finally:
        client.close()
