"""The shipped example mappings (deploy/mappings/) import their sample exports through
`clickpath import --source <source>` with zero rejections, against the real embedded broker, and
a later export overlapping it imports only its new row (the derived ids are the same)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from clickpath.contracts.models import Chargeback, Deposit, Login, Registration, Wager
from tests.integration.harness import unsealed
from tests.integration.test_import import ImportProcess, ingress_records

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "mappings"

pytestmark = pytest.mark.integration
NEW_ROW = {
    "acme-crm": "dep,P1002,T5005,20.00,EUR,VISA,Approved,2026-01-21T08:00:00Z,a1b2c3,,,,,\n",
    "reelhouse-feed": '{"event": "bet_settled", "event_uuid": "e-0010", "ts": "2026-01-26T09:00:00Z", '
                      '"user_id": "R-501", "round_id": "RND-3", "stake": "1.00", "win": "0.00", '
                      '"currency": "SEK", "category": "crash"}\n',
}


@pytest.fixture
def mapped(settings):
    return settings.with_overrides(mappings_file=EXAMPLES)


def import_file(settings, path: Path, source: str) -> tuple[int, str, str]:
    process = ImportProcess(settings, str(path), "--source", source, "--brand", "acme")
    try:
        return process.finish()
    finally:
        process.stop()


@pytest.mark.parametrize(("sample", "source", "count"), [
    ("acme-crm.sample.csv", "acme-crm", 7),
    ("reelhouse-feed.sample.jsonl", "reelhouse-feed", 9),
])
def test_a_mapped_export_imports_with_zero_rejections(mapped, codec, tmp_path, sample, source, count) -> None:
    path = tmp_path / sample
    path.write_bytes((EXAMPLES / sample).read_bytes())

    code, out, err = import_file(mapped, path, source)
    assert code == 0, out + err
    assert f"imported     {count}" in out and "rejected     0" in out
    assert not (tmp_path / f"{sample}.rejected.jsonl").exists()

    events = [event for _, event in ingress_records(mapped, codec)]
    assert len(events) == count and all(e.source == source and e.brand_id == "acme" for e in events)
    (chargeback,) = [e for e in events if isinstance(e, Chargeback)]
    assert chargeback.chargeback_id == f"cb-{chargeback.transaction_id}"
    if source == "acme-crm":
        registrations = {e.player_id: e for e in events if isinstance(e, Registration)}
        assert registrations["P1001"].email_hash and registrations["P1001"].click_id == "clk-9001"
        deposits = [e for e in events if isinstance(e, Deposit)]
        assert sorted(d.amount for d in deposits) == [Decimal("25.00"), Decimal("50.00"), Decimal("100.00")]
        assert {d.method for d in deposits} == {"card", "ewallet"}
        assert {d.status for d in deposits} == {"approved"}  # the CRM's "Approved", mapped
    else:
        (login,) = [e for e in events if isinstance(e, Login)]
        assert unsealed(mapped, "device_id", login.device_id) == "fp-77aa" and login.ip_prefix
        wagers = sorted((e for e in events if isinstance(e, Wager)), key=lambda w: w.wager_id)
        assert [(w.wager_id, w.game_category, w.bonus_stake) for w in wagers] == [
            ("RND-1", "casino", Decimal(0)), ("RND-2", "live_casino", Decimal("1.00"))]

    # A later export that overlaps this one: every id derives the same, only the new row is new.
    later = tmp_path / f"later-{sample}"
    later.write_bytes(path.read_bytes() + NEW_ROW[source].encode())
    code, out, err = import_file(mapped, later, source)
    assert code == 0, out + err
    assert "imported     1" in out and f"duplicates   {count}" in out, out
