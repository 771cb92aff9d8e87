"""The identity graph's tables in real ClickHouse (embedded chdb, the shipped DDL 013): the sink
writes every field of IdentityLink, PersonChange, MultiAccountSignal and TouchpointLink, and
the views (`persons`, `person_changes`, `identity_links_now`, `identity_signals_now`,
`identity_touchpoints_now`) read each key's highest version, merged or not, whatever order the
versions arrive in; a replayed batch changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clickpath.contracts.models import IdentityLink, MultiAccountSignal, PersonChange, TouchpointLink
from clickpath.sinks.clickhouse.writer import write_batch

DB = "clickpath"
T0 = datetime(2026, 11, 5, 12, tzinfo=UTC)
TABLES = ("identity_links", "identity_person_changes", "identity_signals", "identity_touchpoints")
VIEWS = ("persons", "person_changes", "identity_links_now", "identity_signals_now",
         "identity_touchpoints_now")


def link(account: str, other: str, version: int, status: str = "merged", score: float = 7.34,
         **changes: Any) -> IdentityLink:
    fields: dict[str, Any] = dict(
        account=account, other=other, operator_id="acme", status=status, score=score,
        reasons={"prior": -13.29, "device_id": 16.46, "ua_family": 4.17}, version=version,
        decided_at=T0 + timedelta(minutes=version),
    )
    return IdentityLink(**{**fields, **changes})


def change(account: str, version: int, person: str, previous: str, kind: str = "merge") -> PersonChange:
    return PersonChange(change_id=f"{account}#{version}", account=account, operator_id="acme",
                        kind=kind, person_id=person, previous_person_id=previous,
                        reason="email_hash" if kind == "merge" else "unmerge: support ticket 7",
                        version=version, changed_at=T0 + timedelta(minutes=version))


def signal(signal_id: str, version: int, status: str = "open") -> MultiAccountSignal:
    return MultiAccountSignal(signal_id=signal_id, kind="multi_account", brand_id="brand-a",
                              accounts=["brand-a:p1", "brand-a:p2"], score=3.17,
                              reasons={"prior": -13.29, "device_id": 16.46}, status=status,
                              version=version, raised_at=T0 + timedelta(minutes=version))


def touch(account: str, click_id: str, kind: str, minutes: int = 0) -> TouchpointLink:
    brand = account.partition(":")[0]
    return TouchpointLink(account=account, brand_id=brand, click_id=click_id, affiliate_id="aff-1",
                          campaign_id="camp-1", clicked_at=T0 - timedelta(minutes=minutes), link=kind)


def read(client, sql: str) -> list[dict[str, Any]]:
    """The rows as dicts, times in UTC (the embedded driver may hand them back naive)."""
    result = client.query(sql)

    def utc(value: Any) -> Any:
        return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value

    return [{c: utc(v) for c, v in zip(result.column_names, row, strict=True)}
            for row in result.result_rows]


def snapshot(client) -> dict[str, list[dict[str, Any]]]:
    order = {"persons": "account", "person_changes": "change_id",
             "identity_links_now": "account, other_brand_id, other_player_id",
             "identity_signals_now": "signal_id", "identity_touchpoints_now": "account, click_id"}
    return {v: read(client, f"SELECT * FROM {DB}.{v} ORDER BY {order[v]}") for v in VIEWS}


def first_batch() -> list[Any]:
    return [
        # p1 (brand-a) and q1 (brand-b) share an e-mail: one person, the earlier account's.
        link("brand-a:p1", "brand-b:q1", 1), link("brand-b:q1", "brand-a:p1", 1),
        change("brand-b:q1", 1, person="brand-a:p1", previous="brand-b:q1"),
        # p1 and p2 of one brand share a device: possible, flagged, never merged.
        link("brand-a:p1", "brand-a:p2", 1, status="possible", score=3.17,
             reasons={"prior": -13.29, "device_id": 16.46}),
        signal("sig-1", 1), signal("sig-2", 1),
        touch("brand-a:p1", "c1", "named_click"), touch("brand-a:p1", "c0", "device", 90),
        touch("brand-a:p1", "c1", "device"),  # the named click, reached by the device too
    ]


def test_the_views_read_every_record_and_a_replay_changes_nothing(client) -> None:
    written = write_batch(client, DB, first_batch())
    assert written == {"identity_links": 3, "identity_person_changes": 1, "identity_signals": 2,
                       "identity_touchpoints": 3}
    before = snapshot(client)
    assert before["persons"] == [{
        "brand_id": "brand-b", "player_id": "q1", "account": "brand-b:q1", "person_id": "brand-a:p1",
        "operator_id": "acme", "kind": "merge", "previous_person_id": "brand-b:q1",
        "reason": "email_hash", "changed_at": T0 + timedelta(minutes=1), "version": 1,
    }]
    links = {(r["account"], r["other_brand_id"], r["other_player_id"]): r
             for r in before["identity_links_now"]}
    # Another brand's account is named by its brand only; one of the same brand in full.
    assert sorted(links) == [("brand-a:p1", "brand-a", "p2"), ("brand-a:p1", "brand-b", ""),
                             ("brand-b:q1", "brand-a", "")]
    merged = links[("brand-a:p1", "brand-b", "")]
    assert (merged["brand_id"], merged["player_id"], merged["status"], merged["operator_id"]) == (
        "brand-a", "p1", "merged", "acme")
    assert merged["reasons"] == {"prior": -13.29, "device_id": 16.46, "ua_family": 4.17}
    assert merged["score"] == 7.34 and merged["version"] == 1
    assert links[("brand-a:p1", "brand-a", "p2")]["status"] == "possible"
    [sig1, _] = before["identity_signals_now"]
    assert (sig1["signal_id"], sig1["accounts"], sig1["player_ids"], sig1["status"]) == (
        "sig-1", ["brand-a:p1", "brand-a:p2"], ["p1", "p2"], "open")
    assert [(t["click_id"], t["link"]) for t in before["identity_touchpoints_now"]] == [
        ("c0", "device"), ("c1", "named_click")]
    assert len(before["person_changes"]) == 1

    write_batch(client, DB, first_batch())  # a replayed batch
    assert snapshot(client) == before
    for table in TABLES:
        client.command(f"OPTIMIZE TABLE {DB}.{table} FINAL")
    assert snapshot(client) == before


def test_a_newer_version_replaces_an_older_one_in_any_order(client) -> None:
    write_batch(client, DB, first_batch())
    newer = [
        # An unmerge: q1 is a person of its own again, the link between them removed.
        link("brand-a:p1", "brand-b:q1", 2, status="removed", score=0.0),
        change("brand-b:q1", 2, person="brand-b:q1", previous="brand-a:p1", kind="unmerge"),
        signal("sig-1", 2, status="withdrawn"),  # its device became shared
        link("brand-a:p1", "brand-a:p2", 2, status="possible", score=12.62,
             reasons={"prior": -13.29, "device_id": 16.46, "ip_prefix": 9.45}),
    ]
    write_batch(client, DB, newer)
    write_batch(client, DB, first_batch())  # the older versions again, after the newer ones
    after = snapshot(client)
    [person] = after["persons"]
    assert (person["person_id"], person["kind"], person["version"]) == ("brand-b:q1", "unmerge", 2)
    assert [(c["change_id"], c["kind"]) for c in after["person_changes"]] == [
        ("brand-b:q1#1", "merge"), ("brand-b:q1#2", "unmerge")]  # the log keeps both
    assert [(r["account"], r["other_player_id"], r["score"], r["version"])
            for r in after["identity_links_now"]] == [
        ("brand-a:p1", "p2", 12.62, 2),  # the newer score
        ("brand-b:q1", "", 7.34, 1),  # q1's side says nothing newer yet
    ]
    assert [s["signal_id"] for s in after["identity_signals_now"]] == ["sig-2"]
    for table in TABLES:
        client.command(f"OPTIMIZE TABLE {DB}.{table} FINAL")
    assert snapshot(client) == after
