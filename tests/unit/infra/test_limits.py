"""Rate limiting and Idempotency-Key memory, on an injected clock."""

from __future__ import annotations

import math

from clickpath.infra.limits import IN_FLIGHT, IdempotencyStore, RateLimiter, Remembered


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_gets_its_burst_then_its_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=20, clock=clock)
    assert limiter.take("k", 20) == 0
    assert limiter.take("k", 5) == 0.5          # 5 tokens at 10/s
    clock.now = 0.5
    assert limiter.take("k", 5) == 0
    assert limiter.take("other", 20) == 0       # keys do not share a bucket
    assert math.isinf(limiter.take("k", 21))    # bigger than any burst: never


def test_idempotency_memory_in_flight_answered_and_expired() -> None:
    clock = Clock()
    store = IdempotencyStore(ttl_s=60, clock=clock)
    store.begin("key", "i1")
    assert store.get("key", "i1") is IN_FLIGHT
    store.finish("key", "i1", Remembered("fp", 200, {"accepted": 1}))
    assert store.get("key", "i1") == Remembered("fp", 200, {"accepted": 1})
    assert store.get("another-key", "i1") is None
    store.begin("key", "i2")
    store.finish("key", "i2", None)             # a 503: forgotten, may be retried
    assert store.get("key", "i2") is None
    clock.now = 61
    assert store.get("key", "i1") is None


def test_idempotency_memory_is_capped_by_bytes_not_only_by_count() -> None:
    """Issue 13, Low: large answers under fresh keys grew the memory up to the count cap."""
    from clickpath.infra.limits import IdempotencyStore, Remembered

    store = IdempotencyStore(ttl_s=3600, capacity=100_000, max_bytes=1_000_000)
    big = {"results": [{"index": i, "status": "accepted", "event_id": f"e{i:06}"} for i in range(1000)]}
    for n in range(200):  # about 50 kB each: 10 MB if kept
        store.begin("key-1", f"idem-{n}")
        store.finish("key-1", f"idem-{n}", Remembered("f" * 64, 200, big))
        assert store.bytes <= 1_000_000
    assert 0 < len(store) < 200
    assert store.get("key-1", "idem-199") is not None  # the newest stay, the oldest went
    assert store.get("key-1", "idem-0") is None
    store.finish("key-1", "idem-199", None)
    assert store.get("key-1", "idem-199") is None
