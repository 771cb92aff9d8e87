"""Source mappings (clickpath.domain.mappings): every operation, its order, the unknown-field
policy, derivations, and every problem the start-time check reports."""

from __future__ import annotations

import pytest

from clickpath.domain.mappings import (
    MappingError,
    MappingRejection,
    SourceMapping,
    apply,
    describe,
    parse_mappings,
)

T = "2026-01-05T10:00:00Z"


def mapping(**table) -> SourceMapping:
    return parse_mappings({"src": table})["src"]


def deposit(**fields) -> dict:
    return {"event_type": "deposit", "event_id": "d-1", "occurred_at": T, "brand_id": "b",
            "source": "src", "player_id": "p-1", "transaction_id": "tx-1", "amount": "10",
            "currency": "EUR", **fields}


# --- operations ------------------------------------------------------------------------------


def test_rename() -> None:
    m = mapping(rename={"payment_method": "method", "TransactionID": "transaction_id"})
    raw = deposit(payment_method="card", TransactionID="T-9")
    del raw["transaction_id"]
    out = apply(m, raw)
    assert out["method"] == "card" and out["transaction_id"] == "T-9"
    assert "payment_method" not in out and "TransactionID" not in out


def test_rename_is_simultaneous_so_a_swap_works() -> None:
    m = mapping(rename={"a": "sub1", "sub1": "sub2"}, types={})
    out = apply(m, {"event_type": "click", "a": "x", "sub1": "y"})
    assert out["sub1"] == "x" and out["sub2"] == "y"


def test_rename_onto_a_field_the_record_has_with_another_value_is_rejected() -> None:
    m = mapping(rename={"clickid": "click_id"})
    assert apply(m, {"event_type": "click", "clickid": "c", "click_id": "c"})["click_id"] == "c"
    with pytest.raises(MappingRejection) as e:
        apply(m, {"event_type": "click", "click_id": "c", "clickid": "d"})
    assert e.value.field == "clickid" and "click_id" in e.value.reason


def test_drop_names_fields_as_the_source_sends_them() -> None:
    out = apply(mapping(drop=["AgentNote", "absent"]), deposit(AgentNote="called"))
    assert "AgentNote" not in out


def test_value_maps_apply_after_rename_and_leave_other_values_alone() -> None:
    m = mapping(rename={"type": "event_type", "category": "game_category"},
                values={"event_type": {"dep": "deposit", "bet": "wager"},
                        "game_category": {"slots": "casino"}})
    assert apply(m, {**deposit(), "event_type": None, "type": "dep"})["event_type"] == "deposit"
    assert apply(m, {"type": "bet", "category": "slots"})["game_category"] == "casino"
    assert apply(m, {"type": "bet", "category": "poker"})["game_category"] == "poker"


def test_value_maps_match_numbers_by_their_text_but_not_booleans() -> None:
    m = mapping(values={"purpose": {"1": "profiling", "True": "marketing_sms"}})
    assert apply(m, {"event_type": "consent", "purpose": 1})["purpose"] == "profiling"
    assert apply(m, {"event_type": "consent", "purpose": True})["purpose"] is True


def test_defaults_fill_absent_or_empty_fields_only() -> None:
    m = mapping(defaults={"currency": "EUR", "method": "card"})
    out = apply(m, {**deposit(method=""), "currency": "SEK"})
    assert out["currency"] == "SEK" and out["method"] == "card"
    assert apply(m, {k: v for k, v in deposit().items() if k != "currency"})["currency"] == "EUR"


def test_constants_always_replace() -> None:
    out = apply(mapping(constants={"currency": "EUR"}), deposit(currency="SEK"))
    assert out["currency"] == "EUR"


def test_type_sections_apply_after_the_sources_own_operations() -> None:
    m = mapping(rename={"event": "event_type"}, values={"event_type": {"bet": "wager"}},
                types={"wager": {"rename": {"round_id": "wager_id"}, "defaults": {"bonus_stake": "0"}},
                       "deposit": {"rename": {"round_id": "transaction_id"}}})
    out = apply(m, {"event": "bet", "round_id": "R-1"})
    assert out == {"event_type": "wager", "wager_id": "R-1", "bonus_stake": "0"}
    assert apply(m, {"event": "deposit", "round_id": "R-1"})["transaction_id"] == "R-1"


