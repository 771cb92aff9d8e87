"""Commission plans: terms (CPA, RevShare, NGR formula), the effective-dated book, periods.

docs/commissions.md is the reference; the engine (clickpath.domain.earnings and
clickpath.domain.commissions) reads only what is exported here.
"""

from clickpath.domain.plans.book import PlanBook, PlanConfig, PlanError, parse_plan
from clickpath.domain.plans.periods import (
    first_day,
    next_period,
    parse_period,
    period_bounds,
    period_of,
)
from clickpath.domain.plans.terms import (
    Assignment,
    AssignRule,
    Band,
    CpaAmount,
    CpaTerms,
    NgrFormula,
    PlanTerms,
    PlanVersion,
    RevShareTerms,
    cpa_amount_for,
)

__all__ = [
    "AssignRule", "Assignment", "Band", "CpaAmount", "CpaTerms", "NgrFormula", "PlanBook",
    "PlanConfig", "PlanError", "PlanTerms", "PlanVersion", "RevShareTerms", "cpa_amount_for",
    "first_day", "next_period", "parse_period", "parse_plan", "period_bounds", "period_of",
]
