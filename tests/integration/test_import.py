"""`clickpath import` as an operator runs it (a subprocess), against the real embedded broker.

What lands on the topics (pseudonymised, exactly once), the summary and the rejection report,
re-runs, an interrupted import (Ctrl-C, then SIGKILL) resumed, a broker that stops answering,
and a file changed after its import.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from clickpath.contracts.batches import unpack
from clickpath.contracts.models import (
    Click,
    Consent,
    Deposit,
    IngressEvent,
    Kyc,
    Registration,
)
from clickpath.contracts.topics import Topic, topic_name
from clickpath.domain.pseudonym import keyed_hash
from clickpath.infra.batching import events_in
from clickpath.infra.broker import EmbeddedBroker, free_port
from clickpath.infra.kafka import consumer_config, create_topics
from clickpath.infra.procs import die_with_parent
from tests.integration.conftest import PSEUDONYM_KEY
from tests.integration.harness import read_records, unsealed, wait_until

KEY = PSEUDONYM_KEY.encode()
T = "2026-01-05T10:00:00Z"


class ImportProcess:
    """`python -m clickpath.run.cli import ...` with the test's settings, in its own process group."""

    def __init__(self, settings, *args: str) -> None:
        env = {**os.environ, **settings.to_env()}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "clickpath.run.cli", "import", *args], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=die_with_parent,
        )

    def signal(self, signum: int) -> None:
        os.killpg(self.proc.pid, signum)

    def finish(self, timeout_s: float = 120) -> tuple[int, str, str]:
        try:
            out, err = self.proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            out, err = self.proc.communicate()
            raise AssertionError(f"import did not finish in {timeout_s}s:\n{out}\n{err}") from None
        return self.proc.returncode, out, err

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.communicate()


@pytest.fixture
def run_import(settings):
    started: list[ImportProcess] = []

    def start(*args: str, with_settings=None) -> ImportProcess:
        process = ImportProcess(with_settings or settings, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def run_to_end(start, *args: str, **kwargs) -> tuple[int, str, str]:
    return start(*args, **kwargs).finish()


def checkpoint(settings) -> dict | None:
    """The one checkpoint of the test's data dir, if written yet."""
    files = list((settings.data_dir / "imports").glob("*.json"))
    if not files:
        return None
    (path,) = files
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def ingress_records(settings, codec, timeout_s: float = 30) -> list[tuple[bytes, IngressEvent]]:
    """Every event on the clicks and events topics (a batch record's one by one), read to the end
    of each partition, with its own single-record bytes."""
    got = []
    for _topic, _partition, key, value in read_records(settings, timeout_s=timeout_s):
        got += [(item.value, item.record) for item in unpack(codec, key, value)]
    return got


def write_jsonl(path: Path, events: list) -> Path:
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events))
    return path


def journey(i: int) -> list[dict]:
    """A click, its registration (raw e-mail and IP) and a deposit: three events."""
    base = {"occurred_at": T, "brand_id": "luckyspin"}
    return [
        {**base, "event_type": "click", "event_id": f"c-{i}", "click_id": f"clk-{i}", "affiliate_id": "aff-1",
         "campaign_id": "camp-1", "ip": f"198.51.100.{i % 250}"},
        {**base, "event_type": "registration", "event_id": f"r-{i}", "player_id": f"p-{i}",
         "click_id": f"clk-{i}", "email": f"player{i}@example.com", "ip": f"198.51.100.{i % 250}"},
        {**base, "event_type": "deposit", "event_id": f"d-{i}", "player_id": f"p-{i}",
         "transaction_id": f"tx-{i}", "amount": "10.50", "currency": "EUR"},
    ]


def history(players: int, duplicate_every: int = 0) -> tuple[list[dict], set[str]]:
    """Journeys with, optionally, an earlier deposit repeated every `duplicate_every` players."""
    lines: list[dict] = []
    for i in range(players):
        lines += journey(i)
        if duplicate_every and i and i % duplicate_every == 0:
            lines.append(journey(i - 1)[2])
    return lines, {e["event_id"] for e in lines}


# --- a JSONL file -------------------------------------------------------------------------