def test_derive_fills_absent_fields_from_a_template_the_same_on_every_replay() -> None:
    m = mapping(types={"chargeback": {"derive": {"chargeback_id": "cb-{transaction_id}"}}},
                derive={"event_id": "crm:{event_type}:{transaction_id}:{Status}"}, unknown="keep")
    raw = {"event_type": "chargeback", "transaction_id": "T-1", "Status": "Chargeback", "amount": 5}
    first, again = apply(m, raw), apply(m, dict(raw))
    assert first == again
    assert first["chargeback_id"] == "cb-T-1" and first["event_id"] == "crm:chargeback:T-1:Chargeback"
    assert first["attributes"] == {"Status": "Chargeback"}  # derived first, kept after
    assert apply(m, {**raw, "chargeback_id": "own"})["chargeback_id"] == "own"


def test_derive_names_the_missing_field() -> None:
    m = mapping(types={"chargeback": {"derive": {"chargeback_id": "cb-{transaction_id}"}}})
    with pytest.raises(MappingRejection) as e:
        apply(m, {"event_type": "chargeback", "amount": "5"})
    assert e.value.field == "transaction_id" and "chargeback_id" in e.value.reason


def test_derive_writes_numbers_as_json_text() -> None:
    m = mapping(derive={"event_id": "w-{wager_id}"})
    assert apply(m, {"event_type": "wager", "wager_id": 17})["event_id"] == "w-17"


def test_literal_braces_in_a_template() -> None:
    m = mapping(derive={"event_id": "{{x}}-{player_id}"})
    assert apply(m, {"event_type": "kyc", "player_id": "p"})["event_id"] == "{x}-p"


# --- unknown fields ------------------------------------------------------------------------


def test_unknown_fields_are_rejected_by_default_naming_the_field() -> None:
    with pytest.raises(MappingRejection) as e:
        apply(mapping(), deposit(round_id="R-1"))
    assert e.value.field == "round_id" and "deposit" in e.value.reason and "'src'" in e.value.reason


def test_raw_identifiers_are_known_where_the_door_takes_them() -> None:
    out = apply(mapping(), {"event_type": "registration", "email": "a@b.c", "ip": "1.2.3.4"})
    assert out["email"] == "a@b.c"
    with pytest.raises(MappingRejection):
        apply(mapping(), {"event_type": "deposit", "email": "a@b.c"})


def test_keep_moves_unknown_fields_into_attributes_as_text() -> None:
    m = mapping(unknown="keep")
    out = apply(m, deposit(psp="adyen", score=0.5, flags={"vip": True}, gone=None,
                           attributes={"own": "x"}))
    assert out["attributes"] == {"own": "x", "psp": "adyen", "score": "0.5", "flags": '{"vip": true}'}
    assert not {"psp", "score", "flags", "gone"} & set(out)


def test_keep_refuses_to_overwrite_an_attribute_the_record_sent() -> None:
    with pytest.raises(MappingRejection) as e:
        apply(mapping(unknown="keep"), deposit(psp="a", attributes={"psp": "b"}))
    assert e.value.field == "psp"


def test_an_unknown_event_type_is_left_to_the_schema() -> None:
    assert apply(mapping(), {"event_type": "nope", "x": 1}) == {"event_type": "nope", "x": 1}


# --- checked at start -------------------------------------------------------------------------


def problems(**table) -> str:
    with pytest.raises(MappingError) as e:
        parse_mappings({"src": table})
    return str(e.value)


