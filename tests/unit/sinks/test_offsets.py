from __future__ import annotations

from clickpath.sinks.delivery.offsets import OffsetTracker

TP = ("postbacks", 0)


def test_the_commit_never_passes_an_unsettled_record() -> None:
    t = OffsetTracker()
    t.add(TP, 10, 2)   # two endpoints
    t.add(TP, 11, 1)
    t.add(TP, 12, 0)   # nobody subscribed: settled at once
    assert t.committable() == {TP: 10}
    t.settle(TP, 11)
    assert t.committable() == {TP: 10}  # 11 done, but 10 still open
    t.settle(TP, 10)
    assert t.committable() == {TP: 10}  # one of 10's two deliveries still open
    t.committed({TP: 10})
    assert t.committable() == {}
    t.settle(TP, 10)
    assert t.committable() == {TP: 13} and t.open_deliveries() == 0


def test_revoked_partitions_are_forgotten() -> None:
    t = OffsetTracker()
    t.add(TP, 5, 1)
    t.revoke([TP])
    t.settle(TP, 5)  # a late settlement of a revoked record is ignored
    assert t.committable() == {} and t.open_deliveries() == 0
