"""Greedy facility location: near the exhaustive optimum, lazy = plain, clear errors."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hillmix_opt import bank_value, greedy_bank


def _random_rewards(seed, n_users, n_candidates):
    """Click probabilities as a reward model gives them: users differ, actions differ."""
    rng = np.random.default_rng(seed)
    users = rng.normal(size=(n_users, 3))
    actions = rng.normal(size=(n_candidates, 3))
    logits = users @ actions.T + rng.normal(scale=0.5, size=(n_users, n_candidates)) - 2
    return 1 / (1 + np.exp(-logits)), actions


@settings(max_examples=30)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_users=st.integers(5, 60),
    n_candidates=st.integers(4, 12),
    k=st.integers(1, 4),
)
def test_greedy_is_within_five_percent_of_the_best_bank(seed, n_users, n_candidates, k):
    R, _ = _random_rewards(seed, n_users, n_candidates)
    k = min(k, n_candidates)
    greedy = bank_value(R, greedy_bank(R, k))
    best = max(bank_value(R, c) for c in itertools.combinations(range(n_candidates), k))
    assert greedy >= 0.95 * best
    assert greedy <= best + 1e-12


@settings(max_examples=30)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 15),
    diversity=st.sampled_from([0.0, 0.15, 0.6, 1.0]),
    ties=st.booleans(),
    refined=st.booleans(),
)
def test_lazy_greedy_returns_the_plain_greedy_bank(seed, k, diversity, ties, refined):
    R, E = _random_rewards(seed, 80, 40)
    if ties:  # coarse rewards: many exact ties, broken the same way
        R = np.round(R, 1)
    options = {} if refined else {"starts": 1, "swaps": False}
    lazy = greedy_bank(R, k, embeddings=E, diversity_weight=diversity, **options)
    plain = greedy_bank(R, k, embeddings=E, diversity_weight=diversity, lazy=False, **options)
    np.testing.assert_array_equal(lazy, plain)
    assert len(set(lazy.tolist())) == k


def test_fixed_candidates_come_first_and_the_rest_is_greedy():
    R, _ = _random_rewards(0, 50, 20)
    bank = greedy_bank(R, 5, fixed=[7, 3], starts=1, swaps=False)
    assert bank[:2].tolist() == [7, 3] and len(set(bank.tolist())) == 5
    # What follows is what greedy adds to the fixed pair.
    rest = bank[2:]
    for step, j in enumerate(rest):
        so_far = bank[: 2 + step]
        gains = [bank_value(R, [*so_far, c]) for c in range(20)]
        assert bank_value(R, [*so_far, j]) == pytest.approx(max(gains))


def test_diversity_steers_away_from_a_near_copy():
    # Candidate 1 is a near copy of 0 that adds a little for the first user;
    # 2 is different and adds a little less, for the second.
    R = np.array([[0.5, 0.56, 0.1], [0.3, 0.2, 0.34]])
    E = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0]])
    plain = {"starts": 1, "swaps": False}
    assert greedy_bank(R, 2, **plain).tolist() == [0, 1]
    assert greedy_bank(R, 2, embeddings=E, diversity_weight=1.0, **plain).tolist() == [0, 2]
    # A restart from the runner-up finds the best bank, {1, 2}.
    assert sorted(greedy_bank(R, 2).tolist()) == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "k must be"),
        ({"k": 4}, "k must be"),
        ({"k": 2, "diversity_weight": -0.1}, "diversity_weight"),
        ({"k": 2, "diversity_weight": 0.5}, "embeddings"),
        ({"k": 2, "fixed": [5]}, "fixed"),
        ({"k": 2, "starts": 0}, "starts"),
    ],
)
def test_bad_input_is_refused(kwargs, match):
    R = np.ones((3, 3))
    with pytest.raises(ValueError, match=match):
        greedy_bank(R, **kwargs)


def test_nan_rewards_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        greedy_bank(np.array([[0.1, np.nan]]), 1)


@pytest.mark.parametrize(
    ("embeddings", "match"),
    [
        (np.array([[0.0, np.nan], [1.0, 0.0], [0.0, 1.0]]), "NaN"),
        (np.ones(3), "embeddings must be"),
        (np.ones((2, 2)), "embeddings must be"),
    ],
)
def test_bad_embeddings_are_refused(embeddings, match):
    with pytest.raises(ValueError, match=match):
        greedy_bank(np.ones((4, 3)), 2, embeddings=embeddings, diversity_weight=0.5)


def test_fixed_must_name_columns():
    with pytest.raises(ValueError, match="fixed"):
        greedy_bank(np.ones((4, 3)), 2, fixed=[0.7])
