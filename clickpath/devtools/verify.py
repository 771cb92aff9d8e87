"""Compare what the pipeline produced with the load generator's ground truth.

Lost means expected and not there; double-counted means there more often than it happened.
Postbacks are delivered at least once, so a receiver may see the same postback id again
(`redelivered`, harmless: receivers deduplicate on it); two different ids for the same click
and event would be a double count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

from clickpath.contracts.models import person_id_of
from clickpath.devtools.truth import (
    MONEY_AMOUNTS,
    MONEY_COUNTS,
    FunnelTruth,
    GroundTruth,
    MoneyTruth,
)
from clickpath.domain.report import UNATTRIBUTED

# The postback template the benchmark and the crash tests configure for every affiliate.
VERIFY_POSTBACK_PATH = (
    "/pb/{affiliate_id}?click_id={click_id}&event={event}&id={postback_id}"
    "&amount={amount}&currency={currency}&ts={timestamp}"
)


@dataclass(frozen=True)
class ReceivedPostback:
    affiliate_id: str
    click_id: str
    event: str
    postback_id: str
    query: dict[str, str]


def parse_postback(path: str) -> ReceivedPostback:
    """Read a request path made from VERIFY_POSTBACK_PATH."""
    url = urlparse(path)
    query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    return ReceivedPostback(
        affiliate_id=url.path.rsplit("/", 1)[-1],
        click_id=query.get("click_id", ""),
        event=query.get("event", ""),
        postback_id=query.get("id", ""),
        query=query,
    )


@dataclass
class Verdict:
    lost: int = 0  # deposits expected and missing
    double_counted: int = 0  # deposits counted more than once
    postbacks_missing: int = 0
    postbacks_double: int = 0
    postbacks_redelivered: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.double_counted or self.postbacks_missing or self.postbacks_double
            or self.mismatches
        )

    def summary(self) -> dict[str, Any]:
        return {
            "lost": self.lost,
            "double_counted": self.double_counted,
            "postbacks_missing": self.postbacks_missing,
            "postbacks_double": self.postbacks_double,
            "postbacks_redelivered": self.postbacks_redelivered,
            "mismatches": self.mismatches[:20],
        }


def funnel_actuals(rows: Iterable[dict[str, Any]]) -> dict[tuple[str, str], FunnelTruth]:
    """Funnel rows (by affiliate, campaign, currency) folded the way the truth is kept."""
    out: dict[tuple[str, str], FunnelTruth] = {}
    for row in rows:
        f = out.setdefault((row["affiliate_id"], row["campaign_id"]), FunnelTruth())
        f.clicks += int(row["clicks"])
        f.registrations += int(row["registrations"])
        f.ftds += int(row["ftds"])
        cur = row["currency"]
        if cur and int(row["deposits"]):
            f.deposits[cur] = f.deposits.get(cur, 0) + int(row["deposits"])
            f.deposit_sum[cur] = f.deposit_sum.get(cur, Decimal(0)) + Decimal(
                str(row["deposit_sum"])
            )
    return out


def verify(
    truth: GroundTruth,
    funnel_rows: Iterable[dict[str, Any]],
    postback_paths: Iterable[str] | None = None,
) -> Verdict:
    verdict = Verdict()
    actual = funnel_actuals(funnel_rows)
    for key in sorted(set(truth.funnel) | set(actual)):
        want, got = truth.funnel.get(key, FunnelTruth()), actual.get(key, FunnelTruth())
        where = f"{key[0] or '(organic)'}/{key[1] or '-'}"
        for name in ("clicks", "registrations", "ftds"):
            if getattr(want, name) != getattr(got, name):
                verdict.mismatches.append(
                    f"{where} {name}: expected {getattr(want, name)}, got {getattr(got, name)}"
                )
        for cur in sorted(set(want.deposits) | set(got.deposits)):
            w, g = want.deposits.get(cur, 0), got.deposits.get(cur, 0)
            verdict.lost += max(w - g, 0)
            verdict.double_counted += max(g - w, 0)
            ws = want.deposit_sum.get(cur, Decimal(0))
            gs = got.deposit_sum.get(cur, Decimal(0))
            if w != g or ws != gs:
                verdict.mismatches.append(
                    f"{where} deposits {cur}: expected {w} summing {ws}, got {g} summing {gs}"
                )
    if postback_paths is not None:
        received = [parse_postback(p) for p in postback_paths]
        ids_per_key: dict[tuple[str, str, str], set[str]] = {}
        for p in received:
            ids_per_key.setdefault((p.affiliate_id, p.click_id, p.event), set()).add(p.postback_id)
        verdict.postbacks_missing = len(truth.postbacks - set(ids_per_key))
        unexpected = set(ids_per_key) - truth.postbacks - truth.optional_postbacks
        verdict.postbacks_double = sum(len(ids) - 1 for ids in ids_per_key.values())
        verdict.postbacks_redelivered = sum(
            n - 1 for n in Counter(p.postback_id for p in received).values()
        )
        if unexpected:
            verdict.mismatches.append(
                f"{len(unexpected)} unexpected postbacks, e.g. {sorted(unexpected)[:3]}"
            )
    return verdict


def verify_touchpoints(truth: GroundTruth, rows: Iterable[tuple[str, str]]) -> list[str]:
    """What differs between the registered players' paths the generator made and the
    (person_id, click_id) rows of ClickHouse's `touchpoints` view, read oldest click first."""
    actual: dict[str, list[str]] = {}
    for person, click in rows:
        actual.setdefault(person, []).append(click)
    expected = {person_id_of(b, p): list(clicks) for (b, p), clicks in truth.paths.items()}
    problems = [
        f"{person}: expected clicks {want}, got {actual.get(person, [])}"
        for person, want in sorted(expected.items()) if actual.get(person, []) != want
    ]
    unexpected = sorted(set(actual) - set(expected))
    if unexpected:
        problems.append(f"{len(unexpected)} persons with touchpoints and no path, e.g. {unexpected[:3]}")
    return problems


