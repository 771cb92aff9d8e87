"""Each preset's postbacks reach a local receiver that reads them the way that tracker does.

The receiver (real HTTP on a loopback port, sent by the delivery engine's client) knows each
tracker from its public documentation, independently of `clickpath.domain.presets`: the
parameters it requires, the names it knows (exact, case-sensitive), its status vocabulary. It
answers 400 to a request the tracker would reject or misread, and records what it parsed.
A registration, an FTD and a reversal go to every preset (a reversal only where the tracker
takes a status change: the others refuse a chargeback subscription at configuration).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

import pytest

from clickpath.contracts.models import Postback, utcnow
from clickpath.devtools.receivers import Received, ScriptedReceiver
from clickpath.domain.endpoints import Endpoint
from clickpath.sinks.delivery.client import PinnedClient
from clickpath.sinks.delivery.egress import EgressPolicy
from clickpath.sinks.delivery.render import render_postback

CLICK = "clk 1/ä&x=y"  # needs URL-encoding: a tracker must read back exactly this
TXN = "dep #7&8"


@dataclass(frozen=True)
class Tracker:
    """What a tracker's postback handler requires, per its documentation."""

    path: str
    required: frozenset[str]
    known: frozenset[str]
    status: str | None = None
    statuses: frozenset[str] = frozenset()


def _t(path: str, required: str, known: str, status: str | None = None, statuses: str = "") -> Tracker:
    return Tracker(
        path,
        frozenset(required.split()),
        frozenset(known.split()) | frozenset(required.split()),
        status,
        frozenset(statuses.split()),
    )


TRACKERS = {
    "everflow": _t("/", "nid transaction_id", "adv_event_id amount order_id"),
    "voluum": _t("/postback", "cid", "payout currency txid et"),
    "keitaro": _t(
        "/k3y/postback", "subid", "tid payout currency status", "status", "lead sale rejected rebill"
    ),
    "cake": _t("/p.ashx", "o r", "e t p"),
    "tune": _t("/aff_lsr", "offer_id transaction_id", "goal_id amount adv_sub"),
    "affise": _t("/postback", "clickid", "action_id goal sum status", "status", "1 2 3 5"),
    "redtrack": _t("/postback", "clickid", "type sum status", "status", "Approved Pending Declined Other"),
    "binom": _t("/click.php", "cnv_id", "payout cnv_status cnv_status2 cnv_currency"),
    "bemob": _t("/postback", "cid", "payout txid status"),
    "scaleo": _t(
        "/track/conv-addchange",
        "click_id",
        "goal_alias amount currency transaction_id conv_status",
        "conv_status",
        "pending approved rejected hold trash",
    ),
}

# What each tracker must read for: the registration, the FTD, the reversal of that FTD (None:
# the tracker takes no status change). Written from the documentation, not from the presets.
FTD = {"amount": "25.50", "currency": "EUR", "txn": TXN}
EXPECTED: dict[str, tuple[dict[str, str], dict[str, str], dict[str, str] | None]] = {
    "everflow": (
        {"nid": "42", "transaction_id": CLICK, "adv_event_id": "7"},
        {"nid": "42", "transaction_id": CLICK, "amount": "25.50", "order_id": TXN},
        None,
    ),
    "voluum": (
        {"cid": CLICK, "et": "registration"},
        {"cid": CLICK, "et": "ftd", "payout": "25.50", "currency": "EUR", "txid": TXN},
        None,
    ),
    "keitaro": (
        {"subid": CLICK, "status": "lead"},
        {"subid": CLICK, "status": "sale", "payout": "25.50", "currency": "EUR", "tid": TXN},
        {"subid": CLICK, "status": "rejected", "payout": "25.50", "currency": "EUR", "tid": TXN},
    ),
    "cake": ({"o": "12", "r": CLICK, "e": "3"}, {"o": "12", "r": CLICK, "p": "25.50", "t": TXN}, None),
    "tune": (
        {"offer_id": "26", "transaction_id": CLICK, "goal_id": "4"},
        {"offer_id": "26", "transaction_id": CLICK, "amount": "25.50", "adv_sub": TXN},
        None,
    ),
    "affise": (
        {"clickid": CLICK, "goal": "reg", "status": "1"},
        {"clickid": CLICK, "goal": "2", "status": "1", "sum": "25.50", "action_id": TXN},
        {"clickid": CLICK, "goal": "2", "status": "3", "sum": "25.50", "action_id": TXN},
    ),
    "redtrack": (
        {"clickid": CLICK, "type": "Registration", "status": "Approved"},
        {"clickid": CLICK, "type": "FTD", "status": "Approved", "sum": "25.50"},
        {"clickid": CLICK, "type": "FTD", "status": "Declined", "sum": "25.50"},
    ),
    "binom": (
        {"cnv_id": CLICK, "cnv_status2": "registration"},
        {"cnv_id": CLICK, "cnv_status2": "ftd", "payout": "25.50", "cnv_currency": "EUR"},
        None,
    ),
    "bemob": (
        {"cid": CLICK, "status": "approved"},
        {"cid": CLICK, "status": "approved", "payout": "25.50", "txid": TXN},
        {"cid": CLICK, "status": "rejected", "payout": "25.50", "txid": TXN},
    ),
    "scaleo": (
        {"click_id": CLICK, "goal_alias": "registration", "conv_status": "approved"},
        {
            "click_id": CLICK,
            "goal_alias": "ftd",
            "conv_status": "approved",
            "amount": "25.50",
            "currency": "EUR",
            "transaction_id": TXN,
        },
        {
            "click_id": CLICK,
            "goal_alias": "ftd",
            "conv_status": "rejected",
            "amount": "25.50",
            "currency": "EUR",
            "transaction_id": TXN,
        },
    ),
}

