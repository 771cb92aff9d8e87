"""Postback presets: one line of configuration per affiliate tracker (docs/postback-presets.md).

Each tracker names its postback parameters its own way and has its own event or status
vocabulary. A preset knows them: which parameter takes the click id, the amount, the currency
and the transaction id, which one tells the tracker what happened (a goal or event id, a status,
or both), what each clickpath event is called there, and whether a status change (a reversal:
a chargeback or refund of a deposit behind a sent conversion) can be reported at all.

An endpoint with a preset keeps the tracker's base URL and the operator's overrides; for each
event the preset renders an ordinary URL template (`validate_template` checks it like a
hand-written one), so delivery fills it the usual way. Overrides are checked here, when the
endpoint is configured, and a wrong one is refused with its name:

- `goal_<event>`: the tracker's goal, event id or event type for that clickpath event;
- `status_<event>`: the status sent with it (`status_chargeback`: the reversal's status);
- `click_id_from`: where the tracker's click id reached clickpath (`click_id`, or `sub1`..`sub5`);
- a preset's own fixed parameters (everflow `nid`, tune `offer_id`, cake `offer`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

CONVERSIONS = ("registration", "ftd", "deposit", "qualified_cpa")
REVERSAL = "chargeback"
CPA = "qualified_cpa"  # its amount parameter carries {payout}
CLICK_SOURCES = ("click_id", "sub1", "sub2", "sub3", "sub4", "sub5")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NUMBER = re.compile(r"^[0-9]{1,12}$")
OMIT = ""  # a goal default that sends no goal parameter: the tracker's base conversion


class PresetError(ValueError):
    """A preset, an override or an event a preset cannot take; the message names it."""


@dataclass(frozen=True)
class Preset:
    """One tracker's postback: parameter names, vocabulary, and what it accepts."""

    name: str
    title: str
    click: str  # the tracker's click id parameter
    macros: tuple[tuple[str, str], ...]  # (tracker parameter, clickpath macro), e.g. (payout, amount)
    goal: str | None = None  # the parameter naming the goal / event, if the tracker has one
    goals: Mapping[str, str] = field(default_factory=dict)  # default per event; OMIT: none sent
    numeric_goals: bool = False
    status: str | None = None  # the status parameter, if any
    statuses: Mapping[str, str] = field(default_factory=dict)  # default per event
    vocabulary: tuple[str, ...] = ()  # the statuses the tracker knows (empty: free text)
    reversal: bool = False  # a status change reverses a sent conversion
    fixed: Mapping[str, str] = field(default_factory=dict)  # override name -> tracker parameter
    # What an endpoint subscribes without --events. The reversal only where the tracker applies
    # it with its own default settings (Keitaro, Affise, Scaleo's conv-addchange): RedTrack and
    # BeMob need a setting changed first, else a chargeback postback is not a reversal there.
    default_events: tuple[str, ...] = ("registration", "ftd")
    path_hint: str = ""
    sources: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()  # parameter names the public documentation did not confirm
    note: str = ""

    def overrides(self) -> dict[str, str]:
        """Every override this preset takes, with what it sets."""
        known: dict[str, str] = {
            "click_id_from": "where the click id reached clickpath "
            f"({' | '.join(CLICK_SOURCES)}; default click_id)"
        }
        if self.goal:
            for event in CONVERSIONS:
                default = self.goals.get(event)
                shown = "none: the base conversion" if default == OMIT else default or "required"
                known[f"goal_{event}"] = f"{self.goal} for {event} (default {shown})"
        if self.status:
            for event in (*CONVERSIONS, *((REVERSAL,) if self.reversal else ())):
                shown = self.statuses.get(event) or "not sent"
                known[f"status_{event}"] = f"{self.status} for {event} (default {shown})"
        for name, param in self.fixed.items():
            known[name] = f"{param} (required unless the base URL has it)"
        return known


