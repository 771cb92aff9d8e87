"""A click stamped the same second as its registration, or a little after it, through the real
pipeline (embedded broker, Faust worker, both sinks in their own processes): the stream's
contract attribution and ClickHouse's touchpoint paths apply the same clock-skew tolerance
(CLICKPATH_ATTRIBUTION_CLOCK_SKEW_S, default 300 s; docs/touchpoints.md), the players within it
are attributed and posted back, and the one beyond it is unattributed with its reason."""

from __future__ import annotations

from datetime import timedelta

import httpx

from clickpath.contracts.models import Attribution
from clickpath.contracts.topics import Topic
from clickpath.domain.multitouch import Path
from clickpath.infra.clickhouse import connect
from clickpath.infra.producer import EventProducer
from clickpath.infra.reports import funnel_rows
from clickpath.infra.touchpoints import query_paths
from tests.factories import click, registration
from tests.integration.harness import read_topic, wait_until

# click time after the registration's occurred_at, per player
AFTER = {"p-same": timedelta(milliseconds=700), "p-within": timedelta(seconds=299),
         "p-beyond": timedelta(seconds=301)}


def test_the_clock_skew_tolerance_is_the_same_in_the_stream_and_in_clickhouse(
    settings, codec, receiver, start_role
) -> None:
    for args in (("worker",), ("sink", "postbacks")):
        start_role(*args, role_settings=settings)
    sink = start_role("sink", "clickhouse", role_settings=settings)
    events = []
    for player, after in AFTER.items():
        reg = registration(player, f"c-{player}", minutes=1).model_copy(update={"device_id": "d-" + player})
        c = click(f"c-{player}", affiliate="aff-1").model_copy(
            update={"occurred_at": reg.occurred_at + after, "device_id": "d-" + player})
        events += [c, reg]
    with EventProducer(settings, codec=codec) as producer:
        producer.send_all(events)

    posted = wait_until(lambda: len(receiver.requests()) >= 2 and receiver.requests(), 60,
                        "two registration postbacks")
    # on stream.attributions: each registration forwarded by the click stage, then its decision
    decided = {
        r.player_id: (r.status, r.reason)
        for _, r in read_topic(settings, codec, Topic.ATTRIBUTIONS, expect=6, timeout_s=60)
        if isinstance(r, Attribution)
    }
    assert decided == {"p-same": ("attributed", None), "p-within": ("attributed", None),
                       "p-beyond": ("unattributed", "click_after_registration")}
    assert sorted(r["path"].split("cid=")[1].split("&")[0] for r in posted) == [
        "c-p-same", "c-p-within"]

    expected_funnel = {("aff-1", 2), ("", 1)}
    wait_until(lambda: _registrations(settings) == expected_funnel, 60, "the funnel in ClickHouse")
    stored, paths = _read_clickhouse(settings, sink)
    for _ in range(3):  # the decisions come on their own topic: a sink batch may lag the facts
        if len(stored) == 3:
            break
        sink = start_role("sink", "clickhouse", role_settings=settings)
        wait_until(lambda: _registrations(settings) == expected_funnel, 60, "the sink again")
        stored, paths = _read_clickhouse(settings, sink)
    assert stored == {"p-same": ("attributed", ""), "p-within": ("attributed", ""),
                      "p-beyond": ("unattributed", "click_after_registration")}
    # the paths the attribution models read hold the same two players' clicks
    assert sorted(p.channels for p in paths if p.converted) == [("aff-1",), ("aff-1",)]


def _registrations(settings) -> set[tuple[str, int]] | None:
    """(affiliate, registrations) of the funnel, or None while the sink is starting."""
    try:
        rows = funnel_rows(settings)
    except httpx.TransportError:
        return None
    return {(r["affiliate_id"], r["registrations"]) for r in rows if r["registrations"]}


def _read_clickhouse(settings, sink) -> tuple[dict[str, tuple[str, str]], list[Path]]:
    """The stored decisions and the paths the models read (the sink stopped: the embedded
    engine opens in one process at a time)."""
    sink.stop()
    client = connect(settings)
    db = settings.clickhouse_database
    try:
        stored = {
            str(p): (str(s), str(r))
            for p, s, r in client.query(
                f"SELECT player_id, status, reason FROM {db}.attributions FINAL").result_rows
        }
        paths = query_paths(client, db, brand_id=None, conversion="registration", by="affiliate",
                            value="ngr", since=None, until=None, lookback_days=30,
                            clock_skew_s=settings.attribution_clock_skew_s)
    finally:
        client.close()
    return stored, paths
