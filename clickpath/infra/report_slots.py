"""How many analytics computations (reports, analyst SQL) the service runs at once, and whose.

An attribution report over a million paths is half a minute of CPU; an analyst query may hold
a core for as long as ClickHouse cannot stop it. One slot for the whole service let one key
that asks again and again shut every other brand out; so a computation needs a slot of the
service (`total`), of its key and of its brand (an admin key reading every brand counts as
the brand "every brand"): one key, or one brand, can never hold more than its share, and the
others' work finds a free slot. Refusals are answered at once (429 with Retry-After naming
which limit), never queued. A slot is freed when the work really ends (the thread returns),
not when the request does.

The ClickHouse sink counts its analyst queries the same way (per key, per brand, ANALYST_SLOTS
in all), from its request threads: the service frees its slot when the loopback call gives
up, while the sink's engine may still run the query, so only the sink's own count stops one
key from taking both of its slots. Claims and releases are safe from any thread.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

EVERY_BRAND = "*"


@dataclass(frozen=True)
class Claim:
    key_id: str
    brand: str


class SlotsBusy(Exception):
    """No slot for this key or brand now; the message names the limit reached."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit  # "key", "brand" or "service"


class ReportSlots:
    """Counts of running computations per service, key and brand (under a lock of its own)."""

    def __init__(self, total: int = 2, per_brand: int = 1, per_key: int = 1) -> None:
        self.total, self.per_brand, self.per_key = total, per_brand, per_key
        self._keys: Counter[str] = Counter()
        self._brands: Counter[str] = Counter()
        self.running = 0
        self._lock = threading.Lock()

    def claim(self, key_id: str, brand_id: str | None) -> Claim:
        """A slot for `key_id` reading `brand_id` (None: every brand), or SlotsBusy."""
        with self._lock:
            return self._claim(key_id, brand_id if brand_id is not None else EVERY_BRAND)

    def _claim(self, key_id: str, brand: str) -> Claim:
        if self._keys[key_id] >= self.per_key:
            raise SlotsBusy(
                f"this key already runs {self.per_key} analytics report(s); wait for it", "key"
            )
        if self._brands[brand] >= self.per_brand:
            shown = "every brand" if brand == EVERY_BRAND else f"brand {brand!r}"
            raise SlotsBusy(
                f"{shown} already runs {self.per_brand} analytics report(s); try again shortly",
                "brand",
            )
        if self.running >= self.total:
            raise SlotsBusy(
                f"the service runs {self.total} analytics reports at once (its limit, shared"
                " fairly between brands); try again shortly",
                "service",
            )
        self._keys[key_id] += 1
        self._brands[brand] += 1
        self.running += 1
        return Claim(key_id, brand)

    def release(self, claim: Claim) -> None:
        with self._lock:
            self._release(claim)

    def _release(self, claim: Claim) -> None:
        self._keys[claim.key_id] -= 1
        self._brands[claim.brand] -= 1
        self.running -= 1
        for counter, name in ((self._keys, claim.key_id), (self._brands, claim.brand)):
            if counter[name] <= 0:
                del counter[name]