def test_jsonl_import_lands_pseudonymised_reports_rejections_and_reruns_import_nothing(
    settings, codec, run_import, tmp_path
) -> None:
    reg = {"event_type": "registration", "event_id": "r-1", "occurred_at": T, "brand_id": "luckyspin",
           "player_id": "p-1", "click_id": "clk-1", "email": " Ann@Example.com", "phone": "+44 20 7946-0958",
           "ip": "203.0.113.7"}
    dep = {"event_type": "deposit", "event_id": "d-1", "occurred_at": T, "brand_id": "luckyspin",
           "player_id": "p-1", "transaction_id": "tx-1", "amount": "25.00", "currency": "EUR"}
    path = write_jsonl(tmp_path / "history.jsonl", [
        {"event_type": "click", "event_id": "c-1", "occurred_at": T, "brand_id": "luckyspin",
         "click_id": "clk-1", "affiliate_id": "aff-1", "campaign_id": "camp-1", "ip": "203.0.113.7",
         "source": "tracker-export"},
        reg,
        dep,
        "",
        dep,                                                   # line 5: a duplicate
        {**dep, "event_id": "d-2", "amount": "lots"},          # line 6
        '{"event_type": "deposit", "event_id": ',              # line 7
        {**reg, "event_type": "login", "event_id": "l-1"},     # line 8: e-mail on a login
        {"event_type": "kyc", "event_id": "k-1", "occurred_at": T, "brand_id": "luckyspin",
         "player_id": "p-1", "status": "verified"},
    ])

    code, out, err = run_to_end(run_import, str(path), "--dry-run")
    assert code == 1, err
    assert "Dry run of history.jsonl: nothing was sent." in out and "would import 4" in out
    assert checkpoint(settings) is None

    code, out, err = run_to_end(run_import, str(path))
    assert code == 1, err  # done, with rejections
    assert "Imported history.jsonl: done." in out
    assert "imported     4" in out and "duplicates   1  (1 repeated in this file" in out
    assert "rejected     3" in out
    assert "line 6: amount: Input should be a valid decimal" in out
    assert "line 7: record: not valid JSON" in out
    assert "line 8: email: not accepted on a login event" in out
    report = [json.loads(x) for x in (tmp_path / "history.jsonl.rejected.jsonl").read_text().splitlines()]
    assert [(r["line"], r["field"]) for r in report] == [(6, "amount"), (7, ""), (8, "email")]
    assert report[0]["event_id"] == "d-2"

    records = ingress_records(settings, codec)
    by_id = {event.event_id: event for _, event in records}
    assert sorted(by_id) == ["c-1", "d-1", "k-1", "r-1"] and len(records) == 4
    click, registration = by_id["c-1"], by_id["r-1"]
    assert isinstance(click, Click) and click.source == "tracker-export"
    assert click.ip_hash == keyed_hash(KEY, "ip", "203.0.113.7") and click.ip_prefix == "203.0.0.0/16"
    assert isinstance(registration, Registration) and registration.source == "import"
    # sealed under the player's key at the door (docs/privacy.md#erasure)
    assert unsealed(settings, "email_hash", registration.email_hash) == keyed_hash(
        KEY, "email", "ann@example.com")
    assert unsealed(settings, "phone_hash", registration.phone_hash) == keyed_hash(
        KEY, "phone", "+442079460958")
    assert registration.received_at is not None
    assert isinstance(by_id["d-1"], Deposit) and by_id["d-1"].amount == Decimal("25.00")
    assert isinstance(by_id["k-1"], Kyc)
    for raw, _ in records:
        for secret in (b"ann@example.com", b"203.0.113.7", b"7946", b"2079460958"):
            assert secret not in raw.lower()

    code, out, err = run_to_end(run_import, str(path))
    assert code == 1, err
    assert "history.jsonl was already imported" in out and "nothing to do" in out
    assert len(ingress_records(settings, codec)) == 4


# --- a CSV file ---------------------------------------------------------------------------


