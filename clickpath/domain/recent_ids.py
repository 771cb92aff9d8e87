"""A bounded window of recent event ids, stored as one short string.

The player's state is read and written with every batch of their events, and a list of 256
ids was most of it (≈ 5 KB, and validating 256 strings on every read). Each id is kept as a
64-bit BLAKE2b digest in 11 base64url characters, all in one string: a third of the bytes and
one value to decode. Two different ids collide with probability 2⁻⁶⁴ per pair, so a new event
is mistaken for a duplicate with probability below 256 × 2⁻⁶⁴ ≈ 1.4 × 10⁻¹⁷.
"""

from __future__ import annotations

import base64
import hashlib

WIDTH = 11  # base64url of 8 bytes, without padding


def digest(event_id: str) -> str:
    raw = hashlib.blake2b(event_id.encode(), digest_size=8).digest()
    return base64.urlsafe_b64encode(raw).decode()[:WIDTH]


def seen(window: str, event_id: str) -> bool:
    """Whether `event_id` is in the window (only whole slots match)."""
    return seen_digest(window, digest(event_id))


def seen_digest(window: str, d: str) -> bool:
    at = window.find(d)
    while at != -1:
        if at % WIDTH == 0:
            return True
        at = window.find(d, at + 1)
    return False


def remember(window: str, d: str, size: int) -> str:
    """The window with the digest `d` added, keeping the newest `size` ids."""
    return (window + d)[-size * WIDTH :]
