"""Multi-touch attribution models (issue 15, docs/attribution-models.md): insight, not who is paid.

First-touch, last-touch, linear, time-decay, position-based, Markov-chain removal effect and
Shapley value over the same paths; each deals out exactly the conversions and value of the
converted paths. Pure functions: no I/O, no clock. docs/attribution-models.md defines them.
"""

from clickpath.domain.multitouch.models import attribute
from clickpath.domain.multitouch.paths import (
    DEFAULT_HALF_LIFE_DAYS,
    DEFAULT_POSITION_FIRST,
    DEFAULT_POSITION_LAST,
    MODELS,
    Credit,
    ModelParams,
    Path,
)

__all__ = [
    "DEFAULT_HALF_LIFE_DAYS",
    "DEFAULT_POSITION_FIRST",
    "DEFAULT_POSITION_LAST",
    "MODELS",
    "Credit",
    "ModelParams",
    "Path",
    "attribute",
]
