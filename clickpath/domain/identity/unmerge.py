"""An operator's unmerge, as a record: what the admin API and `clickpath identity unmerge` send.

Both doors call `unmerge_request` with what they were given, who asks, a fresh request id and
their clock, and produce the one `Output` it returns (identity.inbox, keyed by the account),
so the two cannot disagree on what a valid unmerge is. The account stage applies it
(clickpath.domain.identity.accounts): the account is split from the accounts it is merged with
now, and those pairs are blocked for good.

The reason is kept on the topic for as long as the graph (identity.inbox is never deleted):
short free text, refused when it looks like personal data, as every door refuses it outside the
fields made for it (clickpath.domain.personal). Pure: no broker, no clock, no id of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from clickpath.contracts.models import person_id_of
from clickpath.contracts.models.identity import UnmergeRequest
from clickpath.contracts.topics import Node, Topic, check_emit
from clickpath.domain.outputs import Output
from clickpath.domain.personal import find_personal

ID_MAX_CHARS: Final = 128  # as the events' ids (contracts Id)
REASON_MAX_CHARS: Final = 200
REQUESTED_BY_MAX_CHARS: Final = 200
# The account key is `brand_id:player_id` and its brand is what comes before the first ':'
# (account_state.brand_of), so a brand id with ':' would name another brand's account.
BRAND_PATTERN: Final = r"^[^:\x00-\x1f\x7f]+$"
_BRAND = re.compile(BRAND_PATTERN)
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]+$")


@dataclass(frozen=True)
class UnmergeRefused(ValueError):
    """Why an unmerge was not made: the field and the reason, as a 422 or the CLI says it."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def unmerge_request(
    brand_id: str, player_id: str, reason: str, *, requested_by: str, request_id: str,
    now: datetime,
) -> Output:
    """The unmerge of account `brand_id:player_id`, for the broker; `UnmergeRefused` naming
    the field when a value is empty, too long, holds control characters or personal data."""
    reason = reason.strip()
    _check("brand_id", brand_id, ID_MAX_CHARS, _BRAND, "must not hold ':' or control characters")
    _check("player_id", player_id, ID_MAX_CHARS, _PRINTABLE, "must not hold control characters")
    _check("reason", reason, REASON_MAX_CHARS, _PRINTABLE,
           "one line of text (no control characters)")
    found = find_personal({"brand_id": brand_id, "player_id": player_id, "reason": reason})
    if found is not None:
        raise UnmergeRefused(found.field, found.reason)
    if not requested_by or len(requested_by) > REQUESTED_BY_MAX_CHARS:
        raise UnmergeRefused("requested_by", f"1 to {REQUESTED_BY_MAX_CHARS} characters")
    account = person_id_of(brand_id, player_id)
    record = UnmergeRequest(account=account, request_id=request_id, requested_by=requested_by,
                            reason=reason, requested_at=now)
    check_emit(Node.IDENTITY_ADMIN, Topic.IDENTITY_INBOX, record)
    return Output(Topic.IDENTITY_INBOX, account, record)


def _check(field: str, value: str, max_chars: int, pattern: re.Pattern[str], what: str) -> None:
    if not value:
        raise UnmergeRefused(field, "required")
    if len(value) > max_chars:
        raise UnmergeRefused(field, f"at most {max_chars} characters")
    if pattern.match(value) is None:
        raise UnmergeRefused(field, what)
