"""The identity graph on a real `clickpath up` (embedded broker, worker, ClickHouse sink, the
service), read as an analyst reads it (`clickpath sql` over the documented views), before and
after a restart of `up` (issue 25's broker scenarios):

- a player who clicks on mobile, registers on desktop and logs in from a third device is one
  person, on the path of the click that brought them (and the contract affiliate stays theirs);
- the same e-mail at two brands of one operator is one person with two accounts, at brands of
  two operators two persons;
- two accounts of one brand sharing a device are flagged, not merged;
- a device id of `unknown`, or one shared by 500 players, links nobody;
- after a restart the graph is all there, and a new account joins the person stored before it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.harness import holds_for, wait_until
from tests.integration.test_up_data_dir import (
    clickpath,
    every_role_running,
    healthy,
    post,
    start_up,
    stop_up,
    up_env,  # noqa: F401  (the fixture)
)

OPERATORS = {"op-1": {"brands": ["brand-a", "brand-b", "brand-c"]},
             "op-2": {"brands": ["brand-z"]}}
KIOSK = 500  # players on one shared device
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def reg(player: str, minutes: float, **fields: Any) -> dict[str, Any]:
    return {"event_type": "registration", "event_id": f"reg-{player}", "player_id": player,
            "occurred_at": at(minutes), **fields}


def sql(env: dict[str, str], query: str) -> list[dict[str, Any]] | None:
    result = clickpath("sql", query, "--format", "json", env=env)
    if result.returncode != 0:
        return None
    answer = json.loads(result.stdout)
    assert not answer.get("truncated"), answer.get("truncated_reason")
    return [dict(zip(answer["columns"], row, strict=True)) for row in answer["rows"]]


def persons(env: dict[str, str]) -> dict[str, str]:
    """Each account's person now (the documented `persons` view)."""
    return {r["account"]: r["person_id"]
            for r in sql(env, "SELECT account, person_id FROM persons") or []}


def open_signals(env: dict[str, str]) -> set[tuple[str, ...]]:
    rows = sql(env, "SELECT accounts FROM identity_signals_now WHERE status = 'open'") or []
    return {tuple(sorted(r["accounts"])) for r in rows}


def merged_links(env: dict[str, str]) -> set[tuple[str, str]]:
    """(account, the other account's brand) of every merged link (an analyst's view does not
    show another brand's player id)."""
    rows = sql(env, "SELECT account, other_brand_id FROM identity_links_now"
                    " WHERE status = 'merged'") or []
    return {(r["account"], r["other_brand_id"]) for r in rows}


def settled(found: dict[str, str], accounts: set[str]) -> dict[str, str] | None:
    """Every account's person, once each has one and Ana's two accounts share theirs."""
    if not accounts <= set(found) or found["brand-a:p-e1"] != found["brand-b:p-e2"]:
        return None
    return found


def touchpoints(env: dict[str, str], account: str, at_least: int) -> set[tuple[str, str]] | None:
    rows = sql(env, "SELECT click_id, link FROM identity_touchpoints_now"
                    f" WHERE account = '{account}'") or []
    found = {(r["click_id"], r["link"]) for r in rows}
    return found if len(found) >= at_least else None


def journeys(a: str, b: str, z: str) -> dict[str, list[dict[str, Any]]]:
    """The events, by the key (brand) that sends them."""
    mobile = {"device_id": "dev-mobile", "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0"
              " like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"}
    brand_a = [
        # mobile click, desktop registration, login from a third device; a click of another
        # affiliate on that third device, earlier, is on the path too (same brand, in lookback)
        {"event_type": "click", "event_id": "clk-m", "occurred_at": at(0), "click_id": "c-m",
         "affiliate_id": "aff-j", "campaign_id": "camp-j", **mobile},
        {"event_type": "click", "event_id": "clk-t", "occurred_at": at(1), "click_id": "c-t",
         "affiliate_id": "aff-k", "campaign_id": "camp-k", "device_id": "dev-third"},
        reg("p-j", 5, click_id="c-m", device_id="dev-desk", ip="198.51.100.7"),
        {"event_type": "login", "event_id": "login-j", "player_id": "p-j", "occurred_at": at(9),
         "device_id": "dev-third", "user_agent": CHROME},
        reg("p-e1", 10, email="Ana@Example.com"),
        reg("p-o1", 11, email="bo@example.com"),
        reg("p-s1", 12, device_id="dev-shared"),
        reg("p-s2", 13, device_id="dev-shared"),
        reg("p-u1", 14, device_id="unknown", email="u1@example.com"),
        *[reg(f"p-k{n}", 15 + n / 100, device_id="dev-kiosk") for n in range(0, KIOSK, 2)],
    ]
    brand_b = [
        reg("p-e2", 20, email="ana@example.com"),
        reg("p-u2", 21, device_id="unknown", email="u2@example.com"),
        *[reg(f"p-k{n}", 22 + n / 100, device_id="dev-kiosk") for n in range(1, KIOSK, 2)],
    ]
    brand_z = [reg("p-o2", 30, email="bo@example.com")]
    return {a: brand_a, b: brand_b, z: brand_z}


