"""The rule-based models on paths small enough to work out by hand (exact expected credits)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from clickpath.domain.multitouch import Credit, ModelParams, Path, attribute

DAY = 86_400.0


def path(
    channels: str,
    ages_days: tuple[float, ...] | None = None,
    value: dict | None = None,
    converted: bool = True,
) -> Path:
    seq = tuple(channels.split(">")) if channels else ()
    ages = ages_days if ages_days is not None else tuple(float(len(seq) - i) for i in range(len(seq)))
    return Path(seq, tuple(a * DAY for a in ages), converted, value or {})


def table(credits: list[Credit], model: str) -> dict[str, tuple[D, dict[str, D]]]:
    return {c.channel: (c.conversions, c.value) for c in credits if c.model == model}


ABC = [path("A>B>C", (14, 7, 0), {"EUR": D("70.00")})]


def test_first_and_last_touch_take_everything():
    credits = attribute(ABC, ["first", "last"])
    assert table(credits, "first") == {
        "A": (D("1.000000"), {"EUR": D("70.0000")}),
        "B": (D("0.000000"), {"EUR": D("0.0000")}),
        "C": (D("0.000000"), {"EUR": D("0.0000")}),
    }
    assert table(credits, "last")["C"] == (D("1.000000"), {"EUR": D("70.0000")})
    assert table(credits, "last")["A"][0] == 0


def test_linear_thirds_leave_the_extra_millionth_to_the_first_name():
    # 1/3 each = 333333.33 quanta; the one left-over quantum goes to the tie's first name, A.
    t = table(attribute(ABC, ["linear"]), "linear")
    assert {c: v[0] for c, v in t.items()} == {"A": D("0.333334"), "B": D("0.333333"), "C": D("0.333333")}
    assert {c: v[1]["EUR"] for c, v in t.items()} == {
        "A": D("23.3334"),
        "B": D("23.3333"),
        "C": D("23.3333"),
    }


def test_time_decay_halves_per_half_life():
    # Ages 14, 7, 0 days with a 7-day half-life: weights 1/4, 1/2, 1, sum 7/4 -> 1/7, 2/7, 4/7.
    # Quanta 142857.14, 285714.29, 571428.57: floors sum to 999999; the largest fraction (C) gets
    # the last one. Value 70 EUR: 10, 20, 40 exactly.
    t = table(attribute(ABC, ["time_decay"]), "time_decay")
    assert {c: v[0] for c, v in t.items()} == {"A": D("0.142857"), "B": D("0.285714"), "C": D("0.571429")}
    assert {c: v[1]["EUR"] for c, v in t.items()} == {"A": D("10.0000"), "B": D("20.0000"), "C": D("40.0000")}


def test_time_decay_half_life_is_a_parameter_and_old_paths_do_not_underflow():
    # Half-life 1 day, ages 2, 1, 0 days: again 1/4, 1/2, 1. Then the same path 10,000 days
    # older: 2^(-10000) underflows, but only the ages' differences matter.
    params = ModelParams(half_life_days=1.0)
    for shift in (0, 10_000):
        p = path("A>B>C", (2 + shift, 1 + shift, shift), {"EUR": D("7")})
        t = table(attribute([p], ["time_decay"], params), "time_decay")
        assert {c: v[1]["EUR"] for c, v in t.items()} == {
            "A": D("1.0000"),
            "B": D("2.0000"),
            "C": D("4.0000"),
        }


def test_position_based_40_20_40():
    t = table(attribute(ABC, ["position"]), "position")
    assert {c: v[0] for c, v in t.items()} == {"A": D("0.400000"), "B": D("0.200000"), "C": D("0.400000")}
    assert {c: v[1]["EUR"] for c, v in t.items()} == {"A": D("28.0000"), "B": D("14.0000"), "C": D("28.0000")}


def test_position_based_middle_touches_share_the_rest_and_short_paths():
    five = table(attribute([path("A>B>C>D>E")], ["position"]), "position")
    # 40 % first, 40 % last, 20 % over three middle touches: 1/15 each (B gets the extra quantum).
    assert {c: v[0] for c, v in five.items()} == {
        "A": D("0.400000"),
        "B": D("0.066667"),
        "C": D("0.066667"),
        "D": D("0.066666"),
        "E": D("0.400000"),
    }
    one = table(attribute([path("A")], ["position"]), "position")
    assert one["A"][0] == D("1.000000")
    two = table(attribute([path("A>B")], ["position"]), "position")
    assert (two["A"][0], two["B"][0]) == (D("0.500000"), D("0.500000"))  # 40:40 -> 50/50
    skewed = ModelParams(position_first=D("0.3"), position_last=D("0.1"))
    two = table(attribute([path("A>B")], ["position"], skewed), "position")
    assert (two["A"][0], two["B"][0]) == (D("0.750000"), D("0.250000"))  # 30:10 -> 75/25
    three = table(attribute([path("A>B>C")], ["position"], skewed), "position")
    assert (three["A"][0], three["B"][0], three["C"][0]) == (D("0.300000"), D("0.600000"), D("0.100000"))


def test_a_repeated_channel_collects_each_of_its_touches():
    aba = [path("A>B>A", (2, 1, 0), {"EUR": D("3")})]
    credits = attribute(aba, ["first", "last", "linear", "position"])
    assert table(credits, "first")["A"][0] == table(credits, "last")["A"][0] == D("1.000000")
    lin = table(credits, "linear")
    assert (lin["A"], lin["B"]) == (
        (D("0.666667"), {"EUR": D("2.0000")}),
        (D("0.333333"), {"EUR": D("1.0000")}),
    )
    pos = table(credits, "position")
    assert (pos["A"][0], pos["B"][0]) == (D("0.800000"), D("0.200000"))


def test_two_paths_and_two_currencies():
    paths = [
        path("A>B", value={"EUR": D("10.00")}),
        path("B", value={"USD": D("5.00")}),
        path("A>C", converted=False),  # no credit: C only ever sits on a non-converting path
    ]
    t = table(attribute(paths, ["linear"]), "linear")
    assert t == {
        "A": (D("0.500000"), {"EUR": D("5.0000"), "USD": D("0.0000")}),
        "B": (D("1.500000"), {"EUR": D("5.0000"), "USD": D("5.0000")}),
    }


def test_models_come_in_the_order_asked_channels_by_name_and_unknown_models_fail():
    credits = attribute(ABC, ["last", "first", "last"])
    assert [(c.model, c.channel) for c in credits] == [
        ("last", "A"),
        ("last", "B"),
        ("last", "C"),
        ("first", "A"),
        ("first", "B"),
        ("first", "C"),
    ]
    with pytest.raises(ValueError, match="unknown"):
        attribute(ABC, ["u_shaped"])


def test_parameters_and_paths_are_checked():
    with pytest.raises(ValueError):
        ModelParams(half_life_days=0)
    with pytest.raises(ValueError):
        ModelParams(position_first=D("0.7"), position_last=D("0.4"))
    with pytest.raises(ValueError):
        ModelParams(shapley_exact_max=0)
    with pytest.raises(ValueError):
        Path(("A", "B"), (1.0,), True, {})