# The one line of configuration per tracker (the overrides some of them need).
PARAMS = {
    "everflow": {"nid": "42", "goal_registration": "7"},
    "cake": {"offer": "12", "goal_registration": "3", "click_id_from": "sub2"},  # click id in sub2
    "tune": {"offer_id": "26", "goal_registration": "4"},
    "affise": {"goal_registration": "reg", "goal_ftd": "2"},
    "bemob": {},
}


def parse(tracker: Tracker, request: Received) -> dict[str, str]:
    """The tracker's reading of a request; ValueError with the reason it would reject it."""
    if request.method != "GET":
        raise ValueError(f"method {request.method}")
    url = urlsplit(request.path)
    if url.path != tracker.path:
        raise ValueError(f"path {url.path}")
    pairs = parse_qsl(url.query, keep_blank_values=True, strict_parsing=True)
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"repeated parameters {names}")
    values = dict(pairs)
    if missing := tracker.required - set(values):
        raise ValueError(f"missing {sorted(missing)}")
    if unknown := set(values) - tracker.known:
        raise ValueError(f"unknown parameter names {sorted(unknown)}")
    if empty := [k for k, v in values.items() if not v]:
        raise ValueError(f"empty {empty}")
    if tracker.status and tracker.status in values and values[tracker.status] not in tracker.statuses:
        raise ValueError(f"status {values[tracker.status]!r}")
    for name in ("amount", "payout", "sum", "p"):
        if name in values:
            Decimal(values[name])  # a number, with a dot
    return values


@pytest.fixture
def receiver() -> Iterator[ScriptedReceiver]:
    parsed: list[dict[str, str]] = []

    def answer(request: Received, _n: int) -> tuple[int, dict[str, str]]:
        try:
            parsed.append(parse(TRACKERS[request.headers["x-tracker"]], request))
        except ValueError:
            return 400, {}
        return 200, {}

    server = ScriptedReceiver(script=answer)
    server.parsed = parsed  # type: ignore[attr-defined]
    yield server
    server.stop()


def postback(event: str, reverses: str | None = None, in_sub2: bool = False) -> Postback:
    """`in_sub2`: the tracker's click id reached clickpath in sub2 (clickpath's own click id is
    then another value, which the tracker must not get)."""
    money = event != "registration"
    return Postback(
        postback_id=f"pb-{event}",
        affiliate_id="aff-1",
        campaign_id="camp-1",
        brand_id="brand-a",
        event=event,
        click_id="clickpath-own-click" if in_sub2 else CLICK,  # type: ignore[arg-type]
        sub2=CLICK if in_sub2 else "other",
        player_token="tok",
        amount=Decimal("25.5") if money else None,
        currency="EUR" if money else None,
        transaction_id=TXN if money else None,
        occurred_at=utcnow(),
        reverses=reverses,
    )


async def _deliver(endpoint: Endpoint, records: list[Postback], tracker: str) -> list[int | None]:
    client = PinnedClient(EgressPolicy(allow=["127.0.0.0/8"]), clock=lambda: 0.0, timeout_s=5, connections=2)
    statuses = []
    try:
        for record in records:
            request = render_postback(endpoint, record, f"job-{record.event}", utcnow())
            request.headers["x-tracker"] = tracker
            statuses.append((await client.send(request)).status)
    finally:
        await client.aclose()
    return statuses


