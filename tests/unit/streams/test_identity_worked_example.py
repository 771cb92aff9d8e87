"""docs/identity.md's worked example, run: its config and its steps through the real stages in
memory (the topology harness), and every link, signal, person and weight its tables state; then
its Limits, each shown happening."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
from prometheus_client import REGISTRY

from clickpath.contracts.models import IngressEvent, Login, Registration
from clickpath.contracts.models.identity import IdentityLink, MultiAccountSignal, PersonChange
from clickpath.contracts.topics import Topic
from clickpath.devtools.topology import Topology, pipeline_stages
from clickpath.domain.identity.account_state import brand_of, person_id_of
from clickpath.domain.identity.policy import DEFAULT_FIELDS, IdentityPolicy
from clickpath.domain.identity.sightings import ua_family
from clickpath.infra.identity_policy import identity_policy
from clickpath.settings import Settings
from clickpath.streams.identifiers import identifier_stage
from clickpath.streams.identity import identity_stage

PAGE = Path(__file__).resolve().parents[3] / "docs" / "identity.md"
DAY = datetime(2026, 11, 1, tzinfo=UTC)
KEY = b"worked-example-pseudonym-key-32b"
# A real user agent of each family the page names (the test checks the parser agrees).
AGENTS = {
    "Chrome/Windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like"
                      " Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Firefox/Ubuntu": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101"
                      " Firefox/121.0",
}
REFUSED = ("clickpath_identity_refused_total", {"kind": "device_id", "reason": "refused value"})


def _section(title: str = "Worked example") -> str:
    return PAGE.read_text().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(header: str, with_header: bool = False) -> list[list[str]]:
    """The rows of the section's table whose first header cell is `header`, cells stripped
    (the header row first when `with_header`)."""
    lines = iter(_section().splitlines())
    for line in lines:
        if line.strip().startswith(f"| {header} |"):
            break
    else:
        raise AssertionError(f"no table headed {header!r}")
    next(lines)  # the |---| line
    rows = [_cells(line)] if with_header else []
    for line in lines:
        if not line.strip().startswith("|"):
            break
        rows.append(_cells(line))
    return rows


def _num(cell: str) -> float:
    return float(cell.replace("−", "-"))


def _reasons(cell: str) -> dict[str, str]:
    """"prior −13.29, device_id 16.46" -> {"prior": "-13.29", "device_id": "16.46"}."""
    return {k: v.replace("−", "-") for k, v in (part.split(" ") for part in cell.split(", "))}


def _2(value: float) -> str:
    """A figure as the page rounds it."""
    return f"{value:.2f}"


def _rounded(reasons: dict[str, float]) -> dict[str, str]:
    return {k: _2(v) for k, v in reasons.items()}


def _flat(text: str) -> str:
    """`text` on one line (the page wraps its prose anywhere)."""
    return " ".join(text.split())


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IdentityPolicy:
    """The page's config, as a worker reads it: a clickpath.toml through Settings."""
    for var in list(os.environ):
        if var.startswith("CLICKPATH_"):
            monkeypatch.delenv(var)
    config = tmp_path / "clickpath.toml"
    config.write_text(re.search(r"```toml\n(.*?)```", _section(), re.S).group(1))  # type: ignore[union-attr]
    monkeypatch.setenv("CLICKPATH_CONFIG", str(config))
    monkeypatch.setenv("CLICKPATH_PSEUDONYM_KEY", KEY.decode())  # the page's person ids are its
    return identity_policy(Settings())


def _steps() -> list[tuple[str, Registration | Login]]:
    """(step, event) of each row of the page's table of events."""
    steps: list[tuple[str, Registration | Login]] = []
    for step, time, account, kind, email, device, prefix, agent in _table("step"):
        brand, player = account.split(":")
        hour, minute = map(int, time.split(":"))
        common = {"event_id": f"ev-{step}", "occurred_at": DAY.replace(hour=hour, minute=minute),
                  "brand_id": brand, "player_id": player, "source": "crm",
                  "device_id": device or None, "ip_prefix": prefix or None}
        if kind == "registration":
            assert not agent, f"step {step}: a registration carries no user agent"
            mail = hmac.new(KEY, email.encode(), hashlib.sha256).hexdigest() if email else None
            steps.append((step, Registration(email_hash=mail, **common)))
        else:
            assert kind == "login" and not email, f"step {step}"
            assert not agent or ua_family(AGENTS[agent]) == agent, agent
            steps.append((step, Login(user_agent=AGENTS[agent] if agent else None, **common)))
    return steps


def _run(policy: IdentityPolicy, events: Sequence[IngressEvent]) -> Topology:
    top = Topology(pipeline_stages(identity=policy), start=DAY.replace(hour=10))
    for event in events:
        top.advance(timedelta(minutes=5))
        top.send_all([event])
    return top


