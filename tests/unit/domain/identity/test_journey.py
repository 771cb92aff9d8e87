"""The journey's shape and redaction (domain/identity/journey.py): a brand-bound viewer sees its
own brand's accounts in full and another brand's only as linked, nowhere its player id; an admin
sees every account; the person's accounts include the first one, which has no change of its own;
money is a decimal string with its currency, times ISO 8601 UTC."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from clickpath.domain.identity.account_state import person_id_of
from clickpath.domain.identity.journey import (
    JourneyRows,
    journey_answer,
    link_kind,
    person_accounts,
)

T0 = datetime(2026, 11, 5, 12, tzinfo=UTC)
PERSON = person_id_of("acme", "brand-a:p1")


def rows() -> JourneyRows:
    """brand-a:p1, merged with brand-b:q-secret (same e-mail), possibly p2 of its own brand."""
    return JourneyRows(
        brand_id="brand-a", player_id="p1", person_id=PERSON,
        accounts=["brand-a:p1", "brand-b:q-secret"],
        links=[
            {"other_brand_id": "brand-b", "other_player_id": "q-secret", "status": "merged",
             "score": -13.29, "reasons": {"prior": -13.29, "email_hash": 0.0},
             "decided_at": T0.replace(tzinfo=None)},
            {"other_brand_id": "brand-a", "other_player_id": "p2", "status": "possible",
             "score": 3.17, "reasons": {"prior": -13.29, "device_id": 16.46}, "decided_at": T0},
        ],
        signals=[
            {"brand_id": "brand-a", "signal_id": "sg_1", "kind": "multi_account",
             "accounts": ["brand-a:p1", "brand-a:p2"], "score": 3.17,
             "reasons": {"prior": -13.29, "device_id": 16.46}, "raised_at": T0},
            {"brand_id": "brand-b", "signal_id": "sg_2", "kind": "multi_account",
             "accounts": ["brand-b:q-secret", "brand-b:q2"], "score": 3.17,
             "reasons": {}, "raised_at": T0},
        ],
        touchpoints=[{"click_id": "c1", "affiliate_id": "aff-1", "campaign_id": "camp-1",
                      "clicked_at": T0, "link": "named_click"}],
        timeline=[
            {"event_id": "e1", "event_type": "registration", "occurred_at": T0, "amount": None,
             "currency": "", "is_ftd": False},
            {"event_id": "e2", "event_type": "deposit", "occurred_at": T0,
             "amount": Decimal("50.0000"), "currency": "EUR", "is_ftd": True},
        ],
        profile={"person_id": "brand-a:p1", "brand_id": "brand-a", "player_id": "p1",
                 "kyc_status": "", "ftd_amount": Decimal("50.0000"), "ftd_currency": "EUR",
                 "deposit_sum": {"EUR": Decimal("50.0000")}, "registered_at": T0,
                 "first_deposit_at": None, "rg_active": [], "deposits": 1},
    )


def test_a_brand_bound_viewer_sees_another_brands_account_only_as_linked() -> None:
    answer = journey_answer(rows(), "brand-a")
    assert answer["accounts"] == [{"brand_id": "brand-a", "player_id": "p1"},
                                  {"brand_id": "brand-b", "linked": True}]
    merged, possible = answer["links"]
    assert merged["other"] == {"brand_id": "brand-b", "linked": True}
    assert (merged["kind"], merged["status"]) == ("deterministic", "merged")
    assert possible["other"] == {"brand_id": "brand-a", "player_id": "p2"}
    assert (possible["kind"], possible["reasons"]) == ("scored", {"prior": -13.29, "device_id": 16.46})
    assert "q-secret" not in json.dumps(answer)  # nowhere: not in signals either
    assert [s["signal_id"] for s in answer["signals"]] == ["sg_1"]


def test_an_admin_sees_every_account_in_full() -> None:
    answer = journey_answer(rows(), None)
    assert answer["accounts"][1] == {"brand_id": "brand-b", "player_id": "q-secret"}
    assert answer["links"][0]["other"] == {"brand_id": "brand-b", "player_id": "q-secret"}
    # Signals are the account's brand's, an admin's too.
    assert [s["signal_id"] for s in answer["signals"]] == ["sg_1"]


def test_money_is_a_decimal_string_with_its_currency_and_times_are_utc() -> None:
    answer = journey_answer(rows(), "brand-a")
    registration, deposit = answer["timeline"]
    assert registration == {"event_id": "e1", "event_type": "registration",
                            "occurred_at": "2026-11-05T12:00:00Z", "amount": None,
                            "currency": None, "is_ftd": False}
    assert (deposit["amount"], deposit["currency"], deposit["is_ftd"]) == ("50.00", "EUR", True)
    assert answer["links"][0]["decided_at"] == "2026-11-05T12:00:00Z"  # naive read as UTC
    profile = answer["profile"]
    assert (profile["ftd_amount"], profile["ftd_currency"]) == ("50.00", "EUR")
    assert profile["deposit_sum"] == {"EUR": "50.00"}
    assert profile["kyc_status"] is None and profile["first_deposit_at"] is None
    assert "person_id" not in profile and answer["person_id"] == PERSON
    assert answer["touchpoints"] == [{"click_id": "c1", "affiliate_id": "aff-1",
                                      "campaign_id": "camp-1", "clicked_at": "2026-11-05T12:00:00Z",
                                      "link": "named_click"}]


def test_a_player_without_profile_or_links_is_a_person_of_its_own() -> None:
    alone = JourneyRows(brand_id="brand-a", player_id="p9", person_id="pn_x",
                        accounts=["brand-a:p9"])
    answer = journey_answer(alone, "brand-a")
    assert answer["accounts"] == [{"brand_id": "brand-a", "player_id": "p9"}]
    assert (answer["links"], answer["signals"], answer["timeline"], answer["profile"]) == (
        [], [], [], None)


def test_the_persons_accounts_are_the_asking_one_first_then_in_key_order() -> None:
    # every account has a change in the merge log (`new` at least): the members are all of them
    members = ["brand-c:r1", "brand-a:p1", "brand-b:q1"]
    assert person_accounts("brand-b:q1", members) == ["brand-b:q1", "brand-a:p1", "brand-c:r1"]
    # an account the sink has not written yet is still the asking one's own
    assert person_accounts("brand-a:p9", []) == ["brand-a:p9"]


def test_a_link_is_deterministic_when_a_deterministic_identifier_made_it() -> None:
    assert link_kind({"prior": -13.29, "customer_id": 0.0, "device_id": 16.46}) == "deterministic"
    assert link_kind({"prior": -13.29, "device_id": 16.46, "ua_family": 4.17}) == "scored"
