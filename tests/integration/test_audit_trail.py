"""The audit trail end to end (issue 26 item 4): real `clickpath` commands write a real chain;
`clickpath audit verify` passes it untouched and fails, naming the seq, after an entry is
edited, a middle entry removed or the tail dropped (and after a forged head); two processes
appending at once keep one valid chain; a change without an audit key of one's own is refused
before it is made."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

AUDIT_KEY = "integration-audit-key-0123456789abcdef0123"


def environment(data_dir: Path, audit_key: str | None = AUDIT_KEY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKPATH_")}
    env["CLICKPATH_DATA_DIR"] = str(data_dir)
    env["CLICKPATH_INSTANCES_DIR"] = str(data_dir.parent / "instances")  # no other `up` is found
    if audit_key is not None:
        env["CLICKPATH_AUDIT_KEY"] = audit_key
    return env


def clickpath(
    data_dir: Path, *args: str, audit_key: str | None = AUDIT_KEY
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "clickpath.run.cli", *args],
                          env=environment(data_dir, audit_key), capture_output=True, text=True,
                          timeout=60)


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Path:
    """A data dir whose chain the CLI wrote: three keys created, one revoked."""
    data_dir = tmp_path_factory.mktemp("audit") / "cp"
    made = []
    for role, extra in (("admin", []), ("operator", ["--brand", "brand-a"]),
                        ("affiliate", ["--affiliate", "aff-1"])):
        result = clickpath(data_dir, "keys", "create", "--role", role, *extra)
        assert result.returncode == 0, result.stderr
        made.append(result.stdout.strip())
    revoked = clickpath(data_dir, "keys", "revoke", made[1])
    assert revoked.returncode == 0, revoked.stderr
    return data_dir


def tampered(chain: Path, tmp_path: Path) -> tuple[Path, list[str]]:
    copy = tmp_path / "cp"
    shutil.copytree(chain, copy)
    return copy, (copy / "audit" / "chain.jsonl").read_text().splitlines(keepends=True)


def test_the_untouched_chain_verifies_and_lists(chain) -> None:
    result = clickpath(chain, "audit", "verify")
    assert (result.returncode, result.stdout.splitlines()[0][:27]) == (0, "OK: 4 audit entries, chain ")
    listed = clickpath(chain, "audit", "list", "--format", "json")
    entries = json.loads(listed.stdout)
    assert [e["kind"] for e in entries] == ["key.created"] * 3 + ["key.revoked"]
    assert {e["actor"] for e in entries} == {entries[0]["actor"]} and entries[0]["actor"].startswith("cli:")
    assert entries[0]["origin"].startswith("cli@")
    assert [e["detail"]["role"] for e in entries] == ["admin", "operator", "affiliate", "operator"]
    text = (chain / "audit" / "chain.jsonl").read_text()
    assert "cpk_" not in text and "digest" not in text  # no key's secret, nor its digest
    only = json.loads(clickpath(chain, "audit", "list", "--kind", "key.revoked", "--format",
                                "json").stdout)
    assert [e["seq"] for e in only] == [4]
    table = clickpath(chain, "audit", "list", "--limit", "2")
    assert table.returncode == 0 and table.stdout.count("key.") == 2, table.stdout


def test_an_edited_entry_fails(chain, tmp_path) -> None:
    copy, lines = tampered(chain, tmp_path)
    entry = json.loads(lines[1])
    entry["detail"]["role"] = "admin"  # an operator key made to look like an admin's
    lines[1] = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
    (copy / "audit" / "chain.jsonl").write_text("".join(lines))
    result = clickpath(copy, "audit", "verify")
    assert result.returncode == 1
    assert "seq 2: edited" in result.stderr, result.stderr


def test_a_removed_middle_entry_fails(chain, tmp_path) -> None:
    copy, lines = tampered(chain, tmp_path)
    del lines[1]
    (copy / "audit" / "chain.jsonl").write_text("".join(lines))
    result = clickpath(copy, "audit", "verify")
    assert result.returncode == 1
    assert "seq 2: removed" in result.stderr, result.stderr


def test_a_dropped_tail_fails(chain, tmp_path) -> None:
    copy, lines = tampered(chain, tmp_path)
    (copy / "audit" / "chain.jsonl").write_text("".join(lines[:2]))
    result = clickpath(copy, "audit", "verify")
    assert result.returncode == 1
    assert "seq 3: truncated" in result.stderr, result.stderr


def test_a_forged_head_or_the_wrong_key_fails(chain, tmp_path) -> None:
    copy, lines = tampered(chain, tmp_path)
    (copy / "audit" / "chain.jsonl").write_text("".join(lines[:2]))
    last = json.loads(lines[1])
    head = {"seq": 2, "hash": last["hash"], "signature": "0" * 64}  # the head moved back, unsigned
    (copy / "audit" / "head.json").write_text(json.dumps(head))
    result = clickpath(copy, "audit", "verify")
    assert result.returncode == 1 and "not the audit key's" in result.stderr, result.stderr
    wrong = clickpath(chain, "audit", "verify", audit_key="another-audit-key-0123456789abcdef0123")
    assert wrong.returncode == 1 and "not the audit key's" in wrong.stderr


def test_a_change_without_an_audit_key_of_ones_own_is_refused_before_it_is_made(tmp_path) -> None:
    data_dir = tmp_path / "cp"
    nothing = clickpath(data_dir, "audit", "verify")
    assert nothing.returncode == 1 and "no audit trail" in nothing.stderr
    for key in (None, "clickpath-dev-audit-key-change-me", "short"):
        result = clickpath(data_dir, "keys", "create", "--role", "admin", audit_key=key)
        assert result.returncode == 2 and "CLICKPATH_AUDIT_KEY" in result.stderr, result.stderr
    assert not (data_dir / "api-keys.json").exists()


APPENDER = """
import sys
from pathlib import Path
from clickpath.infra.audit import AuditTrail
trail = AuditTrail(Path(sys.argv[1]), sys.argv[2].encode())
for i in range(int(sys.argv[4])):
    trail.record(actor=sys.argv[3], kind="journey.read", subject=f"brand-a:p{i}", origin="cli@test",
                 detail={"i": i})
"""


def test_two_processes_appending_at_once_keep_one_chain(tmp_path) -> None:
    from clickpath.infra.audit import AuditTrail

    directory = tmp_path / "audit"
    writers = [subprocess.Popen([sys.executable, "-c", APPENDER, str(directory), AUDIT_KEY, name, "60"])
               for name in ("writer-a", "writer-b")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    trail = AuditTrail(directory, AUDIT_KEY.encode())
    assert trail.verify() == ([], 120)
    entries = trail.entries()
    assert [e.seq for e in entries] == list(range(1, 121))
    for name in ("writer-a", "writer-b"):
        assert [e.detail["i"] for e in entries if e.actor == name] == list(range(60))
