"""Test-only crash points: kill a stage at a named place between two of its writes.

A crash between two writes (ledger rows and state, state and outputs, an insert and its commit)
is where events get lost or doubled, and a random SIGKILL rarely lands on the one place that
matters. So each such place is a named point (`POINTS`) the stage passes through with
`fault_point(name)`, and `CLICKPATH_FAULT_AT=<point>:<n>` makes the n-th pass kill the process
(SIGKILL: nothing is flushed, no handler runs) - or, in an in-process test, raise `Killed`.

Refused outside tests: the hook is armed only with `CLICKPATH_TESTING=1` as well, and a role
started with `CLICKPATH_FAULT_AT` but without it does not start (`FaultRefused`). Unarmed, a pass
is one global read and a compare.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass

ENV = "CLICKPATH_FAULT_AT"
TESTING_ENV = "CLICKPATH_TESTING"

STAGE_POINTS = ("after_rows", "after_state", "after_outputs", "in_flush", "before_commit")
# The tables the ClickHouse sink inserts into, in a batch's order (sinks/clickhouse/writer.py).
SINK_TABLES = (
    "events", "fact_rows", "attributions", "delivery_attempts", "player_profile_rows",
    "commission_ledger", "identity_links", "identity_person_changes", "identity_signals",
    "identity_touchpoints",
)
POINTS: frozenset[str] = frozenset(
    [f"{stage}.{p}" for stage in ("players", "clicks", "earnings", "commissions", "identity",
                                  "identifiers") for p in STAGE_POINTS]
    + [f"sink.after_insert.{t}" for t in SINK_TABLES]
    + ["sink.mid_insert", "sink.before_commit"]
    # an erasure's steps after the rows (writer.finish_erasures)
    + ["sink.erasure.key_destroyed", "sink.erasure.anonymised"]
)


class FaultRefused(RuntimeError):
    """`CLICKPATH_FAULT_AT` was set where it must not be (not a test, or an unknown point)."""


class Killed(BaseException):  # noqa: N818 - it is what happened, not an error to handle
    """Raised at an armed point in an in-process test, in place of SIGKILL. A BaseException,
    so no `except Exception` in a stage swallows it."""


@dataclass
class FaultPlan:
    point: str
    n: int
    seen: int = 0
    raise_instead: bool = False  # in-process tests: raise Killed, do not kill the process

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        point, sep, count = text.strip().rpartition(":")
        if not sep or not count.isdigit() or int(count) < 1:
            raise FaultRefused(f"{ENV}={text!r}: expected <point>:<n> with n >= 1")
        if point not in POINTS:
            raise FaultRefused(f"{ENV}: unknown point {point!r}; known: {', '.join(sorted(POINTS))}")
        return cls(point=point, n=int(count))


_plan: FaultPlan | None = None
_before_kill: dict[str, Callable[[], None]] = {}


def install_from_env(environ: Mapping[str, str] | None = None) -> FaultPlan | None:
    """Arm the hook from the environment (each role calls it before it starts work)."""
    env = os.environ if environ is None else environ
    text = env.get(ENV, "").strip()
    if not text:
        return None
    if env.get(TESTING_ENV) != "1":
        raise FaultRefused(f"{ENV} is a test-only crash hook; it is refused unless {TESTING_ENV}=1")
    return arm(FaultPlan.parse(text))


def arm(plan: FaultPlan | None) -> FaultPlan | None:
    """Arm `plan` (None disarms); returns it, so a test can read how often it was passed."""
    global _plan
    _plan = plan
    return plan


def on_kill(name: str, action: Callable[[], None]) -> None:
    """Run `action` just before an armed point kills: a stage registers the flush of what it
    has already produced, so `after_rows` means "the rows landed, the state did not"."""
    _before_kill[name] = action


def fault_point(point: str) -> None:
    """Pass the named point: kill here if this is the armed point's n-th pass."""
    plan = _plan
    if plan is None or plan.point != point:
        return
    plan.seen += 1
    if plan.seen != plan.n:
        return
    for action in list(_before_kill.values()):
        action()
    if plan.raise_instead:
        raise Killed(point)
    os.kill(os.getpid(), signal.SIGKILL)  # pragma: no cover - the process ends here
