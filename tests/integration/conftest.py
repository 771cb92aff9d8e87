from __future__ import annotations

import secrets
import uuid

import pytest
from pydantic import SecretStr

from clickpath.contracts.serde import build_codec
from clickpath.devtools.demo import PostbackReceiver
from clickpath.domain.catalogue import AffiliateConfig
from clickpath.infra.broker import free_port
from clickpath.infra.clickhouse import apply_migrations, connect
from clickpath.infra.kafka import create_topics
from clickpath.settings import Settings
from tests.integration.harness import RoleProcess

PSEUDONYM_KEY = "integration-test-key-0123456789abcdef"
MASTER_KEY = "integration-test-master-key-0123456789abcdef"


@pytest.fixture
def client(tmp_path):
    """An embedded ClickHouse (chdb) with the shipped DDL applied to database `clickpath`."""
    c = connect(Settings(clickhouse_url=f"chdb://{tmp_path / 'ch'}", clickhouse_database="clickpath"))
    apply_migrations(c, "clickpath")
    yield c
    c.close()


@pytest.fixture
def receiver(tmp_path):
    r = PostbackReceiver(tmp_path / "receiver.jsonl").start()
    yield r
    r.stop()


TEMPLATE = "/pb/{affiliate_id}?cid={click_id}&e={event}&amt={amount}&cur={currency}" \
    "&tok={player_token}&s1={sub1}&tx={transaction_id}"


@pytest.fixture
def settings(broker, tmp_path, receiver) -> Settings:
    s = Settings(
        kafka_bootstrap_servers=broker.bootstrap,
        broker_compat="tansu",
        topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        partitions=2,
        data_dir=tmp_path / "data",
        clickhouse_url=f"chdb://{tmp_path / 'clickhouse'}",
        reports_url=f"http://127.0.0.1:{free_port()}",
        reports_token=SecretStr(secrets.token_urlsafe(32)),  # as `up` makes one per run
        pseudonym_key=PSEUDONYM_KEY,
        master_key=MASTER_KEY,
        postback_backoff_s=0.05,
        delivery_schedule_s=None,  # fast exponential retries instead of the hours-long schedule
        egress_allow=["127.0.0.1/32"],  # the test receivers; everything else private is refused
        affiliates={
            "aff-1": AffiliateConfig(name="One", postback_url=receiver.url + TEMPLATE),
            "aff-2": AffiliateConfig(name="Two", postback_url=receiver.url + TEMPLATE),
        },
    )
    create_topics(s)
    return s


@pytest.fixture
def codec(settings):
    return build_codec(settings.schemas_dir, None)


@pytest.fixture
def start_role(settings, tmp_path):
    started: list[RoleProcess] = []

    def start(*args: str, role_settings: Settings | None = None) -> RoleProcess:
        role = RoleProcess(role_settings or settings, *args, log_dir=tmp_path).start()
        started.append(role)
        return role

    yield start
    for role in started:
        role.stop()
