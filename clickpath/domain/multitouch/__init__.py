"""Multi-touch attribution over touchpoint paths (issue 15).

PLACEHOLDER on branch `touchpoints`: only the `Path` dataclass, exactly as CONTRACT.md spells it,
so that clickpath.infra.touchpoints.query_paths can return it. The `mtmodels` branch owns this
package; its version (MODELS, ModelParams, Credit, attribute) replaces this file at merge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Path:
    channels: tuple[str, ...]  # touch channels in time order, oldest first; may repeat; may be empty
    ages_s: tuple[float, ...]  # per touch: seconds from the touch to the conversion (or to the
    # path's end when not converted); same length as channels
    converted: bool
    value: Mapping[str, Decimal]  # currency -> amount this path's conversion carries ({} if none)
