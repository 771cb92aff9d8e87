"""Every model deals out exactly the conversions and value of the converted paths with a
touch, whatever the paths; the largest-remainder allocation on its own; empty inputs."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clickpath.domain.multitouch import MODELS, ModelParams, Path, attribute
from clickpath.domain.multitouch.allocation import allocate

amounts = st.decimals(min_value=D("-500"), max_value=D("5000"), places=4, allow_nan=False)


@st.composite
def paths(draw):
    n = draw(st.integers(0, 6))
    channels = tuple(
        draw(st.lists(st.sampled_from(["a1", "a2", "a3", "a4/c1", "a4/c2"]), min_size=n, max_size=n))
    )
    ages = tuple(draw(st.lists(st.floats(0, 90 * 86_400.0), min_size=n, max_size=n)))
    converted = draw(st.booleans())
    value = draw(st.dictionaries(st.sampled_from(["EUR", "USD"]), amounts, max_size=2)) if converted else {}
    return Path(channels, ages, converted, value)


params = st.builds(
    ModelParams,
    half_life_days=st.floats(0.01, 60),
    position_first=st.decimals(D("0"), D("0.5"), places=2),
    position_last=st.decimals(D("0"), D("0.5"), places=2),
    shapley_exact_max=st.integers(1, 15),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(paths(), max_size=25), params)
def test_every_model_sums_exactly(ps, prm):
    credited = [p for p in ps if p.converted and p.channels]
    total_value: dict[str, D] = {}
    for p in credited:
        for cur, v in p.value.items():
            total_value[cur] = total_value.get(cur, D(0)) + v
    credits = attribute(ps, MODELS, prm)
    for model in MODELS:
        rows = [c for c in credits if c.model == model]
        if not credited:
            assert rows == []
            continue
        assert sum(c.conversions for c in rows) == len(credited)
        assert all(c.conversions >= 0 and c.conversions.as_tuple().exponent == -6 for c in rows)
        for cur, total in total_value.items():
            assert sum(c.value[cur] for c in rows) == total
            assert all(c.value[cur].as_tuple().exponent == -4 for c in rows)
        assert {c.channel for c in rows} >= {ch for p in credited for ch in p.channels}


def test_empty_input_and_no_converting_path_credit_nothing():
    assert attribute([], MODELS) == []
    assert attribute(iter([]), MODELS) == []
    assert attribute([Path(("a",), (0.0,), False, {})], MODELS) == []


def test_paths_with_no_touch_are_left_out():
    empty = Path((), (), True, {"EUR": D("99")})
    one = Path(("a",), (0.0,), True, {"EUR": D("1")})
    for c in attribute([empty, one, empty], MODELS):
        assert (c.channel, c.conversions, c.value) == ("a", D("1.000000"), {"EUR": D("1.0000")})


def test_paths_are_read_once_so_a_generator_works():
    gen = (Path(("a", "b"), (1.0, 0.0), True, {"EUR": D("2")}) for _ in range(3))
    credits = attribute(gen, MODELS)
    assert {c.model for c in credits} == set(MODELS)
    assert all(c.conversions == D("1.500000") for c in credits if c.model == "linear")


def test_largest_remainder_ties_go_to_the_first_name():
    thirds = {"b": 1 / 3, "a": 1 / 3, "c": 1 / 3}
    assert allocate(D("1.000000"), thirds, D("0.000001")) == {
        "a": D("0.333334"),
        "b": D("0.333333"),
        "c": D("0.333333"),
    }
    assert allocate(D("2.000000"), thirds, D("0.000001")) == {
        "a": D("0.666667"),
        "b": D("0.666667"),
        "c": D("0.666666"),
    }


def test_largest_remainder_with_negative_value_and_drift():
    # -10 EUR in thirds; float ideals that drift by a few quanta still sum exactly.
    out = allocate(D("-10.0000"), {"a": -10 / 3, "b": -10 / 3, "c": -10 / 3 + 3e-4}, D("0.0001"))
    assert sum(out.values()) == D("-10.0000")
    assert max(out.values()) - min(out.values()) <= D("0.0004")
    mixed = allocate(D("1.0000"), {"a": 3.0, "b": -2.0}, D("0.0001"))
    assert mixed == {"a": D("3.0000"), "b": D("-2.0000")}


def test_allocation_refuses_totals_it_cannot_deal_out():
    with pytest.raises(ValueError):
        allocate(D("1.00005"), {"a": 1.0}, D("0.0001"))
    with pytest.raises(ValueError):
        allocate(D("1"), {}, D("0.0001"))
    assert allocate(D("3.0000"), {"a": 0.0, "b": 0.0}, D("0.0001")) == {"a": D("1.5000"), "b": D("1.5000")}