def keys(env: dict[str, str]) -> dict[str, str]:
    return {brand: clickpath("keys", "create", "--role", "operator", "--brand", brand,
                             env=env).stdout.strip()
            for brand in ("brand-a", "brand-b", "brand-c", "brand-z")}


def post_all(base: str, secret: str, events: list[dict[str, Any]]) -> None:
    for i in range(0, len(events), 100):
        post(base, secret, events[i:i + 100])


def test_the_identity_graph_on_up_and_after_its_restart(up_env) -> None:  # noqa: F811
    env = {**up_env, "CLICKPATH_OPERATORS": json.dumps(OPERATORS)}
    base = f"http://127.0.0.1:{env['CLICKPATH_HTTP_PORT']}"
    secrets = keys(env)
    kiosk = {f"brand-{'a' if n % 2 == 0 else 'b'}:p-k{n}" for n in range(KIOSK)}
    everyone = {"brand-a:p-j", "brand-a:p-e1", "brand-b:p-e2", "brand-a:p-o1", "brand-z:p-o2",
                "brand-a:p-s1", "brand-a:p-s2", "brand-a:p-u1", "brand-b:p-u2", *kiosk}
    up = start_up(env)
    try:
        wait_until(lambda: every_role_running(env), 120, "`up` to run every role")
        wait_until(lambda: healthy(base), 60, "the service to answer")
        sent = journeys(secrets["brand-a"], secrets["brand-b"], secrets["brand-z"])
        for secret, events in sent.items():
            post_all(base, secret, events)
        now = wait_until(lambda: settled(persons(env), everyone), 180,
                         "a person for every account, and Ana's two accounts one")
        wait_until(lambda: ("brand-a:p-s1", "brand-a:p-s2") in open_signals(env), 60,
                   "the multi-account signal of p-s1 and p-s2")
        wait_until(lambda: not [s for s in open_signals(env) if kiosk & set(s)], 60,
                   "the kiosk's signals withdrawn (its device shared by too many)")
        holds_for(lambda: persons(env) == now, "every account's person", settle_s=5)

        assert now["brand-a:p-e1"] == now["brand-b:p-e2"]  # one operator's brands: one person
        assert now["brand-a:p-o1"] != now["brand-z:p-o2"]  # two operators: two persons
        assert now["brand-a:p-s1"] != now["brand-a:p-s2"]  # one brand: never merged, flagged
        assert now["brand-a:p-u1"] != now["brand-b:p-u2"]  # `unknown` links nobody
        assert len({now[a] for a in kiosk}) == KIOSK  # nor does a device of 500 players
        assert merged_links(env) == {("brand-a:p-e1", "brand-b"), ("brand-b:p-e2", "brand-a")}

        # The cross-device player: one person (their account alone), on the named click's path
        # and the third device's click's, while the contract attribution stays aff-j's.
        assert list(now.values()).count(now["brand-a:p-j"]) == 1
        path = wait_until(lambda: touchpoints(env, "brand-a:p-j", at_least=2), 60,
                          "p-j's two touchpoints")
        assert path == {("c-m", "named_click"), ("c-t", "device")}
        [player] = sql(env, "SELECT affiliate_id FROM players WHERE player_id = 'p-j'") or [{}]
        assert player["affiliate_id"] == "aff-j"
    finally:
        stop_up(up)

    again = start_up(env)
    try:
        wait_until(lambda: every_role_running(env), 120, "`up` to run every role again")
        wait_until(lambda: healthy(base), 60, "the service to answer again")
        assert persons(env) == now  # the graph, as it was
        assert ("brand-a:p-s1", "brand-a:p-s2") in open_signals(env)
        # The stream state survived too: a brand-c account with Ana's e-mail joins her person.
        post(base, secrets["brand-c"], [reg("p-e3", 40, email="ana@example.com")])
        wait_until(lambda: persons(env).get("brand-c:p-e3") == now["brand-a:p-e1"], 120,
                   "p-e3 in the person of p-e1 and p-e2")
        after = persons(env)
        assert {a: p for a, p in after.items() if a != "brand-c:p-e3"} == now
    finally:
        stop_up(again)