def _p(*pairs: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return pairs


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "everflow",
            "Everflow",
            click="transaction_id",
            macros=_p(("amount", "amount"), ("order_id", "transaction_id")),
            goal="adv_event_id",
            goals={"ftd": OMIT},
            numeric_goals=True,
            fixed={"nid": "nid"},
            path_hint="https://<tracking domain>/",
            reversal=False,
            sources=(
                "https://helpdesk.everflow.io/customer/accessing-editing-s2s-postback-urls",
                "https://helpdesk.everflow.io/en/articles/3597723-getting-started-advertiser-postbacks",
            ),
            unconfirmed=("adv_event_id", "order_id"),
            note="The FTD is the offer's base conversion; other events need their Everflow event "
            "id (goal_registration=...). Everflow takes no status change by postback.",
        ),
        Preset(
            "voluum",
            "Voluum",
            click="cid",
            macros=_p(("payout", "amount"), ("currency", "currency"), ("txid", "transaction_id")),
            goal="et",
            goals={"registration": "registration", "ftd": "ftd", "deposit": "deposit"},
            path_hint="https://<tracking domain>/postback",
            sources=(
                "https://doc.voluum.com/article/parameters-in-postback-urls",
                "https://doc.voluum.com/en/submitting_postback_url.html",
            ),
            note="`et` values are Voluum custom conversions (case-sensitive): define them in Voluum "
            "or override goal_<event>. No status change by postback.",
        ),
        Preset(
            "keitaro",
            "Keitaro",
            click="subid",
            macros=_p(("payout", "amount"), ("currency", "currency"), ("tid", "transaction_id")),
            status="status",
            statuses={
                "registration": "lead",
                "ftd": "sale",
                "deposit": "rebill",
                "qualified_cpa": "sale",
                "chargeback": "rejected",
            },
            vocabulary=("lead", "sale", "rejected", "rebill"),
            reversal=True,
            default_events=("registration", "ftd", REVERSAL),
            path_hint="https://<tracker>/<postback key>/postback",
            sources=("https://docs.keitaro.io/en/conversions/postback.html",),
            note="A reversal is status=rejected with the deposit's tid (Keitaro: sale to rejected, "
            "rebill to rejected). Rebills need the offer's Rebill option.",
        ),
        Preset(
            "cake",
            "CAKE",
            click="r",
            macros=_p(("p", "amount"), ("t", "transaction_id")),
            goal="e",
            goals={"ftd": OMIT},
            numeric_goals=True,
            fixed={"offer": "o"},
            path_hint="https://<tracking domain>/p.ashx",
            sources=("https://support.getcake.com/support/solutions/articles/5000546059",),
            unconfirmed=("o", "e", "p", "t"),
            note="`r` is CAKE's request (session) id. The FTD is the offer's conversion; other events "
            "need their CAKE event id. No status change by postback.",
        ),
        Preset(
            "tune",
            "TUNE (HasOffers)",
            click="transaction_id",
            macros=_p(("amount", "amount"), ("adv_sub", "transaction_id")),
            goal="goal_id",
            goals={"ftd": OMIT},
            numeric_goals=True,
            fixed={"offer_id": "offer_id"},
            path_hint="https://<network>.go2cloud.org/aff_lsr",
            sources=(
                "https://support.tune.com/hc/en-us/articles/4413247665431-Receiving-Conversions-via-Postback-URL",
                "https://support.tune.com/hc/en-us/articles/1500005236742-Customizing-a-Conversion-URL",
            ),
            unconfirmed=("goal_id",),
            note="The FTD is the offer's default goal; other events need their goal id. TUNE's public "
            "documentation shows no status parameter on the postback: no reversals.",
        ),
        Preset(
            "affise",
            "Affise",
            click="clickid",
            macros=_p(("sum", "amount"), ("action_id", "transaction_id")),
            goal="goal",
            goals={"registration": "registration", "ftd": "ftd", "deposit": "deposit"},
            status="status",
            statuses={e: "1" for e in CONVERSIONS} | {"chargeback": "3"},
            vocabulary=("1", "2", "3", "5"),
            reversal=True,
            default_events=("registration", "ftd", REVERSAL),
            path_hint="https://<admin domain>/postback",
            sources=(
                "https://help-center.affise.com/en/articles/6475468-affise-postback-url-parameters",
                "https://affise.zendesk.com/hc/en-us/articles/213899985-How-to-Change-Conversion-s-Status-",
            ),
            note="Statuses 1 approved, 2 pending, 3 declined, 5 hold; a postback for the same "
            "conversion with status=3 declines it.",
        ),
        Preset(
            "redtrack",
            "RedTrack",
            click="clickid",
            macros=_p(
                ("sum", "amount"),
            ),
            goal="type",
            goals={"registration": "Registration", "ftd": "FTD", "deposit": "Deposit"},
            status="status",
            statuses={e: "Approved" for e in CONVERSIONS} | {"chargeback": "Declined"},
            vocabulary=("Approved", "Pending", "Declined", "Other"),
            reversal=True,
            path_hint="https://<tracking domain>/postback",
            sources=(
                "https://help.redtrack.io/knowledgebase/kb/basic-setup-9785/conversions-12026/tracking-event-types",
                "https://docs.redtrack.io/knowledgebase/tracking-event-types/",
            ),
            unconfirmed=("sum",),
            note="`type` values are RedTrack conversion types, case-sensitive. A reversal "
            "(status=Declined) changes the conversion only with the duplicate mode 'Edit "
            "conversion with new data', which is not RedTrack's default: set it, then add "
            "chargeback to --events.",
        ),
        Preset(
            "binom",
            "Binom",
            click="cnv_id",
            macros=_p(("payout", "amount"), ("cnv_currency", "currency")),
            goal="cnv_status2",
            goals={"registration": "registration", "ftd": "ftd", "deposit": "deposit"},
            status="cnv_status",
            path_hint="https://<tracker>/click.php",
            sources=("https://docs.binom.org/postback-url.php", "https://docs.binom.org/conv-to-source.php"),
            note="Statuses are free text in Binom (none sent unless status_<event> is given); no "
            "documented status change, so no reversals.",
        ),
        Preset(
            "bemob",
            "BeMob",
            click="cid",
            macros=_p(("payout", "amount"), ("txid", "transaction_id")),
            status="status",
            statuses={e: "approved" for e in CONVERSIONS} | {"chargeback": "rejected"},
            reversal=True,
            default_events=("ftd",),
            path_hint="https://<tracking domain>/postback",
            sources=(
                "https://help.bemob.com/docs/using-postback-statuses",
                "https://docs.bemob.com/en/postback-settings-of-affiliate-network",
            ),
            note="BeMob has no event parameter, so a preset endpoint reports the FTD only by "
            "default. Statuses are mapped in BeMob ('Use conversion statuses'), off by default: "
            "enter the values sent here (approved, rejected) there, then add chargeback to "
            "--events.",
        ),
        Preset(
            "scaleo",
            "Scaleo",
            click="click_id",
            macros=_p(("amount", "amount"), ("currency", "currency"), ("transaction_id", "transaction_id")),
            goal="goal_alias",
            goals={"registration": "registration", "ftd": "ftd", "deposit": "deposit"},
            status="conv_status",
            statuses={e: "approved" for e in CONVERSIONS} | {"chargeback": "rejected"},
            vocabulary=("pending", "approved", "rejected", "hold", "trash"),
            reversal=True,
            default_events=("registration", "ftd", REVERSAL),
            path_hint="https://<workspace>/track/conv-addchange",
            sources=(
                "https://help.scaleo.io/article/484-ultimate-postbacks-add-change-conversion",
                "https://help.scaleo.io/article/483-custom-statuses-for-conversions",
            ),
            unconfirmed=("transaction_id",),
            note="Use /track/conv-addchange (adds, and changes an existing conversion): a reversal "
            "is conv_status=rejected for the same click and goal.",
        ),
    )
}


