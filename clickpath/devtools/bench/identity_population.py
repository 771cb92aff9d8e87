"""`clickpath bench-identity`'s players: a seeded population whose persons are known in advance.

Brand accounts at five brands of two operators (`op-a`: a1, a2, a3; `op-b`: b1, b2), each with
three devices: a registration (device, home IP prefix, e-mail hash, half of them a phone hash,
the click it names), a login from a second device on a mobile carrier's prefix, a login from the
third device at home; the named click came from the registration's device ten minutes before,
and 30 % of the accounts also clicked on their second device two days before. A person's
accounts register within three days of each other (the identity window is 30), the persons over
60 days. The persons, by kind (shares of persons):

| kind | share | accounts | persons | merged pairs | possible pairs | open signals |
|---|---|---|---|---|---|---|
| single | 82 % | 1 | 1 | 0 | 0 | 0 |
| same e-mail at two brands of one operator | 6 % | 2 | 1 | 1 | 0 | 0 |
| three brands of `op-a`, one `customer_id`, three e-mails | 2 % | 3 | 1 | 3 | 0 | 0 |
| same devices and home at two brands, two e-mails | 4 % | 2 | 1 | 1 | 0 | 0 |
| two people at two brands sharing one tablet | 4 % | 2 | 2 | 0 | 1 | 0 |
| two accounts at one brand, one device and home | 2 % | 2 | 2 | 0 | 1 | 1 |

Shared values make the cap (`IdentityPolicy.max_accounts`) fire: every user agent is one of
eight common families, the second device's login comes from one of up to 64 carrier prefixes,
and every 25th single logs in at a kiosk (up to 16 kiosk devices, each with its venue's prefix),
so kiosk users of different brands merge on device + prefix until the kiosk is shared and the
merge is undone. 2 % of the singles register from a device that reports `unknown` and 1 % with
a placeholder e-mail hash of zeros: refused values. Each chunk's people are its own (their ids
carry the player number), only the shared values span chunks, and the first chunk caps each of
them (checked here: `PopulationError` otherwise), so the bench may forget a chunk's keys once
it is done. `Expected` is what the identity stages must end with; the bench asserts it.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from clickpath.contracts.models import CanonicalEvent, Click, Login, Registration
from clickpath.domain.identity.sightings import identifier_key, ua_family
from clickpath.domain.outputs import canonical_of

START = datetime(2026, 1, 1, tzinfo=UTC)
OPERATORS = {"op-a": ("a1", "a2", "a3"), "op-b": ("b1", "b2")}
BRAND_OPERATOR = {b: op for op, brands in OPERATORS.items() for b in brands}
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36",
)
# Person kinds: (name, share of persons, accounts, persons, merged, possible, signals).
KINDS = (
    ("single", 0.82, 1, 1, 0, 0, 0),
    ("email_pair", 0.06, 2, 1, 1, 0, 0),
    ("customer_trio", 0.02, 3, 1, 3, 0, 0),
    ("device_pair", 0.04, 2, 1, 1, 0, 0),
    ("tablet_pair", 0.04, 2, 2, 0, 1, 0),
    ("multi_account", 0.02, 2, 2, 0, 1, 1),
)
ZERO_MAIL = "0" * 64
KIOSK_EVERY = 25  # every 25th single logs in at a kiosk


class PopulationError(ValueError):
    """The population cannot be what the bench expects (too few players to cap the pools)."""


@dataclass
class Expected:
    """What the identity stages must end with for the generated events."""

    accounts: int = 0
    persons: int = 0
    merged: int = 0  # pairs of accounts
    possible: int = 0
    signals: int = 0  # open multi-account signals
    events: int = 0  # canonical events
    clicks: int = 0
    identifiers: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by kind
    shared: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by kind
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # sightings by kind
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # persons by kind

    def add(self, kind: str, n: int = 1) -> None:
        row = next(k for k in KINDS if k[0] == kind)
        self.by_kind[kind] += n
        self.accounts += row[2] * n
        self.persons += row[3] * n
        self.merged += row[4] * n
        self.possible += row[5] * n
        self.signals += row[6] * n


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def home_prefix(n: int, region: int = 0) -> str:
    """A /24 of its own for home `n` < 3,000,000 in `region` (0: players, 1: their friends,
    2: the merge phase's new accounts), clear of the shared 100.64/10 and 198.18/15."""
    return f"{(20, 101, 150)[region] + (n >> 16)}.{(n >> 8) & 255}.{n & 255}.0/24"


@dataclass(frozen=True)
class Pools:
    """The values many accounts share, sized so the first chunk caps every one."""

    carriers: tuple[str, ...]
    kiosks: tuple[tuple[str, str], ...]  # (device id, venue prefix)

    @staticmethod
    def for_chunk(accounts: int) -> Pools:
        carriers = max(1, min(64, accounts // 60))
        kiosks = max(1, min(16, accounts // (KIOSK_EVERY * 40)))
        return Pools(
            carriers=tuple(f"100.{64 + i // 256}.{i % 256}.0/24" for i in range(carriers)),
            kiosks=tuple((f"kiosk-{i}", f"198.18.{i}.0/24") for i in range(kiosks)),
        )


@dataclass
class _Account:
    brand: str
    player: str
    devices: tuple[str, str, str]  # registration, login 1 (carrier), login 2 (home)
    home: str
    email: str
    phone: str | None = None
    customer: str | None = None
    kiosk: tuple[str, str] | None = None  # login 2 at a kiosk instead of at home


class Population:
    """The players, chunk by chunk, as the player stage's canonical events (in time order
    within a chunk), and what the identity stages must end with (`expected`)."""

    def __init__(self, players: int, seed: int = 25, chunk: int = 50_000,
                 max_accounts: int = 10) -> None:
        if not 500 <= players <= 3_000_000:
            raise PopulationError("500 to 3,000,000 players: fewer cannot cap the shared"
                                  " values, more would run out of home prefixes")
        self.players, self.seed, self.chunk, self.max_accounts = players, seed, chunk, max_accounts
        self.pools = Pools.for_chunk(min(chunk, players))
        self.expected = Expected()
        self.pool_identifiers: set[str] = set()
        self._first = True
        self._singles: list[tuple[int, _Account]] = []  # the last chunk's, for `merging`

    def chunks(self) -> Iterator[list[CanonicalEvent]]:
        for first in range(0, self.players, self.chunk):
            yield self._chunk(first, min(self.chunk, self.players - first))

    def _chunk(self, first: int, size: int) -> list[CanonicalEvent]:
        rng = random.Random(f"{self.seed}-{first}")
        accounts: list[_Account] = []
        self._singles = []
        made = 0
        while made < size:
            n = first + made
            op = "op-a" if n % 5 < 3 else "op-b"
            kind = self._kind(rng, size - made, op)
            group = self._person(kind, n, op, rng)
            accounts += group
            made += len(group)
            self.expected.add(kind)
            if kind == "single" and group[0].email != ZERO_MAIL:
                self._singles.append((n, group[0]))
        events: list[CanonicalEvent] = []
        sightings: dict[str, set[str]] = defaultdict(set)  # pool identifier -> accounts
        seen: set[str] = set()
        for acct in accounts:
            events += self._events(acct, rng, seen, sightings)
        self._count_identifiers(seen, sightings)
        events.sort(key=lambda e: (e.occurred_at, e.event_id))
        self.expected.events += len(events)
        return events

    def _kind(self, rng: random.Random, room: int, op: str) -> str:
        """A person's kind by the shares of KINDS (a single where the chunk has no room; op-b
        sends no customer id, so its three-brand people are e-mail pairs)."""
        draw, acc = rng.random(), 0.0
        for name, share, accounts, *_ in KINDS:
            acc += share
            if draw < acc:
                if name == "customer_trio" and op == "op-b":
                    name, accounts = "email_pair", 2
                return name if accounts <= room else "single"
        return "single"

    def _person(self, kind: str, n: int, op: str, rng: random.Random) -> list[_Account]:
        """The accounts of person (or pair of persons) `n`; ids carry `n`, so no two chunks
        share a value the generator did not mean to share."""
        brands = list(OPERATORS[op])
        rng.shuffle(brands)
        d = (f"dv-{n}-0", f"dv-{n}-1", f"dv-{n}-2")
        mail, phone = _hex(f"mail-{n}"), (_hex(f"phone-{n}") if n % 2 else None)
        home = home_prefix(n)
        one = _Account(brands[0], f"p{n}", (d[0], d[1], d[2]), home, mail, phone)
        if kind == "single":
            if n % 50 == 7:
                one.devices = ("unknown", d[1], d[2])
            if n % 100 == 3:
                one.email = ZERO_MAIL
            if n % KIOSK_EVERY == 0:
                one.kiosk = self.pools.kiosks[(n // KIOSK_EVERY) % len(self.pools.kiosks)]
            return [one]
        if kind == "email_pair":
            return [one, _Account(brands[1], f"p{n}-2", (d[1], d[0], d[2]), home, mail, phone)]
        if kind == "customer_trio":
            cust = f"cust-{n}"
            one.customer = cust
            return [one] + [
                _Account(brands[i], f"p{n}-{i + 1}", (d[i], d[(i + 1) % 3], d[(i + 2) % 3]), home,
                         _hex(f"mail-{n}-{i}"), phone, cust)
                for i in (1, 2)
            ]
        if kind == "device_pair":
            return [one, _Account(brands[1], f"p{n}-2", d, home, _hex(f"mail-{n}-2"))]
        if kind == "tablet_pair":  # a friend's tablet: their own devices, homes and e-mails
            tablet = f"dv-{n}-tablet"
            one.devices = (d[0], d[1], tablet)
            return [one, _Account(brands[1], f"p{n}-2", (f"dv-{n}-f0", tablet, f"dv-{n}-f1"),
                                  home_prefix(n, 1), _hex(f"mail-{n}-2"))]
        # multi_account: a second account at the same brand, same device and home
        return [one, _Account(brands[0], f"p{n}-2", (d[0], f"dv-{n}-m1", f"dv-{n}-m2"), home,
                              _hex(f"mail-{n}-2"))]

    def _events(self, a: _Account, rng: random.Random, seen: set[str],
                sightings: dict[str, set[str]]) -> list[CanonicalEvent]:
        op = BRAND_OPERATOR[a.brand]
        account = f"{a.brand}:{a.player}"
        # a person's accounts within three days of each other (the identity window is 30),
        # the persons spread over 60 days
        person = a.player.split("-", 1)[0]
        at = (START + timedelta(days=hash_index(person) % 57)
              + timedelta(seconds=rng.randrange(3 * 86_400)))
        carrier = self.pools.carriers[hash_index(account) % len(self.pools.carriers)]
        ua = [USER_AGENTS[hash_index(dev) % len(USER_AGENTS)] for dev in a.devices]
        login2 = a.kiosk or (a.devices[2], a.home)
        click_id = f"ck-{a.player}"
        affiliate = f"aff-{hash_index(a.player) % 100}"
        common: dict[str, Any] = {"brand_id": a.brand, "source": "bench"}
        clicks = [Click(event_id=f"ev-{click_id}", occurred_at=at - timedelta(minutes=10),
                        click_id=click_id, affiliate_id=affiliate, campaign_id=f"{affiliate}-c1",
                        device_id=a.devices[0], ip_prefix=a.home, user_agent=ua[0], **common)]
        if hash_index(account) % 10 < 3:
            clicks.append(Click(
                event_id=f"ev-{click_id}-m", occurred_at=at - timedelta(days=2),
                click_id=f"{click_id}-m", affiliate_id=affiliate, campaign_id=f"{affiliate}-c2",
                device_id=a.devices[1], ip_prefix=carrier, user_agent=ua[1], **common))
        player: dict[str, Any] = {**common, "player_id": a.player}
        acts = [
            Registration(event_id=f"ev-reg-{account}", occurred_at=at, click_id=click_id,
                         email_hash=a.email, phone_hash=a.phone, device_id=a.devices[0],
                         ip_prefix=a.home, customer_id=a.customer, **player),
            Login(event_id=f"ev-l1-{account}", occurred_at=at + timedelta(hours=1),
                  device_id=a.devices[1], ip_prefix=carrier, user_agent=ua[1],
                  customer_id=a.customer, **player),
            Login(event_id=f"ev-l2-{account}", occurred_at=at + timedelta(days=1),
                  device_id=login2[0], ip_prefix=login2[1], user_agent=ua[2],
                  customer_id=a.customer, **player),
        ]
        # What the identifier stage will hold: every value but the refused ones.
        values = [("click_id", c.click_id) for c in clicks] + [
            ("email_hash", a.email), ("phone_hash", a.phone), ("customer_id", a.customer),
            ("device_id", a.devices[0]), ("ip_prefix", a.home),
            ("device_id", a.devices[1]), ("ip_prefix", carrier),
            ("device_id", login2[0]), ("ip_prefix", login2[1]),
            ("ua_family", ua_family(ua[1])), ("ua_family", ua_family(ua[2])),
        ]
        for kind, value in values:
            if value is None or value in ("unknown", ZERO_MAIL):
                continue
            ident = identifier_key(op, kind, value)
            seen.add(ident)
            if _is_pool(ident):
                sightings[ident].add(account)
        for c in clicks:  # a click's user agent is a sighting too (no account: no cap)
            seen.add(identifier_key(op, "ua_family", ua_family(c.user_agent or "") or ""))
        refused = {"device_id": 2 * (a.devices[0] == "unknown"), "email_hash": a.email == ZERO_MAIL}
        for kind, count in refused.items():
            self.expected.refused[kind] += int(count)
        self.expected.clicks += len(clicks)
        return [canonical_of(c, "", at) for c in clicks] + [
            canonical_of(e, account, e.occurred_at) for e in acts
        ]

    def merging(self, count: int) -> list[CanonicalEvent]:
        """`count` registrations, each a single of the last chunk opening an account at another
        brand of its operator with the same e-mail hash (a new device and home): one merge
        each, into a person of one account."""
        picked = self._singles[:: max(1, len(self._singles) // count)][:count]
        if len(picked) < count:
            raise PopulationError(f"the last chunk has {len(picked)} singles, not {count}")
        events = []
        for n, a in picked:
            brand = next(b for b in OPERATORS[BRAND_OPERATOR[a.brand]] if b != a.brand)
            events.append(self._joining(brand, f"p{n}-joins", a.email, n))
        self.expected.accounts += count
        self.expected.merged += count
        return events

    def fresh(self, count: int) -> list[CanonicalEvent]:
        """`count` registrations of new people (an e-mail, a device and a home of their own):
        what a registration costs when it merges nothing, beside `merging`'s."""
        events = [self._joining("a1", f"new-{i}", _hex(f"new-mail-{i}"), self.players + i)
                  for i in range(count)]
        self.expected.accounts += count
        self.expected.persons += count
        self.expected.identifiers["email_hash"] += count
        return events

    def _joining(self, brand: str, player: str, email: str, n: int) -> CanonicalEvent:
        at = START + timedelta(days=hash_index(f"p{n}") % 57 + 3)  # within the person's window
        event = Registration(event_id=f"ev-reg-{brand}-{player}", occurred_at=at, brand_id=brand,
                             source="bench", player_id=player, email_hash=email,
                             device_id=f"dv-{player}", ip_prefix=home_prefix(n, 2))
        self.expected.identifiers["device_id"] += 1
        self.expected.identifiers["ip_prefix"] += 1
        self.expected.events += 1
        return canonical_of(event, f"{brand}:{player}", at)

    def _count_identifiers(self, seen: set[str], sightings: dict[str, set[str]]) -> None:
        """Count this chunk's identifiers; the shared values only the first time, and check
        the first chunk caps every one of them."""
        pooled = {ident for ident in seen if _is_pool(ident)}
        for ident in sorted(pooled - self.pool_identifiers):
            if not self._first or len(sightings[ident]) <= self.max_accounts:
                raise PopulationError(
                    f"{ident}: {len(sightings[ident])} accounts in the first chunk (it must be there,"
                    f" on more than {self.max_accounts}): more players per chunk")
        self._first = False
        for ident in seen - self.pool_identifiers:
            kind = ident.split("|", 2)[1]
            self.expected.identifiers[kind] += 1
            if ident in pooled:
                self.expected.shared[kind] += 1
        self.pool_identifiers |= pooled


def _is_pool(ident: str) -> bool:
    _, kind, value = ident.split("|", 2)
    return kind == "ua_family" or value.startswith(("100.", "198.18.", "kiosk-"))


def hash_index(text: str) -> int:
    """A stable small number from `text` (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")
