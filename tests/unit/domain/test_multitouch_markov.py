"""Markov-chain removal effect on graphs small enough to work out by hand, and the exact
removal (one inverse) against one linear solve per removed channel."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clickpath.domain.multitouch import Path, attribute
from clickpath.domain.multitouch.markov import chain_of, conversion_probability, removal_effects


def p(channels: str, converted: bool, value: dict | None = None) -> Path:
    seq = tuple(channels.split(">"))
    return Path(seq, (0.0,) * len(seq), converted, value or {})


# The classic example of the Markov-attribution literature (Anderl et al. 2016; the
# ChannelAttribution walk-through): C1>C2>C3 converts, C1 and C2>C3 do not.
# Transitions: start->C1 2/3, start->C2 1/3; C1->C2 1/2, C1->null 1/2; C2->C3 1;
# C3->conv 1/2, C3->null 1/2. P(conv) = 2/3*1/2*1*1/2 + 1/3*1*1/2 = 1/6 + 1/6 = 1/3.
# Without C1: only start->C2->C3->conv: 1/3*1/2 = 1/6, RE = 1 - (1/6)/(1/3) = 1/2.
# Without C2 or C3 every walk ends in null: RE = 1. Shares: 0.5 : 1 : 1 = 0.2, 0.4, 0.4.
CLASSIC = [p("C1>C2>C3", True, {"EUR": D("100")}), p("C1", False), p("C2>C3", False)]


def classic_chain():
    return chain_of([(path.channels, int(path.converted), int(not path.converted)) for path in CLASSIC])


def test_classic_example_conversion_probability_is_the_hand_derived_absorption():
    chain = classic_chain()
    assert conversion_probability(chain) == pytest.approx(1 / 3, abs=1e-12)
    assert conversion_probability(chain, removed="C1") == pytest.approx(1 / 6, abs=1e-12)
    assert conversion_probability(chain, removed="C2") == pytest.approx(0.0, abs=1e-12)
    assert conversion_probability(chain, removed="C3") == pytest.approx(0.0, abs=1e-12)


def test_classic_example_removal_effects_and_credits():
    effects = removal_effects(classic_chain())
    assert effects == pytest.approx({"C1": 0.5, "C2": 1.0, "C3": 1.0}, abs=1e-12)
    credits = {c.channel: c for c in attribute(CLASSIC, ["markov"])}
    assert {k: c.conversions for k, c in credits.items()} == {
        "C1": D("0.200000"),
        "C2": D("0.400000"),
        "C3": D("0.400000"),
    }
    assert {k: c.value["EUR"] for k, c in credits.items()} == {
        "C1": D("20.0000"),
        "C2": D("40.0000"),
        "C3": D("40.0000"),
    }


def test_a_cycle_is_solved_not_walked():
    # A>B>A converts, B does not. Transitions: start->A 1/2, start->B 1/2; A->B 1/2, A->conv 1/2;
    # B->A 1/2, B->null 1/2. Absorption: x_A = 1/2 + 1/2 x_B, x_B = 1/2 x_A, so x_A = 2/3,
    # x_B = 1/3, P = 1/2*2/3 + 1/2*1/3 = 1/2. Without A: B->A goes to null, P = 0, RE(A) = 1.
    # Without B: x_A = 1/2, P = 1/4, RE(B) = 1/2. Shares 2/3, 1/3.
    paths = [p("A>B>A", True), p("B", False)]
    chain = chain_of([(x.channels, int(x.converted), int(not x.converted)) for x in paths])
    assert conversion_probability(chain) == pytest.approx(0.5, abs=1e-12)
    assert conversion_probability(chain, removed="B") == pytest.approx(0.25, abs=1e-12)
    assert removal_effects(chain) == pytest.approx({"A": 1.0, "B": 0.5}, abs=1e-12)
    credits = {c.channel: c.conversions for c in attribute(paths, ["markov"])}
    assert credits == {"A": D("0.666667"), "B": D("0.333333")}


def test_a_self_transition_changes_nothing():
    once = [p("A>B", True), p("B", False), p("A", False)]
    repeated = [p("A>A>A>B", True), p("B>B", False), p("A", False)]
    assert attribute(once, ["markov"]) == attribute(repeated, ["markov"])


def test_a_channel_only_on_non_converting_paths_can_earn_markov_credit():
    # X>A does not convert, A converts: X leads into A, which converts 1/2 of the time.
    # start->A 1/2, start->X 1/2, X->A 1, A->conv 1/2, A->null 1/2: P = 1/2.
    # Without X: P = 1/4, RE(X) = 1/2; without A: P = 0, RE(A) = 1. Shares 1/3 X, 2/3 A.
    credits = {c.channel: c.conversions for c in attribute([p("X>A", False), p("A", True)], ["markov"])}
    assert credits == {"A": D("0.666667"), "X": D("0.333333")}
    # The other models name X nowhere: it is on no converting path.
    assert {c.channel for c in attribute([p("X>A", False), p("A", True)], ["linear"])} == {"A"}


sequences = st.lists(
    st.tuples(
        st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=6).map(tuple),
        st.integers(0, 5),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(sequences)
def test_removal_effects_match_one_solve_per_removed_channel(seqs):
    """RE from the fundamental matrix equals 1 - P_without_c / P solved directly."""
    chain = chain_of(seqs)
    p_all = conversion_probability(chain)
    effects = removal_effects(chain)
    for c in chain.channels:
        expected = 0.0 if p_all <= 0 else max(1 - conversion_probability(chain, removed=c) / p_all, 0.0)
        assert effects[c] == pytest.approx(expected, abs=1e-9)


def test_the_probabilities_are_exact_fractions_on_a_bigger_hand_graph():
    # Two converting paths A>C, B>C and one A>B not converting; by hand with fractions:
    # start->A 2/3, start->B 1/3; A->C 1/2, A->B 1/2; B->C 1/2, B->null 1/2; C->conv 1.
    # x_C = 1, x_B = 1/2, x_A = 1/2 + 1/2*1/2 = 3/4; P = 2/3*3/4 + 1/3*1/2 = 2/3.
    chain = chain_of([(("A", "C"), 1, 0), (("B", "C"), 1, 0), (("A", "B"), 0, 1)])
    assert Fraction(conversion_probability(chain)).limit_denominator(1000) == Fraction(2, 3)
