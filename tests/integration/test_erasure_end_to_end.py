"""Erasure end to end on a real `clickpath up` (issue 26): a player's personal fields are
sealed at the door, an `erasure_request` removes the player from the graph, destroys the key,
anonymises the ClickHouse rows and writes the certificate; what was written afterwards (every
topic, every table, the stream state) holds none of the player's identifiers; the funnel and
the player's value are exactly what they were; a replay after the erasure changes nothing."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from clickpath.contracts.serde import build_codec
from clickpath.domain.privacy.sealing import master_key_bytes
from clickpath.domain.pseudonym import keyed_hash, normalise_email, normalise_phone, pseudonymise_ip
from clickpath.infra.clickhouse import connect
from clickpath.infra.person_keys import PersonKeys
from clickpath.settings import Settings
from tests.integration.harness import holds_for, wait_until
from tests.integration.test_up_data_dir import (
    every_role_running,
    healthy,
    post,
    start_up,
    status,
    stop_up,
    up_env,  # noqa: F401  (the fixture)
)
from tests.integration.test_up_identity import at, clickpath, persons, reg, sql

OPERATORS = {"op-1": {"brands": ["brand-a", "brand-b"]}}
EMAIL, PHONE, IP = "Erin.Erased@Example.com", "+44 20 7946 0999", "203.0.113.99"
DEVICE, CUSTOMER, SUB = "dev-erased-7f3a", "cust-erased-7f3a", "sub-erased-7f3a"
ACCOUNT, OTHER = "brand-a:p-er", "brand-b:q-er"


def events_a() -> list[dict[str, Any]]:
    return [
        {"event_type": "click", "event_id": "clk-er", "occurred_at": at(0), "click_id": "c-er",
         "affiliate_id": "aff-er", "campaign_id": "camp-er", "sub1": SUB, "device_id": DEVICE},
        reg("p-er", 5, click_id="c-er", email=EMAIL, phone=PHONE, ip=IP, device_id=DEVICE,
            customer_id=CUSTOMER),
        {"event_type": "login", "event_id": "login-er", "player_id": "p-er",
         "occurred_at": at(6), "device_id": DEVICE, "customer_id": CUSTOMER},
        {"event_type": "deposit", "event_id": "dep-er", "player_id": "p-er", "occurred_at": at(7),
         "transaction_id": "t-er", "amount": "50.00", "currency": "EUR"},
        {"event_type": "wager", "event_id": "wag-er", "player_id": "p-er", "occurred_at": at(8),
         "wager_id": "w-er", "stake": "20.00", "win": "5.00", "bonus_stake": "0",
         "currency": "EUR", "game_category": "casino"},
        reg("p-keep", 9, email="keep@example.com"),
    ]


def figures(env: dict[str, str]) -> dict[str, Any]:
    """What the dashboards read: the funnel, and the players' value."""
    funnel = sql(env, "SELECT sum(clicks) AS c, sum(registrations) AS r, sum(ftds) AS f, "
                      "sum(deposit_sum) AS d, sum(ngr) AS n FROM funnel_daily") or []
    money = sql(env, "SELECT person_id, deposit_sum, ggr, ngr FROM players_money "
                     "ORDER BY person_id") or []
    return {"funnel": funnel, "money": money}


def read_to_end(bootstrap: str, start: dict[tuple[str, int], int]
                ) -> tuple[list[Any], dict[tuple[str, int], int]]:
    """Every record of every topic the broker lists from `start` (0 where it names none) to
    the end (the fetch's own end of partition: the embedded broker's watermark answers lag),
    and where each partition ends."""
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=30).topics
    parts = [TopicPartition(name, p, start.get((name, p), 0))
             for name, t in topics.items() for p in t.partitions]
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"scan-{time.time_ns()}",
                         "enable.auto.commit": False, "enable.partition.eof": True,
                         "auto.offset.reset": "earliest"})
    ends = {(tp.topic, tp.partition): tp.offset for tp in parts}
    waiting, found = set(ends), []
    deadline = time.monotonic() + 60
    try:
        consumer.assign(parts)
        while waiting:
            assert time.monotonic() < deadline, f"not read to their end: {sorted(waiting)}"
            for msg in consumer.consume(1000, timeout=0.5):
                where = (msg.topic(), msg.partition())
                if msg.error() is not None:
                    assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                    waiting.discard(where)
                else:
                    found.append(msg)
                    ends[where] = msg.offset() + 1
    finally:
        consumer.close()
    return found, ends


def needles(key: str) -> dict[str, str]:
    secret = key.encode()
    ip_hash, _ = pseudonymise_ip(secret, IP)
    return {keyed_hash(secret, "email", normalise_email(EMAIL)): "email hash",
            keyed_hash(secret, "phone", normalise_phone(PHONE)): "phone hash",
            ip_hash: "ip hash", DEVICE: "device id", CUSTOMER: "customer id", SUB: "sub1"}


def seen(data: bytes, wanted: dict[str, str]) -> list[str]:
    return [what for needle, what in wanted.items() if needle.encode() in data]


