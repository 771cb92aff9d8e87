"""The audit chain's integrity (issue 26 item 4): an untouched chain passes; an edited field, a
removed middle entry, a dropped tail and a forged or missing head each fail, naming the seq."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from clickpath.domain.audit.chain import (
    AuditEntry,
    AuditRefused,
    Head,
    next_entry,
    recomputed_hash,
    sign_head,
)
from clickpath.domain.audit.verify import Unreadable, verify

KEY = b"audit-test-key-of-thirty-two-bytes!!"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def chain(n: int = 5) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for i in range(n):
        entries.append(next_entry(entries[-1] if entries else None, at=T0 + timedelta(minutes=i),
                                  actor="a1b2c3", kind="plan.version_added", subject=f"plan:p{i}",
                                  detail={"version": i + 1}, origin="203.0.113.9"))
    return entries


def test_an_untouched_chain_passes() -> None:
    entries = chain()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert verify(entries, sign_head(entries[-1], KEY), KEY) == []
    assert verify([], sign_head(None, KEY), KEY) == []


def test_each_hash_covers_the_previous_one() -> None:
    entries = chain(3)
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    assert all(recomputed_hash(e) == e.hash for e in entries)


@pytest.mark.parametrize("field,value", [
    ("actor", "someone-else"), ("subject", "plan:other"), ("origin", "198.51.100.1"),
    ("detail", {"version": 99}), ("at", T0 - timedelta(days=1)), ("kind", "key.created"),
])
def test_an_edited_field_is_found_at_its_seq(field, value) -> None:
    entries = chain()
    entries[2] = dataclasses.replace(entries[2], **{field: value})
    problems = verify(entries, sign_head(chain()[-1], KEY), KEY)
    assert problems[0].seq == 3 and "edited" in problems[0].reason


def test_an_edit_with_every_hash_recomputed_is_caught_by_the_signed_head() -> None:
    original = chain()
    forged: list[AuditEntry] = []
    for e in original:  # the whole chain rebuilt from the edit on, as someone without the key can
        forged.append(next_entry(forged[-1] if forged else None, at=e.at, actor=e.actor, kind=e.kind,
                                 subject=e.subject, origin=e.origin,
                                 detail={"version": 99} if e.seq == 2 else e.detail))
    problems = verify(forged, sign_head(original[-1], KEY), KEY)
    assert [p.seq for p in problems] == [5] and "rewritten" in problems[0].reason


def test_a_removed_middle_entry_is_a_gap() -> None:
    entries = chain()
    del entries[2]
    problems = verify(entries, sign_head(chain()[-1], KEY), KEY)
    assert problems[0].seq == 3 and "removed" in problems[0].reason


def test_a_removed_entry_renumbered_breaks_the_prev_hash() -> None:
    entries = chain()
    del entries[1]
    renumbered = [entries[0]] + [dataclasses.replace(e, seq=e.seq - 1) for e in entries[1:]]
    problems = verify(renumbered, sign_head(chain()[-1], KEY), KEY)
    assert problems[0].seq == 2 and "prev_hash" in problems[0].reason


def test_a_dropped_tail_is_truncation() -> None:
    entries = chain()
    head = sign_head(entries[-1], KEY)
    problems = verify(entries[:3], head, KEY)
    assert [(p.seq, "truncated" in p.reason) for p in problems] == [(4, True)]
    assert verify([], head, KEY)[0].seq == 1


def test_a_forged_or_missing_head_fails() -> None:
    entries = chain()
    assert "no signed head" in verify(entries, None, KEY)[0].reason
    other_key = sign_head(entries[-1], b"x" * 32)
    assert "not the audit key's" in verify(entries, other_key, KEY)[0].reason
    # A head moved back over a cut-off tail without the key: its signature no longer fits.
    moved = Head(seq=3, hash=entries[2].hash, signature=sign_head(entries[-1], KEY).signature)
    assert "not the audit key's" in verify(entries[:3], moved, KEY)[0].reason


def test_entries_after_the_signed_head_are_named() -> None:
    entries = chain()
    problems = verify(entries, sign_head(entries[2], KEY), KEY)
    assert [p.seq for p in problems] == [4] and "after the signed head" in problems[0].reason


def test_an_unreadable_line_is_named() -> None:
    entries = chain(3)
    items: list[AuditEntry | Unreadable] = [entries[0], Unreadable(2, "JSONDecodeError"), entries[2]]
    problems = verify(items, sign_head(entries[-1], KEY), KEY)
    assert problems[0].seq == 2 and "line 2" in problems[0].reason


def test_an_entry_survives_its_json_round_trip() -> None:
    entries = chain(2)
    again = [AuditEntry.from_json(e.to_json()) for e in entries]
    assert again == entries and verify(again, sign_head(again[-1], KEY), KEY) == []


@pytest.mark.parametrize("detail,named", [
    ({"secret": "abc"}, "secret"),
    ({"nested": {"api_key": "x"}}, "api_key"),
    ({"note": "cpk_0123456789ab_" + "A" * 43}, "API key"),
    ({"blob": "x" * 9000}, "bytes"),
    ({"when": T0}, "not JSON"),
])
def test_a_detail_with_a_secret_or_too_big_is_refused(detail, named) -> None:
    with pytest.raises(AuditRefused, match=named):
        next_entry(None, at=T0, actor="k", kind="key.created", subject="key:k", detail=detail,
                   origin="cli@host")


def test_a_fingerprinted_secret_and_an_unknown_kind() -> None:
    entry = next_entry(None, at=T0, actor="cli:ops", kind="config.changed", subject="role:api",
                       detail={"settings": {"pseudonym_key": "hmac:0123456789abcdef",
                                            "kafka_sasl_password": None}}, origin="cli@host")
    assert entry.seq == 1
    with pytest.raises(AuditRefused, match="unknown audit kind"):
        next_entry(None, at=T0, actor="k", kind="plan.deleted", subject="x", detail={}, origin="o")
    with pytest.raises(AuditRefused, match="time zone"):
        next_entry(None, at=T0.replace(tzinfo=None), actor="k", kind="key.created", subject="x",
                   detail={}, origin="o")