def preset_view(preset: Preset) -> dict[str, object]:
    """What `clickpath postbacks presets` and the admin API show of a preset."""
    return {
        "preset": preset.name,
        "tracker": preset.title,
        "base_url": preset.path_hint,
        "click_id": preset.click,
        "parameters": {param: "{" + macro + "}" for param, macro in preset.macros},
        "goal": preset.goal,
        "status": preset.status,
        "statuses": dict(preset.statuses),
        "reversal": preset.reversal,
        "default_events": default_events(preset.name, {}),
        "default_events_need_goal": [
            e for e in preset.default_events
            if e != REVERSAL and preset.goal is not None and _goal(preset, {}, e) is None
        ],
        "overrides": preset.overrides(),
        "note": preset.note,
        "sources": list(preset.sources),
        "unconfirmed": list(preset.unconfirmed),
    }


def preset_of(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise PresetError(f"preset: unknown {name!r}; known: {', '.join(PRESETS)}") from None


def check(name: str, base_url: str, params: Mapping[str, str], events: list[str]) -> None:
    """Refuse a preset endpoint that would send a wrong request; the message names the
    override, event or parameter at fault."""
    preset = preset_of(name)
    known = preset.overrides()
    for key, value in params.items():
        if key not in known:
            raise PresetError(f"params.{key}: {preset.name} takes no {key!r}; it takes {', '.join(known)}")
        _check_value(preset, key, value)
    if "{" in base_url or "}" in base_url:
        raise PresetError("url: a preset's base URL has no macros; the preset adds the parameters")
    parts = urlsplit(base_url)
    if parts.fragment or base_url.endswith("#"):
        raise PresetError(
            "url: a preset's base URL has no '#fragment': the parameters would follow it and"
            " never reach the tracker"
        )
    # Value-less parameters too (`?status`): a tracker may read one as the parameter, empty.
    in_base = dict(parse_qsl(parts.query, keep_blank_values=True))
    own = {preset.click, *(param for param, _ in preset.macros), *preset.fixed.values()}
    own |= {p for p in (preset.goal, preset.status) if p}
    for param in sorted(own & set(in_base)):
        fixed = [k for k, v in preset.fixed.items() if v == param]
        if not (fixed and fixed[0] not in params):  # a fixed parameter may sit in the base URL
            raise PresetError(
                f"url: the base URL already has {param!r}, which the preset sends: it would go"
                " twice (trackers differ on which one they read)"
            )
    for key, param in preset.fixed.items():
        if key not in params and param not in in_base:
            raise PresetError(
                f"params.{key}: {preset.name} needs {param!r} (--param {key}=..., or in the base URL)"
            )
    for event in events:
        if event == REVERSAL:
            if not preset.reversal:
                raise PresetError(
                    f"events: {preset.name} takes no status change, so no "
                    "chargeback (reversal) postbacks (docs/postback-presets.md)"
                )
            continue
        if preset.goal and _goal(preset, params, event) is None:
            raise PresetError(
                f"params.goal_{event}: {preset.name} needs the {preset.goal} of "
                f"{event} conversions (--param goal_{event}=...)"
            )


def _check_value(preset: Preset, key: str, value: str) -> None:
    if key == "click_id_from":
        if value not in CLICK_SOURCES:
            raise PresetError(f"params.click_id_from: {value!r} is not one of {', '.join(CLICK_SOURCES)}")
    elif key.startswith("status_") and preset.vocabulary:
        if value not in preset.vocabulary:
            raise PresetError(
                f"params.{key}: {value!r} is not one of {preset.name}'s statuses: "
                f"{', '.join(preset.vocabulary)}"
            )
    elif (key.startswith("goal_") or key in preset.fixed) and preset.numeric_goals:
        if not _NUMBER.match(value):
            raise PresetError(f"params.{key}: {preset.name} takes a number, not {value!r}")
    elif not _SLUG.match(value):
        raise PresetError(f"params.{key}: {value!r}: letters, digits, '.', '_' and '-' only, at most 64")


def default_events(name: str, params: Mapping[str, str]) -> list[str]:
    """What an endpoint with this preset subscribes when `events` is not given: the preset's
    default events (`Preset.default_events`) less a conversion whose goal id the operator must
    give and has not; the reversal (`chargeback`) only with a conversion left to reverse.
    `clickpath postbacks presets` shows this very list (with no overrides)."""
    preset = preset_of(name)
    events = [
        e for e in preset.default_events
        if e != REVERSAL and (preset.goal is None or _goal(preset, params, e) is not None)
    ]
    return [*events, REVERSAL] if REVERSAL in preset.default_events and events else events


def _goal(preset: Preset, params: Mapping[str, str], event: str) -> str | None:
    return params.get(f"goal_{event}", preset.goals.get(event))


def template(
    name: str, base_url: str, params: Mapping[str, str], event: str, reverses: str | None = None
) -> str:
    """The URL template an endpoint with this preset sends for `event`; a reversal
    (`chargeback`) names the goal of the conversion it `reverses` (ftd or deposit)."""
    preset = preset_of(name)
    click = params.get("click_id_from", "click_id")
    query: list[tuple[str, str]] = [
        *((preset.fixed[key], params[key]) for key in preset.fixed if key in params),
        (preset.click, "{" + click + "}"),
        *((param, "{" + _macro(event, macro) + "}") for param, macro in preset.macros),
    ]
    goal_event = (reverses or "ftd") if event == REVERSAL else event
    goal = _goal(preset, params, goal_event) if preset.goal else None
    if preset.goal and goal:
        query.append((preset.goal, goal))
    status = params.get(f"status_{event}", preset.statuses.get(event)) if preset.status else None
    if preset.status and status:
        query.append((preset.status, status))
    joiner = "&" if urlsplit(base_url).query else ("" if base_url.endswith("?") else "?")
    return base_url + joiner + "&".join(f"{k}={v}" for k, v in query)


def _macro(event: str, macro: str) -> str:
    """A qualified_cpa reports the CPA paid (`{payout}`) in the parameter that carries every
    other event's amount; it has no deposit amount of its own."""
    return "payout" if event == CPA and macro == "amount" else macro