@pytest.mark.parametrize("name", sorted(TRACKERS))
def test_each_tracker_reads_a_registration_an_ftd_and_a_reversal(
    name: str, receiver: ScriptedReceiver
) -> None:
    reg, ftd, reversal = EXPECTED[name]
    events = ["registration", "ftd"] + (["chargeback"] if reversal else [])
    endpoint = Endpoint(
        endpoint_id=f"aff-1-{name}",
        affiliate_id="aff-1",
        preset=name,
        url=receiver.url + TRACKERS[name].path,
        params=PARAMS.get(name, {}),
        events=events,
    )
    in_sub2 = PARAMS.get(name, {}).get("click_id_from") == "sub2"
    records = [postback("registration", in_sub2=in_sub2), postback("ftd", in_sub2=in_sub2)]
    if reversal:
        records.append(postback("chargeback", reverses="ftd", in_sub2=in_sub2))
    else:
        with pytest.raises(ValueError, match="no status change"):
            Endpoint(
                endpoint_id="x",
                affiliate_id="aff-1",
                preset=name,
                url=receiver.url + "/",
                params=PARAMS.get(name, {}),
                events=[*events, "chargeback"],
            )
    statuses = asyncio.run(_deliver(endpoint, records, name))
    assert statuses == [200] * len(records), [r.path for r in receiver.requests()]
    assert receiver.parsed == [reg, ftd, *([reversal] if reversal else [])]  # type: ignore[attr-defined]


# A qualified_cpa: what each tracker must read (from its documentation), the CPA paid in the
# parameter that carries a conversion's value (`{payout}`), no transaction; and the goal
# overrides a tracker with a goal parameter needs for it.
PAYOUT = "30.00"
CPA_GOALS = {"everflow": "8", "voluum": "cpa", "cake": "5", "tune": "6", "affise": "cpa",
             "redtrack": "CPA", "binom": "cpa", "scaleo": "cpa"}
QUALIFIED_CPA: dict[str, dict[str, str]] = {
    "everflow": {"nid": "42", "transaction_id": CLICK, "amount": PAYOUT, "adv_event_id": "8"},
    "voluum": {"cid": CLICK, "et": "cpa", "payout": PAYOUT, "currency": "EUR"},
    "keitaro": {"subid": CLICK, "status": "sale", "payout": PAYOUT, "currency": "EUR"},
    "cake": {"o": "12", "r": CLICK, "p": PAYOUT, "e": "5"},
    "tune": {"offer_id": "26", "transaction_id": CLICK, "amount": PAYOUT, "goal_id": "6"},
    "affise": {"clickid": CLICK, "goal": "cpa", "status": "1", "sum": PAYOUT},
    "redtrack": {"clickid": CLICK, "type": "CPA", "status": "Approved", "sum": PAYOUT},
    "binom": {"cnv_id": CLICK, "cnv_status2": "cpa", "payout": PAYOUT, "cnv_currency": "EUR"},
    "bemob": {"cid": CLICK, "status": "approved", "payout": PAYOUT},
    "scaleo": {"click_id": CLICK, "goal_alias": "cpa", "conv_status": "approved", "amount": PAYOUT,
               "currency": "EUR"},
}


def qualified_cpa(in_sub2: bool = False) -> Postback:
    """A paid CPA as the commissions stage makes it: payout and currency, no deposit."""
    return postback("registration", in_sub2=in_sub2).model_copy(update={
        "event": "qualified_cpa", "postback_id": "pb-qualified_cpa", "currency": "EUR",
        "payout": Decimal("30"), "payout_currency": "EUR",
    })


@pytest.mark.parametrize("name", sorted(TRACKERS))
def test_each_tracker_reads_the_cpa_paid_as_the_payout_and_an_ftd_its_amount(
    name: str, receiver: ScriptedReceiver
) -> None:
    goal = {"goal_qualified_cpa": CPA_GOALS[name]} if name in CPA_GOALS else {}
    params = {**PARAMS.get(name, {}), **goal}
    endpoint = Endpoint(endpoint_id=f"aff-1-{name}", affiliate_id="aff-1", preset=name,
                        url=receiver.url + TRACKERS[name].path, params=params,
                        events=["ftd", "qualified_cpa"])
    in_sub2 = params.get("click_id_from") == "sub2"
    records = [qualified_cpa(in_sub2), postback("ftd", in_sub2=in_sub2)]
    statuses = asyncio.run(_deliver(endpoint, records, name))
    assert statuses == [200, 200], [r.path for r in receiver.requests()]
    assert receiver.parsed == [QUALIFIED_CPA[name], EXPECTED[name][1]]  # type: ignore[attr-defined]
