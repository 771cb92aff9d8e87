"""Commission plans: CPA, RevShare and hybrid terms, effective-dated and assigned per affiliate.

Pure: models, validation and the `PlanBook` lookup. Where plans come from (TOML, the admin
store in the data directory) lives in settings and infra; the engine only asks the book.
"""

from clickpath.domain.plans.book import (
    AssignConfig,
    PlanBook,
    PlanConfig,
    PlanError,
    VersionConfig,
    cpa_amount_for,
    error_path,
    parse_plans,
)
from clickpath.domain.plans.models import (
    PLAN_ID_PATTERN,
    Assignment,
    Band,
    CpaAmount,
    CpaTerms,
    NgrFormula,
    PlanVersion,
    RevShareTerms,
    VersionTerms,
)
from clickpath.domain.plans.periods import check_period, period_bounds, period_of

__all__ = [
    "PLAN_ID_PATTERN",
    "AssignConfig",
    "Assignment",
    "Band",
    "CpaAmount",
    "CpaTerms",
    "NgrFormula",
    "PlanBook",
    "PlanConfig",
    "PlanError",
    "PlanVersion",
    "RevShareTerms",
    "VersionConfig",
    "VersionTerms",
    "check_period",
    "cpa_amount_for",
    "error_path",
    "parse_plans",
    "period_bounds",
    "period_of",
]
