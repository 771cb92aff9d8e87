"""Touchpoints in ClickHouse: reading each registered person's path for the attribution models.

The clicks on a path are decided by the identity stage (clickpath.domain.identity.touches) and
written by the ClickHouse sink as `identity_touchpoints` rows like any other record; the path
reader (`paths`), which the reports call, reads them. docs/touchpoints.md describes both.
"""

from clickpath.infra.touchpoints.paths import query_paths

__all__ = ["query_paths"]
