"""What is wrong with an audit chain and its head: `verify` lists every problem, in chain order.

It finds an edited entry (its hash no longer matches its fields), a removed or replaced entry
(a gap in seq, or a prev_hash that is not the hash of the entry before), a truncated tail (the
signed head names a later entry than the chain's last), entries after the signed head, and a
missing or forged head (a signature that is not the audit key's). An edit whose hashes were
recomputed to the end is caught by the head: its hash is signed, and the key is not in the data
directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clickpath.domain.audit.chain import GENESIS_HASH, AuditEntry, Head, head_is_signed, recomputed_hash


@dataclass(frozen=True)
class Unreadable:
    """A line of the chain file that is not an entry (`line` counts from 1)."""

    line: int
    reason: str


@dataclass(frozen=True)
class Problem:
    """`seq`: the first entry it concerns (None: the head alone)."""

    seq: int | None
    reason: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.reason}" if self.seq is not None else self.reason


def verify(items: Sequence[AuditEntry | Unreadable], head: Head | None, key: bytes) -> list[Problem]:
    """Every problem of the chain `items` (the file's lines in order) and its `head`; an empty
    list is an intact chain whose end the key's holder signed."""
    problems: list[Problem] = []
    expected, prev_hash = 1, GENESIS_HASH
    by_seq: dict[int, AuditEntry] = {}
    last: AuditEntry | None = None
    for item in items:
        if isinstance(item, Unreadable):
            problems.append(Problem(expected, f"line {item.line} is not an entry ({item.reason})"))
            expected, prev_hash = expected + 1, ""
            continue
        if item.seq > expected:
            gone = f"seq {expected}" if item.seq == expected + 1 else f"seq {expected}..{item.seq - 1}"
            problems.append(Problem(expected, f"removed: {gone} missing before seq {item.seq}"))
        elif item.seq < expected:
            problems.append(Problem(item.seq, f"out of order: seq {item.seq} after seq {expected - 1}"))
        elif prev_hash and item.prev_hash != prev_hash:
            problems.append(Problem(item.seq, f"prev_hash is not the hash of seq {item.seq - 1}"
                                    " (an entry before it was removed, replaced or edited)"))
        if recomputed_hash(item) != item.hash:
            problems.append(Problem(item.seq, "edited: the hash does not match the entry's fields"))
        expected, prev_hash = item.seq + 1, item.hash
        by_seq.setdefault(item.seq, item)
        last = item
    problems += _head_problems(head, key, last, by_seq)
    return problems


def _head_problems(head: Head | None, key: bytes, last: AuditEntry | None,
                   by_seq: dict[int, AuditEntry]) -> list[Problem]:
    if head is None:
        return [Problem(None, "no signed head (head.json missing or unreadable)")]
    if not head_is_signed(head, key):
        return [Problem(head.seq or None, "the head's signature is not the audit key's (forged, or"
                        " CLICKPATH_AUDIT_KEY is not the key this chain was signed with)")]
    last_seq = last.seq if last else 0
    if head.seq > last_seq:
        return [Problem(last_seq + 1, f"truncated: the signed head names seq {head.seq}, the chain"
                        f" ends at seq {last_seq}")]
    if head.seq < last_seq:
        return [Problem(head.seq + 1, f"seq {head.seq + 1}..{last_seq} come after the signed head"
                        f" (seq {head.seq}): added without the key, or a crash between an entry"
                        " and its head")]
    named = by_seq.get(head.seq)
    named_hash = named.hash if named else GENESIS_HASH
    if named_hash != head.hash:
        return [Problem(head.seq or None, "rewritten: the signed head's hash is not this entry's")]
    return []
