"""Listing the audit trail (actor, kind, subject, time, limit) and the settings' fingerprint
behind config.changed: secrets and collections never by value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clickpath.domain.audit.chain import AuditEntry, next_entry
from clickpath.domain.audit.config import changed_names, digest, shown_settings
from clickpath.domain.audit.filters import AuditFilter, select

T0 = datetime(2026, 12, 1, tzinfo=UTC)
ROWS = [("k1", "plan.version_added", "plan:std"), ("k2", "catalogue.affiliate_changed", "affiliate:a"),
        ("cli:ops", "key.created", "key:k3"), ("k1", "journey.read", "brand-a:p1"),
        ("k1", "catalogue.campaign_changed", "campaign:a/c")]


def entries() -> list[AuditEntry]:
    made: list[AuditEntry] = []
    for i, (actor, kind, subject) in enumerate(ROWS):
        made.append(next_entry(made[-1] if made else None, at=T0 + timedelta(days=i), actor=actor,
                               kind=kind, subject=subject, detail={}, origin="o"))
    return made


def seqs(wanted: AuditFilter) -> list[int]:
    return [e.seq for e in select(entries(), wanted)]


def test_each_filter() -> None:
    assert seqs(AuditFilter()) == [1, 2, 3, 4, 5]
    assert seqs(AuditFilter(actor="k1")) == [1, 4, 5]
    assert seqs(AuditFilter(kind="journey.read")) == [4]
    assert seqs(AuditFilter(kind="catalogue.")) == [2, 5]
    assert seqs(AuditFilter(kind="catalogue")) == []  # a family ends in a dot
    assert seqs(AuditFilter(subject="brand-a:p1")) == [4]
    assert seqs(AuditFilter(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))) == [2, 3]
    assert seqs(AuditFilter(actor="k1", limit=2)) == [4, 5]


def test_settings_are_shown_without_secrets_or_collections() -> None:
    key = b"k" * 32
    plain = {"partitions": 4, "http_host": "127.0.0.1", "affiliates": {"a": {"postback_url": "x"}},
             "clickhouse_url": "http://u:hunter2@ch:8123", "tracker_base_url": None}
    shown = shown_settings(plain, {"pseudonym_key": "s3cret", "kafka_sasl_password": None}, key)
    assert shown["partitions"] == 4 and shown["http_host"] == "127.0.0.1"
    assert shown["tracker_base_url"] is None and shown["kafka_sasl_password"] is None
    for name in ("affiliates", "clickhouse_url", "pseudonym_key"):
        assert str(shown[name]).startswith("hmac:"), name
    assert "hunter2" not in str(shown) and "s3cret" not in str(shown)
    again = shown_settings(plain, {"pseudonym_key": "s3cret", "kafka_sasl_password": None}, key)
    assert digest(again) == digest(shown)
    other = shown_settings(plain, {"pseudonym_key": "rotated", "kafka_sasl_password": None}, key)
    assert digest(other) != digest(shown) and changed_names(shown, other) == ["pseudonym_key"]
    assert changed_names(None, shown) == sorted(shown)
