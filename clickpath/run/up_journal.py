"""How `clickpath up` keeps the embedded broker's records across a stop and start.

The embedded broker is memory-only; ClickHouse in the data directory is not. What `up` keeps
must stay consistent with what it forgets, so with the embedded broker `up` either restores the
whole stream state (topics, records at their offsets, consumer groups' offsets) from the journal
in <data_dir>/broker/ before any role starts, or refuses to start: it never starts empty next
to old ClickHouse rows. The rule covers every stage that keeps state in Kafka, now or later
(commission ledger, identity graph, CRM counters): whatever is in a topic is journaled.

When the journal cannot be restored, `up` refuses with the reason and leaves the journal as it
was; the way out is to start both afresh (remove the data directory: `make clean`) or to use
another one. A journal from an `up` that was killed restores what it holds and says what may
be missing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from clickpath.contracts.models import utcnow
from clickpath.contracts.topics import SPECS
from clickpath.infra.broker_journal import JournalDir, JournalError, TopicPartition, journal_dir
from clickpath.infra.broker_journal_keeper import JournalKeeper
from clickpath.infra.broker_restore import RestoreFailed, restore
from clickpath.infra.jsonstore import sync_dir
from clickpath.run.errors import CommandError
from clickpath.settings import Settings

AFRESH = ("To start afresh, remove {data_dir} (`make clean` removes .clickpath), ClickHouse data"
          " included, so that the two cannot disagree; or set CLICKPATH_DATA_DIR to another"
          " directory.")


MARKER = "clickpath-journal-id"  # in the embedded ClickHouse's dir: the journal it goes with


def embedded_clickhouse(settings: Settings) -> Path | None:
    """The embedded ClickHouse's (chdb's) directory; None with a ClickHouse server."""
    if not settings.clickhouse_embedded:
        return None
    return Path(settings.clickhouse_dsn.removeprefix("chdb://"))


def _holds_data(clickhouse: Path | None) -> bool:
    return (clickhouse is not None and clickhouse.is_dir()
            and any(p.name != MARKER for p in clickhouse.iterdir()))


def _marker(clickhouse: Path) -> str | None:
    try:
        return (clickhouse / MARKER).read_text().strip() or None
    except FileNotFoundError:
        return None


def check_journal(settings: Settings, data_dir: Path) -> JournalDir:
    """The journal to restore from, or CommandError when it and the embedded ClickHouse here
    do not go together: ClickHouse holds figures whose stream state is gone (a data directory
    from a clickpath without the journal, or one whose journal was removed), ClickHouse was
    removed while the journal was kept, or they come from different runs (the journal's id
    is not the one in ClickHouse's dir). Touches nothing; runs before the broker starts."""
    journal = journal_dir(data_dir)
    clickhouse = embedded_clickhouse(settings)
    if not journal.exists() and _holds_data(clickhouse):
        raise CommandError(
            f"{clickhouse} holds data from a run whose stream state was not kept (no broker"
            f" journal in {journal.root}: an older clickpath wrote it, or the journal was"
            " removed). Started with empty topics next to it, re-sent events would be counted"
            " again, so `up` will not start. " + AFRESH.format(data_dir=data_dir)
        )
    if journal.exists():
        if clickhouse is not None:
            check_tied(journal, clickhouse, data_dir)
        check_partitions(settings, journal, data_dir)
    return journal


def check_tied(journal: JournalDir, clickhouse: Path, data_dir: Path) -> None:
    """CommandError unless the journal and the embedded ClickHouse carry the same id (a
    journal from before the ids, next to a ClickHouse without one, is given one at restore)."""
    want, have = journal.journal_id(), _marker(clickhouse)
    if want is None and have is None:
        return
    if want is not None and have == want:
        return
    if have is None and not _holds_data(clickhouse):
        if not _offsets_kept(journal):
            return  # no group offsets to restore: the sink writes every row again from the start
        why = (f"{clickhouse} is gone or empty while the broker journal in {journal.root} was"
               " kept: restored, the sink's offsets would skip every event the lost rows held")
    elif have is None:
        why = (f"{clickhouse} was not written next to the broker journal in {journal.root}"
               f" (it has no {MARKER})")
    else:
        why = (f"the broker journal in {journal.root} (id {want}) and {clickhouse} (id {have},"
               f" in {MARKER}) come from different runs")
    raise CommandError(f"{why}, so `up` will not start. " + AFRESH.format(data_dir=data_dir))


def _offsets_kept(journal: JournalDir) -> bool:
    try:
        return bool(journal.offsets()[1])
    except JournalError:
        return True  # unreadable: not known to be harmless


def tie_clickhouse(journal: JournalDir, clickhouse: Path | None) -> None:
    """Write the journal's id into the embedded ClickHouse's dir, before the sink opens it
    (only `up` runs here then: the data-dir lock; the sink is not started yet)."""
    if clickhouse is None:
        return
    journal_id = journal.give_id()
    if _marker(clickhouse) == journal_id:
        return
    clickhouse.mkdir(parents=True, exist_ok=True)
    _write_marker(clickhouse, journal_id)


def _write_marker(clickhouse: Path, journal_id: str) -> None:
    tmp = clickhouse / f".{MARKER}.tmp"
    with tmp.open("w") as f:
        f.write(journal_id + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, clickhouse / MARKER)
    sync_dir(clickhouse)


def check_partitions(settings: Settings, journal: JournalDir, data_dir: Path) -> None:
    """CommandError when a pipeline topic was journaled with another partition count than
    the settings say (restored as journaled, create_topics could not use it)."""
    try:
        journaled = journal.topics()
    except JournalError:
        return  # the restore refuses it, with the reason
    wrong = {
        name: journaled[name] for spec in SPECS.values()
        if (name := spec.name(settings)) in journaled and journaled[name] != settings.partitions
    }
    if wrong:
        listed = ", ".join(f"{t} has {n}" for t, n in sorted(wrong.items()))
        raise CommandError(
            f"the broker journal in {journal.root} holds topics with another partition count"
            f" than CLICKPATH_PARTITIONS={settings.partitions} ({listed}), so `up` will not"
            " start. Set CLICKPATH_PARTITIONS back to what it was. " + AFRESH.format(data_dir=data_dir)
        )


def restore_journal(journal: JournalDir, bootstrap: str, data_dir: Path,
                    clickhouse: Path | None = None) -> dict[TopicPartition, int]:
    """Put the journal into the freshly started broker (before any role starts); the records
    per partition it now holds. Prints what was restored; CommandError when it cannot be.
    `clickhouse`: the embedded ClickHouse's dir, given the journal's id (tie_clickhouse)."""
    if not journal.exists():
        try:
            journal.begin(utcnow().isoformat(timespec="seconds"))
        except JournalError as e:
            raise CommandError(f"{e}. " + AFRESH.format(data_dir=data_dir)) from None
        tie_clickhouse(journal, clickhouse)
        print(f"clickpath: keeping the embedded broker's records in {journal.root}"
              " (a restart restores them)", flush=True)
        return {}
    try:
        restored = restore(journal, bootstrap)
    except RestoreFailed as e:
        raise CommandError(
            f"could not restore the embedded broker from {journal.root}: {e}. Nothing was"
            " started and the journal is left as it was: starting with empty topics next to"
            f" the ClickHouse data in {data_dir} would count re-sent events again. "
            + AFRESH.format(data_dir=data_dir)
        ) from None
    tie_clickhouse(journal, clickhouse)
    print(f"clickpath: {restored.summary(str(journal.root))}", flush=True)
    return restored.held


def start_keeper(journal: JournalDir, bootstrap: str, held: dict[TopicPartition, int]
                 ) -> JournalKeeper:
    """Journal from here on; once it runs, the earlier stop no longer describes the journal.

    The clean-stop marker goes first, durably (the broker dir fsynced): otherwise a power loss
    could bring the old marker back next to newer records, and the next start would refuse
    the journal as damaged although the last stop was clean."""
    journal.clean_stop.unlink(missing_ok=True)
    sync_dir(journal.root)
    return JournalKeeper(journal, bootstrap, held).start()


def stop_keeper(keeper: JournalKeeper, broker_running: bool) -> None:
    """Drain the journal once every role has stopped (their last commits are in), before the
    broker stops; say so when it cannot be, since the next start will restore less."""
    if keeper.failure is None and broker_running and keeper.drain_and_stop():
        print(f"clickpath: journaled {sum(keeper.held.values())} records in"
              f" {keeper.journal.root}.", flush=True)
        return
    keeper.stop()
    reason = keeper.failure or "the embedded broker stopped first"
    print(f"clickpath: the broker journal was not drained ({reason}); the next start restores"
          " what it holds and says what may be missing.", file=sys.stderr, flush=True)
