"""Identifier values that never link anybody: the junk every identity system learns to refuse.

The default list is the union of PostHog's (its hard-coded illegal distinct ids, with the
single- and double-quoted variants it has seen arrive), Segment's suggested blocked values and
RudderStack's filters (shared/ANCHORS.md §A). Case-insensitive entries match in any case;
case-sensitive ones exactly, as PostHog matches them. An operator adds its own values (test
devices, placeholder e-mails) with `identity_refused`, matched exactly after trimming.
"""

from __future__ import annotations

import re
from typing import Final

# PostHog: compared case-insensitively.
_ANY_CASE: Final = frozenset({
    "anonymous", "guest", "distinctid", "distinct_id", "id", "not_authenticated", "email",
    "undefined", "true", "false",
    # Segment's suggestions, and RudderStack's id_types filters.
    "null", "void", "abc123", "unknown", "nan", "none",
})
# PostHog: compared exactly.
_EXACT: Final = frozenset({"[object Object]", "NaN", "None", "none", "null", "0", "-1"})
# Segment: "^[0-]*$" (zeros and dashes only: 0, 000-000, a nil UUID).
_ZEROS: Final = re.compile(r"^[0-]*$")
DEFAULT_REFUSED: Final = tuple(sorted(_ANY_CASE | _EXACT))


def _unquoted(value: str) -> str:
    """The value without one pair of surrounding quotes, which PostHog has seen ids wrapped in."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1].strip()
    return value


def refusal_of(value: str, extra: frozenset[str] = frozenset()) -> str | None:
    """Why `value` must never link ("empty", "refused value", "operator refused"), or None."""
    stripped = value.strip()
    if not stripped:
        return "empty"
    if stripped in extra:
        return "operator refused"
    bare = _unquoted(stripped)
    if not bare or bare in _EXACT or bare.lower() in _ANY_CASE or _ZEROS.match(bare):
        return "refused value"
    return None
