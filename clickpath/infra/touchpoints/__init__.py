"""Touchpoints in ClickHouse: linking each registered person's clicks, and reading their paths.

Two roles: the write path (`links`: key rows, look-ups, the links the rule in
clickpath.domain.touch_linking decides), which only the ClickHouse sink calls, right behind the
events it wrote; and the path reader (`paths`), which the reports call. docs/touchpoints.md
describes both.
"""

from clickpath.infra.touchpoints.links import link_touchpoints
from clickpath.infra.touchpoints.paths import query_paths

__all__ = ["link_touchpoints", "query_paths"]
