"""Shapley values: the axioms on random games, the exact/approximation switch, and the
data-driven path game worked out by hand."""

from __future__ import annotations

from decimal import Decimal as D
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clickpath.domain.multitouch import ModelParams, Path, attribute
from clickpath.domain.multitouch.aggregate import aggregate
from clickpath.domain.multitouch.shapley import PERMUTATIONS, normalised, shapley_shares, shapley_values

PLAYERS = "ABCDEF"


def subsets(players):
    return [frozenset(c) for r in range(len(players) + 1) for c in combinations(players, r)]


@st.composite
def games(draw, min_players=1, max_players=6):
    """Players and a random worth for every coalition (v(empty) = 0)."""
    n = draw(st.integers(min_players, max_players))
    players = PLAYERS[:n]
    worth = {s: (0.0 if not s else draw(st.floats(-10, 10, allow_nan=False))) for s in subsets(players)}
    return players, worth


@settings(max_examples=200, deadline=None)
@given(games())
def test_efficiency(game):
    players, worth = game
    phi = shapley_values(players, worth.__getitem__)
    assert sum(phi.values()) == pytest.approx(worth[frozenset(players)] - worth[frozenset()], abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(games(min_players=2))
def test_symmetry(game):
    """A and B made interchangeable (v depends on how many of them are in, not which) get the same."""
    players, base = game

    def worth(s):
        rest = s - {"A", "B"}
        k = len(s & {"A", "B"})
        return base[rest | frozenset("AB"[:k])]

    phi = shapley_values(players, worth)
    assert phi["A"] == pytest.approx(phi["B"], abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(games(min_players=2), st.floats(-5, 5, allow_nan=False))
def test_dummy(game, own):
    """A player who only ever adds its own worth gets exactly that (0 for a null player)."""
    players, base = game
    dummy = players[-1]

    def worth(s):
        return base[s - {dummy}] + (own if dummy in s else 0.0)

    phi = shapley_values(players, worth)
    assert phi[dummy] == pytest.approx(own, abs=1e-9)
    null = shapley_values(players, lambda s: base[s - {dummy}])
    assert null[dummy] == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_additivity(data):
    players, v = data.draw(games())
    w = {s: (0.0 if not s else data.draw(st.floats(-10, 10, allow_nan=False))) for s in v}
    phi_v = shapley_values(players, v.__getitem__)
    phi_w = shapley_values(players, w.__getitem__)
    phi_sum = shapley_values(players, lambda s: v[s] + w[s])
    for p in players:
        assert phi_sum[p] == pytest.approx(phi_v[p] + phi_w[p], abs=1e-9)


def majority(s):
    return 1.0 if len(s) >= 2 else 0.0


def test_exact_up_to_the_limit_then_permutation_sampling():
    # Three-player majority game: exact Shapley is 1/3 each. Sampled over PERMUTATIONS (2000,
    # not a multiple of 3) orders the pivots cannot split exactly evenly, but efficiency holds.
    exact = shapley_values("ABC", majority, exact_max=3)
    assert exact == pytest.approx({"A": 1 / 3, "B": 1 / 3, "C": 1 / 3}, abs=1e-12)
    sampled = shapley_values("ABC", majority, exact_max=2)
    assert sampled != pytest.approx(exact, abs=1e-12)
    assert sum(sampled.values()) == pytest.approx(1.0, abs=1e-12)
    assert sampled == pytest.approx(exact, abs=0.05)
    assert sampled == shapley_values("CBA", majority, exact_max=2)  # deterministic, order-free
    assert all((v * PERMUTATIONS).is_integer() for v in sampled.values())


def test_sampling_is_exact_on_an_additive_game_with_many_players():
    players = [f"p{i:02d}" for i in range(20)]  # above the default limit of 15
    own = {p: float(i) for i, p in enumerate(players)}
    phi = shapley_values(players, lambda s: sum(own[p] for p in s))
    assert phi == pytest.approx(own, abs=1e-9)


def p(channels: str, converted: bool, value: dict | None = None) -> Path:
    seq = tuple(channels.split(">"))
    return Path(seq, (0.0,) * len(seq), converted, value or {})


def test_the_path_game_uses_conversion_rates_of_exact_channel_sets():
    # Paths with set {A}: 1 of 2 convert, v(A) = 1/2; {B}: 1 of 4, v(B) = 1/4; {A,B} (either
    # order): 3 of 4, v(AB) = 3/4. For an A,B path: phi_A = 1/2 (v(A) - 0) + 1/2 (v(AB) - v(B))
    # = 1/4 + 1/4 = 1/2; phi_B = 1/2 * 1/4 + 1/2 (3/4 - 1/2) = 1/4. Shares 2/3, 1/3.
    # Credits: the A path's 1 -> A; the B path's 1 -> B; the three AB paths: A 2, B 1.
    paths = [p("A", True, {"EUR": D("6")}), p("A", False)]
    paths += [p("B", True, {"EUR": D("6")})] + [p("B", False)] * 3
    paths += [
        p("A>B", True, {"EUR": D("3")}),
        p("B>A>B", True, {"EUR": D("3")}),
        p("A>B", True),
        p("B>A", False),
    ]
    credits = {c.channel: c for c in attribute(paths, ["shapley"])}
    assert credits["A"].conversions == D("3.000000")
    assert credits["B"].conversions == D("2.000000")
    assert credits["A"].value == {"EUR": D("10.0000")}  # 6 + 2/3 * 6
    assert credits["B"].value == {"EUR": D("8.0000")}  # 6 + 1/3 * 6


def test_negative_values_are_clipped():
    # {A}: 1 of 1 converts (v = 1); {A,B}: 1 of 4 (v = 1/4). phi_B = 1/2 (v(B) - 0) +
    # 1/2 (v(AB) - v(A)) = 0 + 1/2 (1/4 - 1) < 0: clipped, so A gets the A,B path whole.
    paths = [p("A", True), p("A>B", True)] + [p("A>B", False)] * 3
    credits = {c.channel: c.conversions for c in attribute(paths, ["shapley"])}
    assert credits == {"A": D("2.000000"), "B": D("0.000000")}


def test_shares_from_shapley_values():
    # A converting path's own set is worth > 0, so by efficiency some value is positive; the
    # equal split is there for a game where none is.
    assert normalised([0.75, -0.25, 0.25]) == [0.75, 0.0, 0.25]
    assert normalised([-1.0, 0.0]) == [0.5, 0.5]


def test_many_channels_use_the_approximation_and_still_sum_exactly():
    channels = [f"c{i:02d}" for i in range(18)]
    paths = [Path(tuple(channels), (0.0,) * 18, True, {"EUR": D("1")})]
    paths += [
        Path((c,), (0.0,), i % 2 == 0, {"EUR": D("1")} if i % 2 == 0 else {}) for i, c in enumerate(channels)
    ]
    credits = attribute(paths, ["shapley"], ModelParams(shapley_exact_max=15))
    assert sum(c.conversions for c in credits) == 10
    assert sum(c.value["EUR"] for c in credits) == D("10.0000")


@pytest.mark.parametrize("exact_max", [15, 3])
def test_the_model_solves_the_same_game_as_the_public_solver(exact_max):
    """The model's bit-mask fast path against shapley_values on the worth written out."""
    paths = [p("A>B>C>D", True), p("A>B", True), p("A>B", False), p("C", True), p("C>D", False)]
    paths += [p("B>D", True), p("A>C>D", False), p("A>C>D", True), p("D", False), p("B", True)]
    stats: dict[frozenset, list[int]] = {}
    for path in paths:
        s = stats.setdefault(frozenset(path.channels), [0, 0])
        s[0] += path.converted
        s[1] += 1

    def worth(s):
        conv, n = stats.get(s, (0, 1))
        return conv / n

    agg = aggregate(paths, keep_converted=False)
    shares = shapley_shares(agg, exact_max)
    for players, got in shares.items():
        phi = shapley_values(players, worth, exact_max=exact_max)
        want = dict(zip(sorted(phi), normalised([phi[k] for k in sorted(phi)]), strict=True))
        assert got == pytest.approx(want, abs=1e-12)


def test_forty_channels_on_one_path_are_sampled_in_reasonable_time():
    channels = tuple(f"aff-{i:02d}" for i in range(40))
    paths = [Path(channels, (0.0,) * 40, True, {}), Path(channels[:20], (0.0,) * 20, True, {})]
    paths += [Path(channels[:20], (0.0,) * 20, False, {})]
    shares = shapley_shares(aggregate(paths, keep_converted=False), 15)
    big = shares[tuple(sorted(channels))]
    assert sum(big.values()) == pytest.approx(1.0, abs=1e-12)
    # v(first 20) = 1/2, v(all 40) = 1: the last 20 channels only ever add when all 40 are in.
    assert all(v > 0 for v in big.values())
