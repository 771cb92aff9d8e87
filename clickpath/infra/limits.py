"""Rate limiting (per key, per IP prefix), the click bot screen and Idempotency-Key memory for
the HTTP doors: plain, clock-injected.

Both live in the service process. A replay that outlives the idempotency memory (a restart,
or after `idempotency_ttl_s`) is still harmless: each event's `event_id` is deduplicated
downstream; the memory makes the *answer* the same, which is what a retrying client needs.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Clock = Callable[[], float]


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; one token per event."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self, n: int) -> float:
        """Take `n` tokens and return 0, or take none and return the seconds until they exist."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if n <= self._tokens:
            self._tokens -= n
            return 0.0
        if n > self.burst:
            return math.inf  # can never pass: the caller must send smaller batches
        return (n - self._tokens) / self.rate


class RateLimiter:
    """One token bucket per name (an API key, an IP prefix), at most `capacity` of them.

    Names are whatever callers send (an IP prefix is chosen by the client), so the buckets are
    bounded: the least recently used go first. A forgotten bucket comes back full, which only
    ever lets a name through sooner, never later.
    """

    def __init__(
        self, rate: float, burst: int, clock: Clock = time.monotonic, capacity: int = 100_000
    ) -> None:
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._rate, self._burst, self._clock, self._capacity = rate, burst, clock, capacity

    def take(self, key_id: str, n: int = 1) -> float:
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = TokenBucket(self._rate, self._burst, self._clock)
            while len(self._buckets) > self._capacity:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key_id)
        return bucket.take(n)

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(wait_s: float) -> str:
    """A Retry-After value for a wait: whole seconds, at least 1, at most an hour."""
    return str(max(1, math.ceil(min(wait_s, 3600))))


# User agents that say they are not a person's browser: crawlers, link previewers, HTTP
# libraries and headless browsers. Deliberately short; a match flags a click, it drops nothing.
BOT_USER_AGENT = re.compile(
    r"(?<!cu)bot\b|bot/|crawl|spider|slurp|scrapy|headless|phantomjs|selenium|puppeteer|playwright"
    r"|python-requests|python-urllib|aiohttp|httpx|curl/|wget/|libwww|go-http-client|java/"
    r"|okhttp|apache-httpclient|facebookexternalhit|preview|monitor|pingdom|uptime",
    re.IGNORECASE,
)


class ClickScreen:
    """Says why a click looks like a bot's, or None: a bot's user agent (or none at all), or
    more clicks from one address than a person makes (`rate`/s sustained, `burst` at once).

    The tracker counts a flagged click (and puts the reason on it once the Click has a field for
    it); it still redirects and records it, so a false positive costs nothing but a flag."""

    def __init__(
        self, rate: float, burst: int, clock: Clock = time.monotonic, capacity: int = 100_000
    ) -> None:
        self._per_ip = RateLimiter(rate, burst, clock, capacity)

    def reason(self, user_agent: str | None, ip: str | None) -> str | None:
        too_fast = ip is not None and self._per_ip.take(ip) > 0  # every click spends a token
        if not user_agent or not user_agent.strip():
            return "no_user_agent"
        if BOT_USER_AGENT.search(user_agent):
            return "bot_user_agent"
        return "click_rate" if too_fast else None


@dataclass(frozen=True)
class Remembered:
    fingerprint: str
    status: int
    body: Any


IN_FLIGHT = Remembered("", 0, None)


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class IdempotencyStore:
    """Answers given per (API key, Idempotency-Key), for `ttl_s`, at most `capacity` of them."""

    def __init__(self, ttl_s: float, capacity: int = 100_000, clock: Clock = time.monotonic) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[float, Remembered]] = OrderedDict()
        self._ttl, self._capacity, self._clock = ttl_s, capacity, clock

    def get(self, key_id: str, idem_key: str) -> Remembered | None:
        self._expire()
        entry = self._entries.get((key_id, idem_key))
        return entry[1] if entry else None

    def begin(self, key_id: str, idem_key: str) -> None:
        """Mark a request in flight, so a concurrent retry with the same key gets 409."""
        self._put((key_id, idem_key), IN_FLIGHT)

    def finish(self, key_id: str, idem_key: str, answer: Remembered | None) -> None:
        """Remember the answer, or forget the key (None: the request may be retried as new)."""
        if answer is None:
            self._entries.pop((key_id, idem_key), None)
        else:
            self._put((key_id, idem_key), answer)

    def _put(self, k: tuple[str, str], value: Remembered) -> None:
        self._entries[k] = (self._clock(), value)
        self._entries.move_to_end(k)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def _expire(self) -> None:
        cutoff = self._clock() - self._ttl
        while self._entries:
            k, (at, _) = next(iter(self._entries.items()))
            if at >= cutoff:
                break
            del self._entries[k]