def test_csv_import_coerces_strings_fills_the_brand_and_rejects_what_does_not_coerce(
    settings, codec, run_import, tmp_path
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "event_type,event_id,occurred_at,brand_id,player_id,purpose,granted,transaction_id,amount,currency,email\n"
        "registration,r-9,2026-01-05T09:00:00Z,,p-9,,,,,,eve@example.com\n"
        "consent,cs-1,2026-01-05T10:00:00Z,,p-9,marketing_email,true,,,,\n"
        "consent,cs-2,2026-01-05 11:00:00+01:00,,p-9,profiling,0,,,,\n"
        "consent,cs-3,2026-01-05T10:00:00Z,,p-9,profiling,maybe,,,,\n"
        "deposit,d-9,2026-01-05T10:00:00.5Z,luckyspin,p-9,,,tx-9,25.5,EUR,\n"
        "deposit,d-10,2026-01-05T10:00:00,,p-9,,,tx-10,1,EUR,\n"
        'deposit,d-11,2026-01-05T10:00:00Z,,p-9,,,tx-11,"1,5",EUR,\n'
        "deposit,d-12,2026-01-05T10:00:00Z,otherbrand,p-9,,,tx-12,1,EUR,\n"
    )
    code, out, err = run_to_end(
        run_import, str(path), "--brand", "luckyspin", "--source", "backoffice", "--json")
    assert code == 1, err
    summary = json.loads(out)
    assert (summary["status"], summary["imported"], summary["duplicates"], summary["rejected"]) == (
        "complete", 4, 0, 4)
    report = [json.loads(line) for line in (tmp_path / "export.csv.rejected.jsonl").read_text().splitlines()]
    assert [(r["line"], r["field"], r["reason"]) for r in report] == [
        (5, "granted", "Input should be a valid boolean, unable to interpret input"),
        (7, "occurred_at", "Input should have timezone info"),
        (8, "amount", "Input should be a valid decimal"),
        (9, "brand_id", "is 'otherbrand', but this import is for --brand 'luckyspin'"),
    ]

    by_id = {event.event_id: event for _, event in ingress_records(settings, codec)}
    assert sorted(by_id) == ["cs-1", "cs-2", "d-9", "r-9"]
    assert all(e.brand_id == "luckyspin" and e.source == "backoffice" for e in by_id.values())
    cs1, cs2, d9 = by_id["cs-1"], by_id["cs-2"], by_id["d-9"]
    assert isinstance(cs1, Consent) and cs1.granted is True
    assert isinstance(cs2, Consent) and cs2.granted is False and cs2.occurred_at.hour == 10  # UTC
    assert isinstance(d9, Deposit) and d9.amount == Decimal("25.5") and d9.occurred_at.microsecond == 500000
    assert unsealed(settings, "email_hash", by_id["r-9"].email_hash) == keyed_hash(
        KEY, "email", "eve@example.com")


# --- interruptions ------------------------------------------------------------------------


class TopicCounter:
    """Counts ingress events (a batch record's one by one) as they arrive, to act while an
    import is mid-batch."""

    def __init__(self, settings, codec) -> None:
        self._codec = codec
        self._consumer = Consumer(consumer_config(settings, f"test-count-{time.time_ns()}"))
        topics = [topic_name(settings, t) for t in (Topic.CLICKS, Topic.EVENTS)]
        self._consumer.assign([TopicPartition(t, p, 0) for t in topics for p in range(settings.partitions)])
        self.count = 0

    def poll(self) -> int:
        for m in self._consumer.consume(1000, timeout=0.1):
            if not m.error():
                self.count += len(events_in(self._codec, m.value()))
        return self.count

    def close(self) -> None:
        self._consumer.close()


def assert_exactly_once(settings, codec, expected: set[str]) -> None:
    counts = Counter(event.event_id for _, event in ingress_records(settings, codec))
    assert set(counts) == expected
    assert [i for i, n in counts.items() if n > 1] == []