def _links(top: Topology) -> dict[str, IdentityLink]:
    """Each pair's newest link ("a – b", keys sorted), both of its accounts holding the same."""
    newest: dict[tuple[str, str], IdentityLink] = {}
    for link in top.emitted(Topic.IDENTITY_LINKS):
        assert isinstance(link, IdentityLink)
        held = newest.get((link.account, link.other))
        if held is None or link.version > held.version:
            newest[(link.account, link.other)] = link
    by_pair: dict[str, IdentityLink] = {}
    for (account, other), link in newest.items():
        pair = " – ".join(sorted((account, other)))
        seen = by_pair.setdefault(pair, link)
        assert (seen.status, seen.score, seen.reasons) == (link.status, link.score, link.reasons), pair
    return by_pair


def _signals(top: Topology) -> list[MultiAccountSignal]:
    """Each signal's newest version."""
    newest: dict[str, MultiAccountSignal] = {}
    for signal in top.emitted(Topic.IDENTITY_SIGNALS):
        assert isinstance(signal, MultiAccountSignal)
        held = newest.get(signal.signal_id)
        if held is None or signal.version > held.version:
            newest[signal.signal_id] = signal
    return sorted(newest.values(), key=lambda s: s.accounts)


def _persons(top: Topology) -> dict[str, list[PersonChange]]:
    """Each account's merge log, oldest first."""
    logs: dict[str, list[PersonChange]] = {}
    for change in top.emitted(Topic.IDENTITY_PERSONS):
        assert isinstance(change, PersonChange)
        logs.setdefault(change.account, []).append(change)
    return {a: sorted(log, key=lambda c: c.version) for a, log in logs.items()}


class View(NamedTuple):
    """What the views show, without times: `persons`, `identity_links_now`,
    `identity_signals_now`."""

    persons: dict[str, str]
    links: dict[str, tuple[str, float, dict[str, float]]]
    signals: dict[tuple[str, ...], tuple[float, dict[str, float]]]


def _view(top: Topology) -> View:
    return View(
        persons={a: log[-1].person_id for a, log in _persons(top).items()},
        links={p: (link.status, link.score, link.reasons) for p, link in _links(top).items()
               if link.status != "removed"},
        signals={tuple(s.accounts): (s.score, s.reasons) for s in _signals(top)
                 if s.status == "open"},
    )


def test_the_worked_example_gives_the_links_signals_and_persons_the_page_shows(
    policy: IdentityPolicy,
) -> None:
    assert dict(policy.operators) == {"luckyspin": "northstar", "spinpalace": "northstar",
                                      "goldbet": "redrock"}
    steps = _steps()
    assert [s for s, _ in steps] == [str(n) for n in range(1, len(steps) + 1)]
    refused_before = REGISTRY.get_sample_value(*REFUSED) or 0.0
    top = _run(policy, [e for _, e in steps])
    page = _flat(_section())
    assert (REGISTRY.get_sample_value(*REFUSED) or 0.0) - refused_before == 2
    assert 'counted twice in `clickpath_identity_refused_total{kind="device_id",reason="refused' \
           ' value"}`' in page
    assert f"more than `identity_max_accounts` = {policy.max_accounts}" in page

    links = _links(top)
    table = _table("link")
    assert sorted(row[0] for row in table) == sorted(links)
    for pair, status, score, reasons in table:
        link = links[pair]
        assert (link.status, _2(link.score), _rounded(link.reasons)) == (
            status, _2(_num(score)), _reasons(reasons)), pair
    # The scored link was written more than once on its way (each identifier on its own).
    assert sum(isinstance(r, IdentityLink) and r.account == "luckyspin:p2"
               for r in top.emitted(Topic.IDENTITY_LINKS)) > 1

    signals = _signals(top)
    rows = sorted(_table("signal"), key=lambda r: r[1])
    assert len(rows) == len(signals)
    for (kind, names, score, reasons, status), signal in zip(rows, signals, strict=True):
        assert (signal.kind, ", ".join(signal.accounts), signal.status) == (kind, names, status)
        assert (_2(signal.score), _rounded(signal.reasons)) == (_2(_num(score)), _reasons(reasons))

    logs = _persons(top)
    accounts = [f"{e.brand_id}:{e.player_id}" for _, e in steps]
    assert sorted(logs) == sorted(accounts)
    now = _view(top).persons
    count = re.search(r"The (\d+) accounts are (\d+) persons", page)
    assert count and (int(count[1]), int(count[2])) == (len(accounts), len(set(now.values())))
    listed = set()
    for account, person, log in _table("account"):
        found = re.fullmatch(r"(\S+)'s, `(pn_[0-9a-f]+)`", person)
        assert found, person
        survivor, pid = found.groups()
        assert now[account] == pid == person_id_of(
                policy.operator_of(brand_of(survivor)), survivor, policy.person_key)
        got = ", ".join(c.kind if c.kind == "new" else f"{c.kind} ({c.reason})" for c in logs[account])
        assert got == log, account
        listed.add(account)
    for account in set(accounts) - listed:
        assert [c.kind for c in logs[account]] == ["new"], account
        assert now[account] == person_id_of(
                policy.operator_of(brand_of(account)), account, policy.person_key)


