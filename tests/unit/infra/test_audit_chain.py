"""The audit chain on disk (clickpath/infra/audit_chain.py, audit.py): appended and signed, a
crash between an entry and its head adopted and said, a torn line cut, and a chain that no
longer ends where its head says refused for further appends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from clickpath.infra.audit import AuditTrail, AuditWriteError
from clickpath.infra.audit_chain import CHAIN_FILE, HEAD_FILE
from clickpath.settings import Settings

KEY = b"unit-test-audit-key-of-at-least-32-bytes"


def trail(tmp_path: Path) -> AuditTrail:
    return AuditTrail(tmp_path / "audit", KEY)


def add(t: AuditTrail, n: int) -> None:
    for i in range(n):
        t.record(actor="k1", kind="key.created", subject=f"key:{i}", origin="cli@host",
                 detail={"role": "admin"})


def test_entries_are_appended_and_the_head_signed(tmp_path) -> None:
    t = trail(tmp_path)
    add(t, 3)
    assert t.verify() == ([], 3)
    head = json.loads((t.directory / HEAD_FILE).read_text())
    last = json.loads((t.directory / CHAIN_FILE).read_text().splitlines()[-1])
    assert (head["seq"], head["hash"]) == (3, last["hash"])
    assert oct((t.directory / CHAIN_FILE).stat().st_mode & 0o777) == "0o600"


def test_a_crash_between_an_entry_and_its_head_is_adopted_and_said(tmp_path) -> None:
    t = trail(tmp_path)
    add(t, 2)
    signed = (t.directory / HEAD_FILE).read_text()
    add(t, 1)
    (t.directory / HEAD_FILE).write_text(signed)  # as if the process died before the head
    problems, _ = t.verify()
    assert problems[0].seq == 3 and "after the signed head" in problems[0].reason
    add(t, 1)
    assert t.verify() == ([], 5)
    assert [e.kind for e in t.entries()][-2:] == ["audit.tail_adopted", "key.created"]


def test_a_torn_last_line_is_cut_before_the_next_append(tmp_path) -> None:
    t = trail(tmp_path)
    add(t, 2)
    with open(t.directory / CHAIN_FILE, "ab") as f:
        f.write(b'{"seq":3,"act')
    assert "torn" in t.verify()[0][0].reason
    add(t, 1)
    assert t.verify() == ([], 3)


@pytest.mark.parametrize("damage", ["truncate", "delete head", "foreign head"])
def test_no_entry_is_added_to_a_chain_that_no_longer_ends_at_its_head(tmp_path, damage) -> None:
    t = trail(tmp_path)
    add(t, 3)
    chain, head = t.directory / CHAIN_FILE, t.directory / HEAD_FILE
    if damage == "truncate":
        chain.write_text("".join(chain.read_text().splitlines(keepends=True)[:1]))
    elif damage == "delete head":
        head.unlink()
    else:
        AuditTrail(tmp_path / "other", b"o" * 32).record(
            actor="x", kind="key.created", subject="key:x", origin="o")
        head.write_text((tmp_path / "other" / HEAD_FILE).read_text())
    with pytest.raises(AuditWriteError):
        add(t, 1)
    assert t.verify()[0]  # still broken, nothing written over it


def test_config_is_recorded_when_it_changed_only(tmp_path) -> None:
    t = trail(tmp_path)
    settings = Settings(data_dir=tmp_path, pseudonym_key="p" * 32)
    first = t.record_config(settings, role="api", actor="cli:ops", origin="cli@host")
    assert first is not None and first.detail["changed"] is None
    assert t.record_config(settings, role="api", actor="cli:ops", origin="cli@host") is None
    # Per run values of `up` are no change; another role has its own record.
    rerun = settings.with_overrides(reports_url="http://127.0.0.1:4242")
    assert t.record_config(rerun, role="api", actor="cli:ops", origin="cli@host") is None
    assert t.record_config(settings, role="worker-0", actor="cli:ops", origin="cli@host") is not None
    rotated = settings.with_overrides(pseudonym_key=SecretStr("q" * 32))
    changed = t.record_config(rotated, role="api", actor="cli:ops", origin="cli@host")
    assert changed is not None and changed.detail["changed"] == ["pseudonym_key"]
    text = (t.directory / CHAIN_FILE).read_text()
    assert "p" * 32 not in text and "q" * 32 not in text
    assert t.verify() == ([], 3)