Figures = dict[str, int | Decimal]


def report_figures(report: Iterable[dict[str, Any]]) -> dict[tuple[str, str], Figures]:
    """The funnel report's rows (clickpath.domain.report.summarize) summed over brands and
    campaigns, per (affiliate, currency; organic is ""): each figure the truth keeps, GGR and
    NGR as the report states them."""
    out: dict[tuple[str, str], Figures] = {}
    for row in report:
        affiliate = "" if row["affiliate_id"] == UNATTRIBUTED else row["affiliate_id"]
        currencies = set(row["by_currency"]) | {c for n in MONEY_AMOUNTS for c in row[n]}
        for currency in currencies:
            figures = out.setdefault((affiliate, currency), {})
            counts = row["by_currency"].get(currency, {})
            for name in MONEY_COUNTS:
                figures[name] = figures.get(name, 0) + int(counts.get(name, 0))
            for name in MONEY_AMOUNTS:
                amount = Decimal(row[name].get(currency, "0"))
                figures[name] = figures.get(name, Decimal(0)) + amount
    return out


def verify_money(truth: GroundTruth, report: Iterable[dict[str, Any]]) -> list[str]:
    """Each money figure and currency count of the report, per affiliate and currency, that
    differs from the truth."""
    actual = report_figures(report)
    zero = MoneyTruth().figures()
    problems = []
    for key in sorted(set(truth.money) | set(actual)):
        want = truth.money.get(key, MoneyTruth()).figures()
        got = actual.get(key, zero)
        for name, value in want.items():
            if got.get(name, 0) != value:
                where = f"{key[0] or '(organic)'} {key[1]}"
                problems.append(f"{where} {name}: expected {value}, got {got.get(name, 0)}")
    return problems


def verify_stored(truth: GroundTruth, events_by_type: dict[str, int]) -> list[str]:
    """Stored events per type (ClickHouse's `events`) that differ from the events generated:
    every one once, a duplicate of either kind never."""
    return [
        f"{kind}: expected {truth.events_by_type.get(kind, 0)} stored, got"
        f" {events_by_type.get(kind, 0)}"
        for kind in sorted(set(truth.events_by_type) | set(events_by_type))
        if truth.events_by_type.get(kind, 0) != events_by_type.get(kind, 0)
    ]