def test_the_score_breakdown_is_the_default_weights_and_the_pairs_scores(
    policy: IdentityPolicy,
) -> None:
    assert policy.fields == DEFAULT_FIELDS
    header, *body = _table("field", with_header=True)
    rows = {row[0]: row for row in body}
    links = _links(_run(policy, [e for _, e in _steps()]))
    prior = rows.pop(f"prior (λ {policy.prior:f}".rstrip("0") + ")")
    score = rows.pop("score")
    decision = rows.pop(f"decision (threshold {policy.threshold:g})")
    assert _num(prior[3]) == round(policy.prior_weight(), 2)
    assert sorted(rows) == sorted(policy.fields)
    for kind, (_, m, u, weight, *_) in rows.items():
        model = policy.fields[kind]
        assert (float(m), float(u), _num(weight)) == (model.m, model.u, round(model.weight(), 2))
    for column, pair in enumerate(header[4:], start=4):
        link = links[pair]
        assert _num(prior[column]) == round(link.reasons["prior"], 2)
        assert {k: _num(r[column]) for k, r in rows.items() if r[column]} == {
            k: round(w, 2) for k, w in link.reasons.items() if k != "prior"}, pair
        assert (_num(score[column]), decision[column]) == (round(link.score, 2), link.status), pair


def test_the_example_in_reverse_order_shows_the_same_graph(policy: IdentityPolicy) -> None:
    """The page says arrival order does not decide: the views end the same either way."""
    events = [e for _, e in _steps()]
    assert "the test also runs the steps in reverse" in _flat(_section())
    assert _view(_run(policy, events[::-1])) == _view(_run(policy, events))


# --- Limits ---------------------------------------------------------------------------------

POLICY = IdentityPolicy(operators={"luckyspin": "northstar", "spinpalace": "northstar"},
                        max_accounts=2)


def _event(n: int, account: str, kind: type[Registration] | type[Login] = Registration,
           **fields: object) -> IngressEvent:
    brand, player = account.split(":")
    return kind(event_id=f"ev-{n}", occurred_at=DAY + timedelta(hours=10, minutes=n),
                brand_id=brand, player_id=player, source="crm", **fields)


def _limit(bullet: str) -> str:
    """The Limits bullet that starts with `bullet`, on one line."""
    [text] = [b for b in _section("Limits").split("\n- ") if b.lstrip("- ").startswith(f"**{bullet}")]
    return _flat(text)


def test_two_accounts_of_one_brand_are_one_person_through_another_brand() -> None:
    text = _limit("Two accounts of one brand can end up in one person")
    assert "the three accounts are one connected component, one person" in text
    assert "No link or multi-account signal is made between a1 and a2" in text
    chain = [_event(1, "luckyspin:a1", email_hash="a" * 64),
             _event(2, "spinpalace:b", email_hash="a" * 64, customer_id="cust-9"),
             _event(3, "luckyspin:a2", customer_id="cust-9")]
    view = _view(_run(POLICY, chain))
    assert view.persons == dict.fromkeys(["luckyspin:a1", "spinpalace:b", "luckyspin:a2"],
                                         person_id_of("northstar", "luckyspin:a1"))
    assert {pair: status for pair, (status, _, _) in view.links.items()} == {
        "luckyspin:a1 – spinpalace:b": "merged", "luckyspin:a2 – spinpalace:b": "merged"}
    assert view.signals == {}

    # Evidence of their own (a device both use) links and flags the pair; still one person.
    device = [_event(4, "luckyspin:a1", Login, device_id="d-1"),
              _event(5, "luckyspin:a2", Login, device_id="d-1")]
    view = _view(_run(POLICY, chain + device))
    assert set(view.persons.values()) == {person_id_of("northstar", "luckyspin:a1")}
    assert view.links["luckyspin:a1 – luckyspin:a2"][0] == "possible"
    assert list(view.signals) == [("luckyspin:a1", "luckyspin:a2")]