def test_ctrl_c_then_kill_then_resume_lands_every_event_exactly_once(
    settings, codec, run_import, tmp_path
) -> None:
    lines, unique = history(players=2000, duplicate_every=40)  # 6049 lines, 49 duplicates
    path = write_jsonl(tmp_path / "big.jsonl", lines)

    # Ctrl-C: the batch in flight is flushed and the checkpoint saved; exit 130.
    first = run_import(str(path), "--rate", "1500", "--batch", "1000")
    wait_until(lambda: (checkpoint(settings) or {}).get("line", 0) >= 1000, 60, "a first checkpoint")
    first.signal(signal.SIGINT)
    code, out, err = first.finish()
    assert code == 130, err
    stopped = checkpoint(settings)
    assert stopped["clean"] and not stopped["complete"] and 1000 <= stopped["line"] < len(lines)
    assert f"Stopped after line {stopped['line']:,}" in out

    # SIGKILL mid-batch: records beyond the checkpoint are on the topic, unrecorded.
    second = run_import(str(path), "--rate", "1500", "--batch", "1000", "--json")
    counter = TopicCounter(settings, codec)
    try:
        def mid_batch() -> bool:
            cp = checkpoint(settings)
            if cp is None or cp["line"] <= stopped["line"]:
                return False
            return counter.poll() > cp["counts"]["imported"] + 50
        # Freeze the run, then look again: its checkpoint may have caught up in between, and a
        # frozen run cannot move it before the kill.
        deadline = time.monotonic() + 60
        while True:
            wait_until(mid_batch, 60, "records past the resumed run's checkpoint", every_s=0.02)
            second.signal(signal.SIGSTOP)
            if mid_batch() or time.monotonic() > deadline:
                break
            second.signal(signal.SIGCONT)
    finally:
        counter.close()
    second.signal(signal.SIGKILL)
    second.finish()
    killed = checkpoint(settings)
    assert not killed["clean"] and not killed["complete"] and killed["line"] > stopped["line"]

    code, out, err = run_to_end(run_import, str(path), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["status"] == "complete"
    assert (summary["imported"], summary["duplicates_in_file"], summary["rejected"]) == (len(unique), 49, 0)
    assert summary["recovered"] > 0  # found on the topics after the kill, not sent again
    assert any("interrupted run had delivered" in note for note in summary["notes"])
    assert_exactly_once(settings, codec, unique)


@pytest.fixture
def own_broker():
    with EmbeddedBroker() as broker:
        try:
            yield broker
        finally:
            if broker.pid:
                os.kill(broker.pid, signal.SIGCONT)


def test_a_broker_that_stops_answering_fails_clearly_and_the_checkpoint_stays_behind_the_acks(
    settings, codec, run_import, own_broker, tmp_path
) -> None:
    settings = settings.with_overrides(kafka_bootstrap_servers=own_broker.bootstrap)
    create_topics(settings)
    lines, unique = history(players=1500)
    path = write_jsonl(tmp_path / "stall.jsonl", lines)
    importing = run_import(str(path), "--rate", "1000", "--batch", "300", "--ack-timeout", "3",
                           with_settings=settings)
    wait_until(lambda: (checkpoint(settings) or {}).get("line", 0) >= 600, 60, "a first checkpoint")
    os.kill(own_broker.pid, signal.SIGSTOP)
    try:
        code, out, err = importing.finish(timeout_s=60)
        assert code == 3, err
        assert "Kafka did not acknowledge records of stall.jsonl" in out
        stalled = checkpoint(settings)
        assert not stalled["clean"] and not stalled["complete"]
    finally:
        os.kill(own_broker.pid, signal.SIGCONT)

    on_topics = {event.event_id for _, event in ingress_records(settings, codec)}
    acknowledged = {e["event_id"] for e in lines[: stalled["line"]]}
    assert acknowledged <= on_topics  # the checkpoint never ran ahead of the broker

    code, out, err = run_to_end(run_import, str(path), "--json", with_settings=settings)
    assert code == 0, err
    assert json.loads(out)["imported"] == len(unique)
    assert_exactly_once(settings, codec, unique)


def test_no_broker_is_a_clear_error_and_nothing_is_recorded(settings, run_import, tmp_path) -> None:
    settings = settings.with_overrides(kafka_bootstrap_servers=f"127.0.0.1:{free_port()}")
    path = write_jsonl(tmp_path / "h.jsonl", journey(1))
    started = time.monotonic()
    code, out, err = run_to_end(run_import, str(path), with_settings=settings)
    elapsed = time.monotonic() - started
    assert code == 3
    assert "cannot reach Kafka at" in err and "nothing was sent" in err
    # One line, no librdkafka `FAIL` log per retry, and soon: a refused port is known at once
    # (the rest is the interpreter starting).
    assert err.count("\n") == 1 and "FAIL" not in err, err
    assert elapsed < 6, elapsed  # it waited 10 s, then printed ~190 lines
    assert checkpoint(settings) is None


def test_a_changed_file_is_a_new_import_whose_known_events_are_duplicates(
    settings, codec, run_import, tmp_path
) -> None:
    path = write_jsonl(tmp_path / "h.jsonl", journey(1))
    code, out, err = run_to_end(run_import, str(path), "--json")
    assert code == 0 and json.loads(out)["imported"] == 3, err
    write_jsonl(path, journey(1) + journey(2))
    code, out, err = run_to_end(run_import, str(path), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["imported"], summary["duplicates_earlier"]) == (3, 3)
    assert "h.jsonl changed since it was imported" in summary["notes"][0]
    assert_exactly_once(settings, codec, {f"{kind}-{i}" for kind in "crd" for i in (1, 2)})