@pytest.mark.parametrize(("table", "expected"), [
    ({"renames": {}}, "mappings.src.renames: not an operation of a mapping"),
    ({"unknown": "drop"}, "mappings.src.unknown: Input should be 'reject' or 'keep'"),
    ({"rename": {"btag": "tracking_cod"}}, "rename.btag: 'tracking_cod' is not a field of any event type"),
    ({"rename": {"a": "received_at"}}, "rename.a: received_at is set by the door"),
    ({"constants": {"attributes": "x"}}, "constants.attributes: attributes is set by the door"),
    ({"rename": {"a": "click_id", "b": "click_id"}}, "rename.b: 'a' is renamed to 'click_id' too"),
    ({"drop": ["a"], "rename": {"a": "click_id"}}, "drop: 'a' is both dropped and renamed"),
    ({"values": {"nope": {"a": "b"}}}, "values.nope: 'nope' is not a field of any event type"),
    ({"values": {"game_category": {"slots": "casinoo"}}},
     "values.game_category.slots: 'casinoo' is not a valid game_category"),
    ({"values": {"event_type": {"dep": "deposits"}}}, "values.event_type.dep: 'deposits' is not a valid"),
    ({"defaults": {"currency": "EURO"}}, "defaults.currency: 'EURO' is not a valid currency"),
    ({"defaults": {"bonus_stake": "-1"}}, "defaults.bonus_stake: '-1' is not a valid bonus_stake"),
    ({"defaults": {"currency": "EUR"}, "constants": {"currency": "EUR"}},
     "defaults.currency: also a constant"),
    ({"derive": {"wager_id": "fixed"}}, "derive.wager_id: the template names no field"),
    ({"derive": {"wager_id": "w-{a.b}"}}, "derive.wager_id: {a.b}: a placeholder is a field name only"),
    ({"derive": {"wager_id": "w-{}"}}, "derive.wager_id: a placeholder must name a field"),
    ({"derive": {"wager_id": "w-{x:>5}"}}, "derive.wager_id: {x}: a placeholder is a field name only"),
    ({"derive": {"wager_id": "w-{"}}, "derive.wager_id: not a template"),
    ({"types": {"bet": {}}}, "types.bet: not an event type; one of: bonus, chargeback"),
    ({"types": {"deposit": {"rename": {"round_id": "wager_id"}}}},
     "types.deposit.rename.round_id: 'wager_id' is not a field of an event of type deposit"),
    ({"types": {"deposit": {"values": {"event_type": {"a": "wager"}}}}},
     "types.deposit: a type's section cannot change the event type"),
    ({"types": {"kyc": {"values": {"status": {"ok": "approved"}}}}},
     "types.kyc.values.status.ok: 'approved' is not a valid status"),
    ({"constants": {"currency": ["EUR"]}}, "mappings.src.constants.currency"),
])
def test_every_start_time_problem_is_named_by_its_path(table: dict, expected: str) -> None:
    assert expected in problems(**table)


def test_every_problem_is_reported_at_once() -> None:
    text = problems(rename={"a": "nope"}, defaults={"currency": "EURO"}, types={"bet": {}})
    assert text.count("\n  ") == 3


def test_a_source_name_must_be_printable() -> None:
    with pytest.raises(MappingError, match="a source name"):
        parse_mappings({"bad\nname": {}})
    with pytest.raises(MappingError, match="must be a table of sources"):
        parse_mappings(["x"])


def test_a_value_any_type_in_scope_accepts_is_valid() -> None:
    # `status` is kyc's today; a deposit section may map it once deposits have one.
    assert parse_mappings({"s": {"values": {"status": {"ok": "verified"}}}})


def test_a_mapping_dumps_to_what_parses_back_the_same() -> None:
    m = mapping(rename={"a": "click_id"}, values={"event_type": {"c": "click"}}, unknown="keep",
                types={"wager": {"defaults": {"bonus_stake": "0"}, "derive": {"wager_id": "{x}"}}})
    again = parse_mappings({"src": m.model_dump(mode="json")})["src"]
    assert again == m


def test_describe_lists_every_operation() -> None:
    m = mapping(drop=["n"], rename={"a": "click_id"}, values={"event_type": {"c": "click"}},
                defaults={"sub1": "x"}, constants={"sub2": "y"}, derive={"sub3": "{a}"},
                types={"wager": {"defaults": {"bonus_stake": "0"}}, "kyc": {}})
    text = "\n".join(describe(m))
    for part in ("unknown fields: reject", "drop: n", "rename: a -> click_id",
                 "values of event_type: c -> click", "default: sub1 = 'x'", "constant: sub2 = 'y'",
                 "derive: sub3 = '{a}'", "[wager] default: bonus_stake = '0'"):
        assert part in text
    assert "[kyc]" not in text


def test_a_derive_template_copying_a_raw_identifier_is_a_configuration_error() -> None:
    """Issue 21 item 22: `derive` templates naming {email}/{ip} put raw data into other fields."""
    with pytest.raises(MappingError, match=r"derive.player_id: \{email\} would copy a raw email"):
        mapping(types={"registration": {"derive": {"player_id": "crm-{email}"}}})
    with pytest.raises(MappingError, match=r"\{ip\} would copy a raw ip"):
        mapping(derive={"event_id": "{ip}-{occurred_at}"})


def test_a_kept_unknown_field_holding_an_address_is_refused_at_the_door() -> None:
    from clickpath.connectors.ingress import Rejection, parse_event

    keep = {"src": mapping(unknown="keep")}
    with pytest.raises(Rejection) as e:
        parse_event(deposit(contact="ann@example.com"), pseudonym_key=b"k" * 32, source="src",
                    mappings=keep)
    assert e.value.field == "attributes.contact" and "e-mail address" in e.value.reason