def test_a_common_user_agent_family_past_the_cap_counts_for_nobody() -> None:
    text = _limit("A common value soon counts for nobody")
    scores = {cells[0]: cells[1] for cells in _scores_table()}
    both, device = scores["device + user agent"], scores["device"]
    assert f"device + user agent, {both}, becomes device alone, {device}: possible" in text
    chrome = AGENTS["Chrome/Windows"]
    pair = [_event(1, "luckyspin:x1", Login, device_id="d-7", user_agent=chrome),
            _event(2, "spinpalace:y1", Login, device_id="d-7", user_agent=chrome)]
    status, score, _ = _view(_run(POLICY, pair)).links["luckyspin:x1 – spinpalace:y1"]
    assert (status, _2(score)) == ("merged", _2(_num(both)))
    # A third account with the same browser on a device of its own: the family is shared.
    view = _view(_run(POLICY, [*pair, _event(3, "luckyspin:x2", Login, device_id="d-8",
                                             user_agent=chrome)]))
    status, score, reasons = view.links["luckyspin:x1 – spinpalace:y1"]
    assert (status, _2(score), "ua_family" in reasons) == ("possible", _2(_num(device)), False)
    assert view.persons["luckyspin:x1"] != view.persons["spinpalace:y1"]


def _scores_table() -> list[list[str]]:
    """The rows of the page's Scores table: evidence, score, across brands, within a brand."""
    rows = []
    for line in _section("Scores").splitlines():
        cells = _cells(line)
        if line.startswith("|") and len(cells) == 4 and cells[1] not in ("score", "---"):
            rows.append(cells)
    return rows


def test_a_changed_policy_scores_no_link_again_until_new_evidence_arrives() -> None:
    """A restart with a higher threshold, as the stages see it (they read the policy through
    `rules`): the merged link stays merged until evidence for the pair arrives, and is then
    scored with the new threshold."""
    text = _limit("The policy is read when a worker starts")
    assert "links already decided are not scored again" in text
    rules = [POLICY]
    top = Topology([*pipeline_stages(identity=POLICY)[:4],
                    identity_stage(lambda: rules[0]), identifier_stage(lambda: rules[0])],
                   start=DAY)
    chrome = AGENTS["Chrome/Windows"]
    top.send_all([_event(1, "luckyspin:x1", Login, device_id="d-7", user_agent=chrome),
                  _event(2, "spinpalace:y1", Login, device_id="d-7", user_agent=chrome)])
    pair = "luckyspin:x1 – spinpalace:y1"
    assert (_links(top)[pair].status, _2(_links(top)[pair].score)) == ("merged", "7.34")
    rules[0] = replace(POLICY, threshold=20.0)
    top.send_all([_event(3, "luckyspin:x1", Login, device_id="d-7")])  # a later sighting: nothing new
    assert _links(top)[pair].status == "merged"
    top.send_all([_event(4, "luckyspin:x1", Login, ip_prefix="192.0.2.0/24"),
                  _event(5, "spinpalace:y1", Login, ip_prefix="192.0.2.0/24")])
    assert (_links(top)[pair].status, _2(_links(top)[pair].score)) == ("possible", "16.79")


def test_the_scores_table_is_the_default_weights_summed() -> None:
    """The Scores table the example's figures come from: each row's sum of the prior and the
    agreeing fields' weights, and the decision across brands at the default threshold."""
    policy = IdentityPolicy()
    kinds = {"device": "device_id", "IP prefix": "ip_prefix", "user agent": "ua_family"}
    rows = _scores_table()
    assert [r[0] for r in rows][:2] == ["none", "device"] and rows[-1][1] == "rule"
    for evidence, score, across, _ in rows[1:-1]:
        total = policy.prior_weight() + sum(
            policy.fields[kinds[name]].weight() for name in evidence.split(" + "))
        assert _2(_num(score)) == _2(total), evidence
        assert across.split(" (")[0] == ("merged" if total >= policy.threshold else "possible")
    assert _2(_num(rows[0][1])) == _2(policy.prior_weight())


def test_a_shared_identifier_stays_shared_when_the_cap_is_raised() -> None:
    text = _limit("Shared and refused are final")
    assert "Raising `identity_max_accounts` later does not make a shared identifier link again" in text
    rules = [POLICY]
    top = Topology([*pipeline_stages(identity=POLICY)[:4],
                    identity_stage(lambda: rules[0]), identifier_stage(lambda: rules[0])],
                   start=DAY)
    mail = {"email_hash": "b" * 64}
    top.send_all([_event(1, "luckyspin:m1", **mail), _event(2, "spinpalace:m2", **mail),
                  _event(3, "spinpalace:m3", **mail)])  # a third account: shared at cap 2
    assert _view(top).links == {}
    rules[0] = replace(POLICY, max_accounts=10)
    top.send_all([_event(4, "luckyspin:m4", **mail)])
    assert _view(top).links == {} and len(set(_view(top).persons.values())) == 4