def test_an_erased_player_is_gone_from_every_topic_table_and_state_and_the_figures_stay(
        up_env) -> None:  # noqa: F811
    env = {**up_env, "CLICKPATH_OPERATORS": json.dumps(OPERATORS)}
    base = f"http://127.0.0.1:{env['CLICKPATH_HTTP_PORT']}"
    wanted = needles(env["CLICKPATH_PSEUDONYM_KEY"])
    secrets = {b: clickpath("keys", "create", "--role", "operator", "--brand", b,
                            env=env).stdout.strip() for b in ("brand-a", "brand-b")}
    keys_file = Path(env["CLICKPATH_DATA_DIR"]) / "privacy" / "person-keys.sqlite3"
    up = start_up(env)
    try:
        wait_until(lambda: every_role_running(env), 120, "`up` to run every role")
        wait_until(lambda: healthy(base), 60, "the service to answer")
        bootstrap = status(env)["broker"]
        post(base, secrets["brand-a"], events_a())
        post(base, secrets["brand-b"], [reg("q-er", 10, email=EMAIL.lower())])
        wait_until(lambda: (p := persons(env)).get(ACCOUNT) and p.get(ACCOUNT) == p.get(OTHER),
                   180, "the erased-to-be player and its other brand's account one person")
        before = wait_until(lambda: (f := figures(env))["money"] and f["funnel"][0]["f"] == 1
                            and f, 120, "the player's deposit in the figures")
        holds_for(lambda: figures(env) == before, "the figures", settle_s=5)

        # The door sealed the personal fields: no plain hash or device id on the ingress topic.
        everything, start = read_to_end(bootstrap, {})
        ingress = [m for m in everything if m.topic().endswith("ingress.events")]
        assert ingress and not [w for m in ingress for w in seen(m.value(), wanted)]

        post(base, secrets["brand-a"], [{"event_type": "erasure_request", "event_id": "er-1",
                                         "player_id": "p-er", "occurred_at": at(30),
                                         "requested_by": "dpo ticket 42"}])
        master = master_key_bytes(env["CLICKPATH_MASTER_KEY"])

        def destroyed() -> bool:
            with PersonKeys(keys_file, master) as store:
                return store.erased_at(ACCOUNT) is not None

        wait_until(destroyed, 120, "the erased player's key destroyed")
        wait_until(lambda: (p := persons(env)).get(ACCOUNT) != p.get(OTHER), 120,
                   "the other brand's account split from the erased one")
        # A replay of the old events and a late one change nothing.
        post(base, secrets["brand-a"], events_a()[1:3] + [
            {"event_type": "login", "event_id": "login-late", "player_id": "p-er",
             "occurred_at": at(40), "device_id": DEVICE}])
        holds_for(lambda: figures(env) == before, "the figures, unchanged", settle_s=8)
        split = persons(env)
        assert split[ACCOUNT] != split[OTHER]

        # Everything written since the request: none of the player's identifiers. Only the
        # stages keyed by an identifier write its key: a forget request, and the identifier's
        # state without the account, neither naming the account (docs/privacy.md#erasure).
        codec = build_codec(Settings().schemas_dir, None)
        written, _ = read_to_end(bootstrap, start)
        # A stage's state is its newest changelog record per key (compaction keeps that one).
        states = {(m.topic(), m.key()): m for m in written if m.topic().endswith("-changelog")}
        for msg in [m for m in written if not m.topic().endswith("-changelog")] + list(states.values()):
            value = msg.value() or b""
            found = seen(b"\0".join((msg.key() or b"", value)), wanted)
            if not found:
                continue
            if msg.topic().endswith("identity.sightings"):
                record = codec.decode(value)
                assert record.forget and record.account.startswith("erased:"), record
            elif msg.topic().endswith("identifiers-changelog"):
                state = json.loads(value)["state"]
                assert ACCOUNT not in state["accounts"] and ACCOUNT not in state["latest"]
            elif msg.topic().endswith("identity-changelog"):
                state = json.loads(value)["state"]  # another account's own identifiers (the
                assert state["account"] != ACCOUNT, state  # same e-mail at the other brand)
                assert not seen(value, {n: w for n, w in wanted.items()
                                        if n not in json.dumps(state["sent"])}), state
            elif msg.topic().endswith("commissions-changelog"):
                # the state now; the envelope's `base` (the state its lineage started from) is
                # replaced at the stage's next period roll (docs/privacy.md#erasure, limits)
                now = json.dumps(json.loads(value).get("value")).encode()
                assert not seen(now, wanted), (msg.key(), now)
            else:
                raise AssertionError((msg.topic(), msg.partition(), msg.offset(), found))
    finally:
        stop_up(up)

    client = connect(Settings(data_dir=Path(env["CLICKPATH_DATA_DIR"])))
    try:
        db = Settings().clickhouse_database
        wait_until(lambda: client.query("SELECT count() FROM system.mutations WHERE NOT is_done"
                                        ).result_rows[0][0] == 0, 60, "the queued mutations")
        [cert] = client.query(
            f"SELECT key_existed, identifiers_removed, links_removed, clicks_anonymised, "
            f"deliveries_revoked, rows_anonymised, requested_by FROM {db}.erasure_certificates "
            "WHERE account = {a:String}", parameters={"a": ACCOUNT}).named_results()
        assert cert["key_existed"] and cert["identifiers_removed"] >= 5 and cert["links_removed"] == 1
        assert cert["clicks_anonymised"] == 1 and cert["requested_by"] == "dpo ticket 42"
        assert cert["rows_anonymised"]["events"] >= 5
        tables = [r[0] for r in client.query(
            "SELECT name FROM system.tables WHERE database = {d:String}",
            parameters={"d": db}).result_rows]
        for table in tables:
            text = client.raw_query(f"SELECT * FROM `{db}`.`{table}` FORMAT TabSeparated")
            assert not seen(text, wanted), (table, seen(text, wanted))
        deposits = client.query(f"SELECT sum(amount) FROM {db}.events WHERE player_id = 'p-er' "
                                "AND event_type = 'deposit'").result_rows[0][0]
        assert Decimal(deposits) == Decimal("50")  # the money stays
    finally:
        client.close()
