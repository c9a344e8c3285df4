"""Targeting strategies: regret, propensities, reproducibility, memory and bad input."""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from hillmix_opt import (
    BootstrapEnsembleStrategy,
    DisjointLinUCBStrategy,
    LinUCBStrategy,
    RandomStrategy,
)
from hillmix_opt.targeting._base import counter_uniforms
from hillmix_opt.targeting._disjoint import disjoint_linucb_scores
from hillmix_opt.targeting._linucb import _single_precision_suffices, linucb_scores

STRATEGIES = [
    LinUCBStrategy(pca_components=4, random_state=0),
    LinUCBStrategy(pca_components=4, policy="softmax", temperature=0.05, random_state=0),
    BootstrapEnsembleStrategy(n_heads=4, pca_components=4, random_state=0),
    BootstrapEnsembleStrategy(n_heads=4, pca_components=4, policy="softmax", random_state=0),
    DisjointLinUCBStrategy(random_state=0),
    DisjointLinUCBStrategy(policy="softmax", temperature=0.05, random_state=0),
    RandomStrategy(random_state=0),
]
IDS = [
    "linucb",
    "linucb-softmax",
    "ensemble",
    "ensemble-softmax",
    "disjoint",
    "disjoint-softmax",
    "random",
]


class LinearWorld:
    """A known linear truth: p(click | x, a) = clip(base + x_aug^T Theta phi(a), 0.01, 0.99).

    ``phi(a) = [1, embedding of a]`` with 16-dimensional embeddings, so a
    16-component PCA is a rotation and the strategies' model holds exactly
    (but for the clipping, which is rare at this scale).
    """

    def __init__(self, seed, n_actions=30, n_features=8, dim=16, scale=0.01, base=0.25):
        self.rng = np.random.default_rng(seed)
        self.embeddings = self.rng.normal(size=(n_actions, dim))
        self.ids = np.arange(100, 100 + n_actions)
        self.theta = self.rng.normal(scale=scale, size=(n_features + 1, dim + 1))
        self.base = base
        self.n_features = n_features

    @property
    def bank(self):
        return self.ids, self.embeddings

    def proba(self, X, embeddings=None):
        E = self.embeddings if embeddings is None else embeddings
        xa = np.hstack([np.ones((len(X), 1)), X])
        ph = np.hstack([np.ones((len(E), 1)), E])
        return np.clip(self.base + xa @ self.theta @ ph.T, 0.01, 0.99)

    def users(self, n):
        return self.rng.normal(size=(n, self.n_features))

    def run(self, strategy, n_users=20000, batch=500):
        """Per-user regret and clicks of a strategy learning online."""
        strategy.set_bank(self.bank)
        X, u = self.users(n_users), self.rng.random(n_users)
        regret, clicks = np.empty(n_users), np.empty(n_users)
        position = {a: j for j, a in enumerate(self.ids)}
        for start in range(0, n_users, batch):
            rows = slice(start, start + batch)
            P = self.proba(X[rows])
            ids, _ = strategy.decide(X[rows])
            p = P[np.arange(len(ids)), [position[a] for a in ids]]
            regret[rows] = P.max(axis=1) - p
            clicks[rows] = (u[rows] < p).astype(float)
            strategy.partial_fit(X[rows], ids, clicks[rows])
        return regret, clicks


def _warm(strategy, world, n=600):
    """A strategy with a bank and some learning behind it."""
    strategy = clone(strategy).set_bank(world.bank)
    X = world.users(n)
    ids, _ = strategy.decide(X)
    strategy.partial_fit(X, ids, (world.rng.random(n) < 0.3).astype(float))
    return strategy


# ------------------------------------------------------------------ learning
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_linucb_regret_is_sublinear_and_beats_random(seed):
    regret, clicks = LinearWorld(seed).run(LinUCBStrategy(random_state=seed))
    quarters = regret.reshape(4, -1).mean(axis=1)
    # Per-round regret falls quarter after quarter; the second half costs
    # well under half of the first (a linear regret would cost as much).
    assert np.all(np.diff(quarters) < 0), quarters
    assert quarters[-1] < 0.3 * quarters[0], quarters
    assert regret[10000:].sum() < 0.5 * regret[:10000].sum()
    _, random_clicks = LinearWorld(seed).run(RandomStrategy(random_state=seed))
    assert clicks.mean() > random_clicks.mean() + 0.1, (clicks.mean(), random_clicks.mean())


@pytest.mark.parametrize("seed", [0, 1])
def test_ensemble_learns_and_beats_random(seed):
    regret, clicks = LinearWorld(seed).run(BootstrapEnsembleStrategy(random_state=seed))
    quarters = regret.reshape(4, -1).mean(axis=1)
    assert quarters[-1] < 0.5 * quarters[0], quarters
    _, random_clicks = LinearWorld(seed).run(RandomStrategy(random_state=seed))
    assert clicks.mean() > random_clicks.mean() + 0.1, (clicks.mean(), random_clicks.mean())


def test_linucb_scores_match_the_reference_maths():
    world = LinearWorld(3)
    strategy = _warm(LinUCBStrategy(alpha=0.7, random_state=0), world, n=2000)
    strategy.partial_fit(world.users(5), world.ids[:5], [1.0, 0.0, 1.0, 0.0, 0.5])  # Woodbury
    X = world.users(50)
    A_inv = np.linalg.inv(strategy._A[0])
    X_aug = strategy._augmented_T(X).T
    expected = linucb_scores(X_aug, strategy._bank_phi, strategy.coef_, A_inv, 0.7)
    # Decisions score in single precision: the widths, quadratic forms with
    # some cancellation, agree to about 1e-5 of their size.
    np.testing.assert_allclose(strategy._scores(X, 0), expected, rtol=1e-4, atol=1e-6)
    mean = linucb_scores(X_aug, strategy._bank_phi, strategy.coef_, A_inv, 0.0)
    np.testing.assert_allclose(strategy.expected_reward(X), mean, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n_regions", [3, 5])
def test_scores_stay_accurate_with_collinear_user_features(n_regions):
    # One-hot columns sum to one, collinear with the intercept: the width
    # matrices are then huge in directions users never take, and in single
    # precision their quadratic forms lose to cancellation a share of a
    # width that grows with the observations (1e-4 here, 2e-2 after 200,000).
    # Such models score in double precision.
    rng = np.random.default_rng(n_regions)
    bank = (np.arange(12), rng.normal(size=(12, 6)))

    def users(n):
        return np.c_[np.eye(n_regions)[rng.integers(0, n_regions, n)], rng.normal(size=(n, 2))]

    strategy = LinUCBStrategy(pca_components=5, random_state=0).set_bank(bank)
    for _ in range(3):
        X = users(2000)
        ids, _ = strategy.decide(X)
        strategy.partial_fit(X, ids, (rng.random(2000) < 0.2) * 1.0)
    X = users(500)
    A_inv = np.linalg.inv(strategy._A[0])
    X_aug = strategy._augmented_T(X).T
    expected = linucb_scores(X_aug, strategy._bank_phi, strategy.coef_, A_inv, 1.0)
    np.testing.assert_allclose(strategy._scores(X, 0), expected, rtol=1e-7, atol=1e-9)
    # Well-conditioned models keep the single-precision path (the precision
    # is chosen when scoring, so score before reading it).
    world = LinearWorld(3)
    warm = _warm(LinUCBStrategy(random_state=0), world, n=10_000)
    warm.predict_proba(world.users(5))
    assert warm._score_dtype == np.float32


def _width_weights_of(G):
    # W[a, p] = G[a, i, k] for the pairs i <= k, off-diagonal ones twice.
    rows, cols = np.triu_indices(G.shape[-1])
    return G[:, rows, cols] * np.where(rows == cols, 1.0, 2.0)


@pytest.mark.parametrize("dx", [1, 2, 9, 41])
def test_single_precision_test_bounds_the_conditioning(dx):
    # A well-conditioned width matrix keeps single precision whatever the
    # number of features (a trace bound had refused it past 31); an
    # ill-conditioned one, or a non-finite one, does not.
    well = np.stack([np.eye(dx) * 0.01, np.diag(np.linspace(1.0, 3.0, dx))])
    assert _single_precision_suffices(_width_weights_of(well))
    ill = well.copy()
    ill[1, 0, 0] = 1e9  # a single feature cannot cancel: 1 x 1 is well conditioned
    assert _single_precision_suffices(_width_weights_of(ill)) == (dx == 1)
    broken = _width_weights_of(well)
    broken[0, 0] = np.nan
    assert not _single_precision_suffices(broken)


def test_a_strategy_pickled_before_parameter_snapshots_still_decides():
    world = LinearWorld(17)
    strategy = LinUCBStrategy(random_state=0).set_bank(world.bank)
    X = world.users(40)
    strategy.partial_fit(X, strategy.decide(X)[0], np.ones(40))
    old = pickle.loads(pickle.dumps(strategy))
    del old._checked_parameters  # as pickled by an earlier hillmix
    np.testing.assert_array_equal(old.decide(X)[0], strategy.decide(X)[0])


@pytest.mark.parametrize("Strategy", [LinUCBStrategy, DisjointLinUCBStrategy])
def test_a_strategy_pickled_before_kept_scaling_bounds_still_decides(Strategy):
    world = LinearWorld(18)
    strategy = Strategy(random_state=0).set_bank(world.bank)
    X = world.users(40)
    strategy.partial_fit(X, strategy.decide(X)[0], np.ones(40))
    old = pickle.loads(pickle.dumps(strategy))
    del old._scaling_bounds  # as pickled by an earlier hillmix
    # Ordinary users and users far beyond single precision's range.
    users = np.vstack([world.users(30), 1e30 * world.users(2)])
    np.testing.assert_array_equal(old.decide(users)[0], strategy.decide(users)[0])


def test_actions_with_the_same_embedding_tie_exactly():
    # Single-precision products can round one row differently at another
    # place in the bank; the twins must still score the same.
    world = LinearWorld(14)
    for half in (3, 7, 16):
        emb = world.embeddings[:half]
        bank = (np.arange(2 * half + 1), np.vstack([emb, emb, world.embeddings[-1:]]))
        strategy = LinUCBStrategy(pca_components=6, random_state=0).set_bank(bank)
        X = world.users(600)
        ids = world.rng.choice(bank[0], 600)
        strategy.partial_fit(X, ids, (world.rng.random(600) < 0.3) * 1.0)
        scores = strategy._scores(world.users(1000), 0)
        np.testing.assert_array_equal(scores[:, :half], scores[:, half : 2 * half])
        proba = strategy.predict_proba(world.users(1000))
        np.testing.assert_array_equal(proba[:, :half], proba[:, half : 2 * half])


def test_a_new_alpha_applies_to_the_next_decisions():
    world = LinearWorld(3)
    strategy = _warm(LinUCBStrategy(alpha=2.0, random_state=0), world, n=500)
    X = world.users(20)
    strategy.predict_proba(X)  # the model is refreshed with alpha=2
    strategy.set_params(alpha=0.0)
    np.testing.assert_allclose(
        strategy._scores(X, 0), strategy.expected_reward(X), rtol=1e-5, atol=1e-6
    )


def test_small_batches_update_like_one_large_batch():
    # Small batches go through Woodbury's identity, large ones refactorise.
    world = LinearWorld(4)
    X, ids = world.users(200), world.rng.choice(world.ids, 200)
    r = (world.rng.random(200) < 0.4).astype(float)
    # The first batch fixes the users' standardisation: the same for both.
    one = LinUCBStrategy(random_state=0).set_bank(world.bank).partial_fit(X[:50], ids[:50], r[:50])
    many = copy.deepcopy(one)
    one.partial_fit(X[50:], ids[50:], r[50:])
    for start in range(50, 200, 5):
        many.partial_fit(X[start : start + 5], ids[start : start + 5], r[start : start + 5])
    np.testing.assert_allclose(many.coef_, one.coef_, rtol=1e-8, atol=1e-10)
    Xt = world.users(20)
    np.testing.assert_allclose(many.predict_proba(Xt), one.predict_proba(Xt), atol=1e-12)
    np.testing.assert_allclose(many._A_inv[0], np.linalg.inv(one._A[0]), atol=1e-9)


def test_new_actions_inherit_what_similar_actions_taught():
    # One model shared through the embeddings: actions never tried get
    # estimates that already rank them close to the truth.
    world = LinearWorld(5, n_actions=40, dim=4, scale=0.03)
    strategy = LinUCBStrategy(random_state=0)
    strategy.set_bank((world.ids[:20], world.embeddings[:20]))
    X = world.users(6000)
    ids = world.rng.choice(world.ids[:20], 6000)  # a uniform log
    truth = world.proba(X)
    p = truth[np.arange(len(ids)), ids - 100]
    strategy.partial_fit(X, ids, (world.rng.random(len(ids)) < p).astype(float))
    strategy.set_bank(world.bank)
    Xt = world.users(500)
    estimate = strategy.expected_reward(Xt)[:, 20:]
    assert np.corrcoef(estimate.ravel(), world.proba(Xt)[:, 20:].ravel())[0, 1] > 0.8


# ------------------------------------------------------- one model per action
def _naive_per_arm(batches, ids, ridge):
    """Each action's ridge regression, user by user, in the first batch's standardisation."""
    first = batches[0][0]
    mean, scale = first.mean(axis=0), first.std(axis=0)
    dx = first.shape[1] + 1
    A = {a: ridge * np.eye(dx) for a in ids}
    b = {a: np.zeros(dx) for a in ids}
    for X, actions, rewards in batches:
        for x, a, r in zip(X, actions, rewards, strict=True):
            z = np.r_[1.0, (x - mean) / scale]
            A[a] += np.outer(z, z)
            b[a] += r * z
    coef = np.array([np.linalg.solve(A[a], b[a]) for a in ids])
    A_inv = np.array([np.linalg.inv(A[a]) for a in ids])
    return coef, A_inv, lambda X: np.c_[np.ones(len(X)), (X - mean) / scale]


def test_disjoint_matches_a_naive_per_arm_ridge():
    # Batches small and large take the two ways of summing per action.
    rng = np.random.default_rng(20)
    ids = np.array([3, 8, 11, 20, 31])
    strategy = DisjointLinUCBStrategy(alpha=0.8, ridge=2.0, random_state=0)
    strategy.set_bank((ids, rng.normal(size=(5, 6))))
    batches = []
    for n in (7, 20, 33, 400):
        X = rng.normal(loc=1.0, scale=2.0, size=(n, 3))
        actions = rng.choice(ids[:4], n)  # the last action is never tried
        rewards = rng.random(n)
        strategy.partial_fit(X, actions, rewards)
        batches.append((X, actions, rewards))
    coef, A_inv, augment = _naive_per_arm(batches, ids, ridge=2.0)
    np.testing.assert_allclose(strategy.coef_, coef, rtol=1e-10, atol=1e-12)
    assert np.all(strategy.coef_[-1] == 0.0)
    X = rng.normal(loc=1.0, scale=2.0, size=(50, 3))
    np.testing.assert_allclose(strategy.expected_reward(X), augment(X) @ coef.T, rtol=1e-10)
    # The bounds by hand, and the reference maths, agree with the scores
    # (single precision: about 1e-6 of a score here).
    Z = augment(X)
    by_hand = Z @ coef.T + 0.8 * np.sqrt(np.einsum("ni,aij,nj->na", Z, A_inv, Z))
    np.testing.assert_allclose(disjoint_linucb_scores(Z, coef, A_inv, 0.8), by_hand, rtol=1e-12)
    assert strategy._score_dtype == np.float32
    np.testing.assert_allclose(strategy._scores(X, 0), by_hand, rtol=1e-5, atol=1e-6)
    # Epsilon-greedy on those bounds, wherever the best is clear.
    ranked = np.sort(by_hand, axis=1)
    clear = ranked[:, -1] - ranked[:, -2] > 1e-3
    expected = np.full((50, 5), 0.05 / 5)
    expected[np.arange(50), by_hand.argmax(axis=1)] += 0.95
    assert clear.sum() > 40
    np.testing.assert_allclose(strategy.predict_proba(X)[clear], expected[clear], rtol=1e-12)


def test_disjoint_learns_and_beats_random():
    # The linear world's truth is linear in the user features for each
    # action: the per-action model is right for it.
    regret, clicks = LinearWorld(0).run(DisjointLinUCBStrategy(random_state=0))
    quarters = regret.reshape(4, -1).mean(axis=1)
    assert np.all(np.diff(quarters) < 0), quarters
    assert quarters[-1] < 0.5 * quarters[0], quarters
    _, random_clicks = LinearWorld(0).run(RandomStrategy(random_state=0))
    assert clicks.mean() > random_clicks.mean() + 0.1, (clicks.mean(), random_clicks.mean())


def test_disjoint_small_batches_update_like_one_large_batch():
    world = LinearWorld(21)
    X, ids = world.users(600), world.rng.choice(world.ids, 600)
    r = (world.rng.random(600) < 0.4).astype(float)
    one = DisjointLinUCBStrategy(random_state=0).set_bank(world.bank)
    one.partial_fit(X[:50], ids[:50], r[:50])  # fixes the standardisation for both
    many = copy.deepcopy(one)
    one.partial_fit(X[50:], ids[50:], r[50:])
    for start in range(50, 600, 9):
        many.partial_fit(X[start : start + 9], ids[start : start + 9], r[start : start + 9])
    np.testing.assert_allclose(many.coef_, one.coef_, rtol=1e-9, atol=1e-12)
    Xt = world.users(30)
    np.testing.assert_allclose(many.predict_proba(Xt), one.predict_proba(Xt), atol=1e-12)
    log = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    log["action_id"], log["reward"] = ids, r
    fitted = DisjointLinUCBStrategy(random_state=0).fit(log, world.bank)
    online = DisjointLinUCBStrategy(random_state=0).set_bank(world.bank).partial_fit(X, ids, r)
    np.testing.assert_allclose(fitted.coef_, online.coef_, rtol=1e-12, atol=1e-14)


def test_disjoint_keeps_the_models_of_kept_actions_and_starts_new_ones_fresh():
    world = LinearWorld(22)
    strategy = _warm(DisjointLinUCBStrategy(random_state=0), world, n=3000)
    X = world.users(40)
    coef = dict(zip(world.ids, strategy.coef_, strict=True))
    scores = dict(zip(world.ids, strategy._scores(X, 0).T, strict=True))
    kept, new = world.ids[10:], np.arange(900, 905)
    strategy.set_bank((np.r_[kept, new], np.vstack([world.embeddings[10:], world.embeddings[:5]])))
    np.testing.assert_array_equal(strategy.coef_[: kept.size], [coef[a] for a in kept])
    # Scores to single-precision rounding: a row of a product rounds with its place.
    kept_scores = strategy._scores(X, 0)[:, : kept.size].T
    np.testing.assert_allclose(kept_scores, [scores[a] for a in kept], rtol=1e-6)
    # New actions start from the prior, whatever their embeddings resemble:
    # no estimate, and the same (wide) bound, so they tie exactly.
    assert np.all(strategy.coef_[kept.size :] == 0.0)
    proba = strategy.predict_proba(X)[:, kept.size :]
    np.testing.assert_array_equal(proba, proba[:, :1].repeat(5, axis=1))
    Xb = world.users(500)
    ids, _ = strategy.decide(Xb)
    strategy.partial_fit(Xb, ids, (world.rng.random(500) < 0.3).astype(float))
    # Actions that left find their models as they left them.
    strategy.set_bank(world.bank)
    np.testing.assert_array_equal(strategy.coef_[:10], [coef[a] for a in world.ids[:10]])


def test_disjoint_untried_actions_tie_exactly_and_share_the_greedy_draw():
    world = LinearWorld(23, n_actions=9)
    strategy = DisjointLinUCBStrategy(epsilon=0.1, random_state=0).set_bank(world.bank)
    X = world.users(3000)
    proba = strategy.predict_proba(X)
    np.testing.assert_array_equal(proba, np.full((3000, 9), 1 / 9))
    counts = np.bincount(np.searchsorted(world.ids, strategy.decide(X)[0]), minlength=9)
    assert np.all(np.abs(counts - 3000 / 9) < 5 * np.sqrt(3000 / 9))
    # Some tried, the rest untried: the untried still tie among themselves.
    strategy.partial_fit(X[:200], world.ids[:3].repeat([50, 50, 100]), np.zeros(200))
    scores = strategy._scores(world.users(500), 0)
    np.testing.assert_array_equal(scores[:, 3:], scores[:, 3:4].repeat(6, axis=1))


@pytest.mark.parametrize("n_regions", [3, 5])
def test_disjoint_scores_in_double_precision_when_single_would_lose_widths(n_regions):
    # One-hot columns sum to one, collinear with the intercept: each action's
    # A is then ill-conditioned, and its widths are scored in double precision.
    rng = np.random.default_rng(n_regions)
    bank = (np.arange(6), rng.normal(size=(6, 3)))

    def users(n):
        return np.c_[np.eye(n_regions)[rng.integers(0, n_regions, n)], rng.normal(size=(n, 2))]

    strategy = DisjointLinUCBStrategy(random_state=0).set_bank(bank)
    X = users(6000)
    strategy.partial_fit(X, rng.integers(0, 6, 6000), (rng.random(6000) < 0.2) * 1.0)
    Xt = users(300)
    Z = strategy._augmented_T(Xt).T
    A = strategy._xx[:6] + np.eye(Z.shape[1])
    expected = disjoint_linucb_scores(Z, strategy.coef_, np.linalg.inv(A), 1.0)
    np.testing.assert_allclose(strategy._scores(Xt, 0), expected, rtol=1e-7, atol=1e-9)
    assert strategy._score_dtype == np.float64
    # Well-conditioned users keep single precision.
    world = LinearWorld(3)
    warm = _warm(DisjointLinUCBStrategy(random_state=0), world, n=2000)
    warm.predict_proba(world.users(5))
    assert warm._score_dtype == np.float32


# --------------------------------------------------------------- propensities
@pytest.mark.parametrize("strategy", STRATEGIES, ids=IDS)
def test_decide_draws_from_predict_proba(strategy):
    world = LinearWorld(6, n_actions=7, dim=6)
    strategy = _warm(strategy, world)
    X = world.users(4000)
    proba = strategy.predict_proba(X)
    ids, propensities = strategy.decide(X)
    columns = np.searchsorted(strategy.classes_, ids)
    np.testing.assert_array_equal(propensities, proba[np.arange(len(ids)), columns])
    # The draws follow the propensities: observed vs expected counts.
    expected, observed = proba.sum(axis=0), np.bincount(columns, minlength=proba.shape[1])
    assert np.all(np.abs(observed - expected) < 5 * np.sqrt(expected) + 5)
    assert strategy.n_decisions_ == 600 + 4000
    assert ids.dtype == np.int64 and np.isin(ids, world.ids).all()
    # predict is a draw too: decide without the propensities.
    assert np.isin(strategy.predict(X[:5]), world.ids).all() and strategy.n_decisions_ == 4605


@given(
    n_actions=st.integers(1, 12),
    n_features=st.integers(1, 5),
    dim=st.integers(1, 6),
    n_users=st.integers(1, 40),
    which=st.sampled_from(IDS),
    epsilon=st.floats(1e-3, 1.0),
    temperature=st.floats(1e-3, 10.0),
    seed=st.integers(0, 2**16),
)
def test_propensities_are_valid_for_any_bank_and_users(
    n_actions, n_features, dim, n_users, which, epsilon, temperature, seed
):
    rng = np.random.default_rng(seed)
    strategy = clone(STRATEGIES[IDS.index(which)])
    if "random" not in which:
        strategy.set_params(epsilon=epsilon, temperature=temperature)
    strategy.set_bank((rng.permutation(50)[:n_actions], rng.normal(size=(n_actions, dim))))
    for _ in range(2):  # cold, then after learning
        X = rng.normal(scale=100.0, size=(n_users, n_features))
        proba = strategy.predict_proba(X)
        assert proba.shape == (n_users, n_actions)
        assert np.all(proba > 0) and np.allclose(proba.sum(axis=1), 1.0)
        ids, propensities = strategy.decide(X)
        assert np.all(propensities > 0) and np.all(propensities <= 1)
        strategy.partial_fit(X, ids, rng.random(n_users))


def test_ensemble_propensity_is_the_share_of_heads_choosing_the_action():
    world = LinearWorld(7, n_actions=9, dim=5)
    strategy = _warm(BootstrapEnsembleStrategy(n_heads=6, epsilon=0.1, random_state=0), world)
    X = world.users(30)
    scores = strategy._scores(X, 0)  # (users, heads, actions)
    best = scores.argmax(axis=2)
    share = np.stack([(best == a).mean(axis=1) for a in range(9)], axis=1)
    np.testing.assert_allclose(strategy.predict_proba(X), 0.1 / 9 + 0.9 * share, atol=1e-12)


def _exact_best(strategy, X):
    """Each user's best action by LinUCB's reference maths in double precision.

    The UCB is positively homogeneous in ``x_aug``: users are scaled by a
    power of two to entries of order one first, which changes no ranking.
    """
    k = np.ceil(strategy._log2_user_bound(X, 1.0))
    X_aug = strategy._scaled_augmented(X, k)
    strategy._refresh()
    A_inv = np.linalg.inv(strategy._A[0])
    alpha = strategy.alpha
    return linucb_scores(X_aug, strategy._bank_phi, strategy.coef_, A_inv, alpha).argmax(axis=1)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=IDS)
@pytest.mark.parametrize("warm", [False, True])
def test_users_with_huge_features_get_valid_propensities(strategy, warm):
    # Scores of users with features from about 1e19 overflowed single
    # precision: NaN probabilities, infinite propensities, and ties where
    # there were none; from about 1e154 double precision overflows too.
    world = LinearWorld(18, n_actions=6, dim=5, n_features=4)
    base = _warm(strategy, world) if warm else clone(strategy).set_bank(world.bank)
    magnitudes = [1e10, 1e19, 1e20, 1e40, 1e160, 1e300, 1.7e308]
    X = np.vstack(
        [np.full((1, 4), 1e20)]
        + [m * np.sign(world.users(3)) for m in magnitudes]
        + [[[1.7e308, -1.7e308, 1e-300, 0.0]]]
    )
    probed = copy.deepcopy(base)
    proba = probed.predict_proba(X)
    assert np.all(proba > 0) and np.allclose(proba.sum(axis=1), 1.0), proba
    ids, propensities = copy.deepcopy(base).decide(X)
    columns = np.searchsorted(base.classes_, ids)
    np.testing.assert_array_equal(propensities, proba[np.arange(len(X)), columns])
    if isinstance(base, LinUCBStrategy) and base.policy == "epsilon_greedy":
        # The greedy action is the exactly best one: no spurious ties.
        best = _exact_best(probed, X)
        assert np.all(proba[np.arange(len(X)), best] > 1 - base.epsilon), proba
    # Huge users change neither their neighbours' decisions nor their own
    # with the batching.
    mixed = world.users(400)
    mixed[::9] = X[np.arange(len(mixed[::9])) % len(X)]
    plain = mixed.copy()
    plain[::9] = 0.0
    normal = np.ones(400, dtype=bool)
    normal[::9] = False
    np.testing.assert_array_equal(
        copy.deepcopy(base).predict_proba(mixed)[normal],
        copy.deepcopy(base).predict_proba(plain)[normal],
    )
    one = copy.deepcopy(base).decide(mixed)
    split = copy.deepcopy(base)
    parts = [split.decide(mixed[i : i + 7]) for i in range(0, 400, 7)]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), one[0])
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), one[1])


def test_the_issue_users_of_1e20_get_the_exactly_best_action():
    rng = np.random.default_rng(0)
    bank = (np.arange(5), rng.normal(size=(5, 6)))
    strategy = LinUCBStrategy(random_state=0).set_bank(bank)
    for value in (1e19, 1e20):
        X = np.full((2, 4), value)
        proba = strategy.predict_proba(X)
        assert np.all(proba > 0) and np.allclose(proba.sum(axis=1), 1.0)
        best = _exact_best(strategy, X)
        np.testing.assert_allclose(proba[np.arange(2), best], 1 - 0.05 + 0.05 / 5)
        assert np.all(np.isfinite(strategy.decide(X)[1]))


@pytest.mark.parametrize(
    "cls, params",
    [
        (LinUCBStrategy, {"alpha": 1e300}),
        (LinUCBStrategy, {"ridge": 1e-300}),
        (BootstrapEnsembleStrategy, {"ridge": 1e-300}),
        (BootstrapEnsembleStrategy, {"prior_scale": 1e308}),
    ],
)
def test_parameters_that_overflow_the_model_are_refused(cls, params):
    # alpha=1e300 raised a bare OverflowError at the first decision;
    # ridge=1e-300 left the ensemble's system singular (LinAlgError).
    world = LinearWorld(19, n_actions=5, dim=4)
    name = next(iter(params))
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        cls(random_state=0, **params).set_bank(world.bank)
    strategy = cls(random_state=0).set_bank(world.bank)
    X = world.users(3)
    strategy.partial_fit(X, world.ids[:3], [1.0, 0.0, 1.0])
    strategy.set_params(**params)
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        strategy.predict_proba(X)


@pytest.mark.parametrize("cls", [LinUCBStrategy, BootstrapEnsembleStrategy, RandomStrategy])
def test_users_too_large_to_learn_from_are_refused_before_any_change(cls):
    # Learning sums squares of the features: 1e160 overflowed them and left
    # every later score NaN.
    world = LinearWorld(20, n_actions=5, dim=4)
    strategy = cls(random_state=0).set_bank(world.bank)
    X = world.users(4)
    X[2, 1] = 1e160
    with pytest.raises(ValueError, match=r"X_users has features up to 1e\+160"):
        strategy.partial_fit(X, world.ids[:4], [1.0, 0.0, 1.0, 0.0])
    log = pd.DataFrame(X, columns=[f"x{i}" for i in range(8)])
    log["action_id"], log["reward"] = world.ids[:4], 1.0
    with pytest.raises(ValueError, match=r"observations' features has features up to 1e\+160"):
        strategy.fit(log)
    assert not hasattr(strategy, "n_features_in_")
    first = world.users(50)
    first[:, 0] *= 1e-90  # the first users learnt from fix a tiny scale
    strategy.partial_fit(first, world.ids[np.arange(50) % 5], np.ones(50))
    state = pickle.dumps(strategy)
    X = world.users(4)
    X[0, 0] = 1e20  # within bounds raw, 1e110 standard deviations from the mean
    with pytest.raises(ValueError, match="standard deviations"):
        strategy.partial_fit(X, world.ids[:4], [1.0, 0.0, 1.0, 0.0])
    assert pickle.dumps(strategy) == state
    assert np.all(np.isfinite(strategy.predict_proba(X)))


def test_epsilon_greedy_splits_exact_ties():
    # Before any learning, duplicated embeddings give exactly equal scores.
    E = np.repeat(np.eye(3), 2, axis=0)
    strategy = LinUCBStrategy(use_pca=False, epsilon=0.3, random_state=0).set_bank(
        (np.arange(6), E)
    )
    proba = strategy.predict_proba(np.zeros((1, 2)))
    assert np.allclose(proba[0], 0.05 + 0.7 / 6)
    strategy = LinUCBStrategy(use_pca=False, epsilon=0.3, random_state=0)
    strategy.set_bank((np.arange(3), np.array([[2.0], [2.0], [1.0]])))
    proba = strategy.predict_proba(np.ones((1, 2)))
    np.testing.assert_allclose(proba[0], [0.1 + 0.35, 0.1 + 0.35, 0.1])
    ids, _ = strategy.decide(np.ones((20000, 2)))
    counts = np.bincount(ids, minlength=3) / 20000
    np.testing.assert_allclose(counts, [0.45, 0.45, 0.1], atol=0.02)


# ----------------------------------------------------------- reproducibility
@pytest.mark.parametrize("strategy", STRATEGIES, ids=IDS)
@pytest.mark.parametrize("warm", [False, True])
def test_same_seed_same_decisions_whatever_the_batch_size(strategy, warm):
    world = LinearWorld(8)
    base = _warm(strategy, world) if warm else clone(strategy).set_bank(world.bank)
    X = world.users(1000)
    one = copy.deepcopy(base).decide(X)
    for size in (100, 7):
        split = copy.deepcopy(base)
        parts = [split.decide(X[i : i + size]) for i in range(0, 1000, size)]
        np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), one[0])
        np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), one[1])
    # A clone with the same seed replays the run bit for bit.
    again = _warm(strategy, LinearWorld(8)) if warm else clone(strategy).set_bank(world.bank)
    np.testing.assert_array_equal(again.decide(X)[0], one[0])


def test_the_decision_stream_is_counter_based():
    strategy = RandomStrategy(random_state=5).set_bank((np.arange(3), np.eye(3)))
    strategy.decide(np.zeros((7, 2)))
    for start, n in [(7, 5), (3, 9), (12, 1), (0, 6)]:  # in step, then repositioned
        np.testing.assert_array_equal(
            strategy._decision_uniforms(start, n), counter_uniforms(5, 0, start, n)
        )


def test_bootstrap_weights_do_not_depend_on_the_batches():
    world = LinearWorld(9)
    X, ids = world.users(400), world.rng.choice(world.ids, 400)
    r = (world.rng.random(400) < 0.3).astype(float)
    make = BootstrapEnsembleStrategy(n_heads=5, random_state=3).set_bank
    one = make(world.bank).partial_fit(X, ids, r)
    split = make(world.bank)
    for start in range(0, 400, 100):
        split.partial_fit(X[start : start + 100], ids[start : start + 100], r[start : start + 100])
    np.testing.assert_allclose(split.coef_, one.coef_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=IDS)
def test_pickle_and_clone(strategy):
    world = LinearWorld(10)
    fitted = _warm(strategy, world)
    X = world.users(50)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.decide(X)[0], fitted.decide(X)[0])
    fresh = clone(fitted)
    assert fresh.get_params() == fitted.get_params()
    assert not hasattr(fresh, "classes_")


# -------------------------------------------------------------- bank changes
def test_knowledge_survives_a_bank_change():
    world = LinearWorld(11)
    strategy = _warm(LinUCBStrategy(random_state=0), world, n=3000)
    X = world.users(40)
    before = strategy.expected_reward(X)[:, -1]
    stats_before = strategy.action_stats().set_index("action_id").loc[world.ids[-1]]
    strategy.set_bank((world.ids[:-1], world.embeddings[:-1]))  # the last action leaves
    assert world.ids[-1] not in strategy.classes_
    np.testing.assert_allclose(strategy.set_bank(world.bank).expected_reward(X)[:, -1], before)
    # It keeps its statistics while away, as the model learns from the others.
    strategy.set_bank((world.ids[:-1], world.embeddings[:-1]))
    Xb = world.users(500)
    ids, _ = strategy.decide(Xb)
    strategy.partial_fit(Xb, ids, (world.rng.random(500) < 0.3).astype(float))
    strategy.set_bank(world.bank)
    stats = strategy.action_stats().set_index("action_id")
    assert stats.loc[world.ids[-1], "n_observations"] == stats_before["n_observations"]
    assert stats.loc[world.ids[-1], "mean_reward"] == stats_before["mean_reward"]
    assert stats["n_observations"].sum() == 3500
    # An action that was never in the current bank can still be learnt from.
    strategy.set_bank((world.ids[:5], world.embeddings[:5]))
    strategy.partial_fit(X[:2], world.ids[-2:], [1.0, 0.0])


@pytest.mark.parametrize("cls", [LinUCBStrategy, BootstrapEnsembleStrategy])
def test_refit_pca_rebuilds_the_statistics_exactly(cls):
    world = LinearWorld(12)
    strategy = _warm(cls(pca_components=5, random_state=0), world)
    A, b = strategy._A.copy(), strategy._b.copy()
    # Refitting on the same embeddings gives the same projection and model.
    strategy.set_bank(world.bank, refit_pca=True)
    np.testing.assert_allclose(strategy._A, A, atol=1e-9)
    np.testing.assert_allclose(strategy._b, b, atol=1e-9)
    # New embeddings move the projection; the model is rebuilt from memory.
    extra = (np.arange(500, 510), world.rng.normal(size=(10, 16)))
    strategy.set_bank(extra, refit_pca=True)
    assert strategy.pca_mean_.shape == (16,) and strategy.n_action_features_ == 6
    assert np.isfinite(strategy.predict_proba(world.users(5))).all()
    ids = np.concatenate([world.ids, extra[0]])
    rebuilt = np.einsum(
        "ahik,aj,al->hijkl", strategy._xx[: ids.size], *[strategy._phi_mem[: ids.size]] * 2
    )
    d = strategy._A.shape[1]
    ridge = strategy.ridge * np.eye(d)
    np.testing.assert_allclose(strategy._A, ridge + rebuilt.reshape(-1, d, d), atol=1e-8)


def test_fit_warm_starts_from_a_log():
    world = LinearWorld(13)
    X = world.users(800)
    ids = world.rng.choice(world.ids, 800)
    reward = (world.rng.random(800) < 0.3).astype(float)
    log = pd.DataFrame(X, columns=[f"f{i}" for i in range(8)])
    log["action_id"], log["reward"], log["propensity"] = ids, reward, 1 / 30
    log["user_id"] = np.arange(800)
    fitted = LinUCBStrategy(random_state=0).fit(log, world.bank)
    online = LinUCBStrategy(random_state=0).set_bank(world.bank).partial_fit(X, ids, reward)
    np.testing.assert_allclose(fitted.coef_, online.coef_, rtol=1e-10, atol=1e-12)
    assert list(fitted.feature_names_in_) == [f"f{i}" for i in range(8)]
    assert fitted.n_observations_ == 800 and fitted.n_decisions_ == 0
    # fit forgets: a second fit on a part of the log starts afresh.
    fitted.decide(X[:10])
    refitted = fitted.fit(log.iloc[:100])
    assert refitted.n_observations_ == 100 and refitted.n_decisions_ == 0
    np.testing.assert_array_equal(refitted.classes_, world.ids)
    with pytest.raises(ValueError, match=r"columns \['f0'"):
        refitted.predict_proba(log[[f"f{i}" for i in range(8)]].iloc[:, ::-1])


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "cls", [LinUCBStrategy, BootstrapEnsembleStrategy, DisjointLinUCBStrategy, RandomStrategy]
)
def test_bad_banks_are_refused(cls):
    strategy = cls(random_state=0)
    with pytest.raises(ValueError, match="empty bank"):
        strategy.set_bank((np.array([], dtype=int), np.empty((0, 4))))
    with pytest.raises(TypeError, match="action bank"):
        strategy.set_bank([1, 2, 3])
    with pytest.raises(ValueError, match="duplicate ids"):
        strategy.set_bank((np.array([1, 1]), np.zeros((2, 4))))
    with pytest.raises(ValueError, match="NaN"):
        strategy.set_bank((np.array([1, 2]), np.array([[0.0, np.nan], [1.0, 2.0]])))
    # Ids beyond int64 (unsigned 64-bit hashes, say) would wrap to other ids.
    with pytest.raises(ValueError, match="must fit in int64"):
        strategy.set_bank((np.array([2**63 + 5, 1], dtype=np.uint64), np.eye(2)))
    with pytest.raises(ValueError, match="must fit in int64"):
        strategy.set_bank((np.array([1e19, 2e19]), np.eye(2)))
    with pytest.raises(NotFittedError, match="set_bank"):
        strategy.decide(np.zeros((2, 3)))
    strategy.set_bank((np.array([1, 2, 3]), np.eye(3, 4)))
    with pytest.raises(ValueError, match=r"has 5 features.*have 4"):
        strategy.set_bank((np.array([4]), np.ones((1, 5))))
    with pytest.raises(ValueError, match=r"ids \[2\] were given before with other embeddings"):
        strategy.set_bank((np.array([2]), np.ones((1, 4))))
    np.testing.assert_array_equal(strategy.classes_, [1, 2, 3])


@pytest.mark.parametrize("cls", [LinUCBStrategy, BootstrapEnsembleStrategy, DisjointLinUCBStrategy])
@pytest.mark.parametrize(
    "params",
    [{"epsilon": 1.5}, {"epsilon": 0.0}, {"policy": "greedy"}, {"temperature": 0.0}],
)
def test_parameters_set_between_batches_are_checked_before_they_act(cls, params):
    # epsilon, policy and temperature act at the next decision: unchecked, an
    # epsilon above 1 logged negative propensities.
    world = LinearWorld(16)
    strategy = cls(random_state=0).set_bank(world.bank)
    X = world.users(50)
    strategy.partial_fit(X, strategy.decide(X)[0], np.ones(50))
    strategy.set_params(**params)
    name = next(iter(params))
    for call in (strategy.decide, strategy.predict_proba, strategy.expected_reward):
        with pytest.raises(ValueError, match=f"'{name}' parameter"):
            call(X)
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        strategy.partial_fit(X, strategy.classes_[:1].repeat(50), np.ones(50))
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        strategy.set_bank(world.bank)
    strategy.set_params(**{name: cls().get_params()[name]})
    assert np.all(strategy.decide(X)[1] > 0)


def test_frames_are_checked_by_their_columns_every_time():
    world = LinearWorld(15)
    names = [f"x{i}" for i in range(8)]
    frame = pd.DataFrame(world.users(300), columns=names)
    strategy = LinUCBStrategy(random_state=0).set_bank(world.bank)
    ids, _ = strategy.decide(frame.iloc[:200])
    strategy.partial_fit(frame.iloc[:200], ids, np.ones(200))
    assert list(strategy.feature_names_in_) == names
    np.testing.assert_array_equal(
        strategy.predict_proba(frame.iloc[200:]), strategy.predict_proba(frame.to_numpy()[200:])
    )
    renamed = frame.iloc[200:].rename(columns={"x0": "y0"})
    with pytest.raises(ValueError, match="has the columns"):
        strategy.decide(renamed)
    with pytest.raises(ValueError, match="has the columns"):
        strategy.decide(frame.iloc[200:, ::-1])  # the same names, in another order
    strategy.decide(frame.iloc[200:])  # the right columns again
    mixed = frame.iloc[200:].astype({"x3": "int64"})  # not all float: check_array's path
    np.testing.assert_array_equal(
        strategy.predict_proba(mixed), strategy.predict_proba(mixed.to_numpy(dtype=float))
    )


@pytest.mark.parametrize(
    "cls", [LinUCBStrategy, BootstrapEnsembleStrategy, DisjointLinUCBStrategy, RandomStrategy]
)
def test_bad_users_ids_and_rewards_are_refused_before_any_change(cls):
    world = LinearWorld(14, n_actions=5, dim=4)
    strategy = _warm(cls(random_state=0), world, n=50)
    state = pickle.dumps(strategy)
    X = world.users(4)
    bad_users = X.copy()
    bad_users[1, 2] = np.nan
    cases = [
        (
            ValueError,
            "X_users contains NaN",
            lambda: strategy.partial_fit(bad_users, world.ids[:4], [0] * 4),
        ),
        (ValueError, "X_users contains NaN", lambda: strategy.decide(bad_users)),
        (
            ValueError,
            "X_users contains NaN",
            lambda: strategy.decide(pd.DataFrame(bad_users, columns=[f"x{i}" for i in range(8)])),
        ),
        (ValueError, "X_users has 7 features.*8", lambda: strategy.predict_proba(X[:, :7])),
        (
            ValueError,
            r"never given: \[999\]",
            lambda: strategy.partial_fit(X, [100, 999, 101, 102], [0] * 4),
        ),
        (
            ValueError,
            r"rewards must lie in \[0, 1\]",
            lambda: strategy.partial_fit(X, world.ids[:4], [0, 2, 0, 0]),
        ),
        (
            ValueError,
            r"rewards must have shape \(4,\)",
            lambda: strategy.partial_fit(X, world.ids[:4], [0, 1]),
        ),
        (
            ValueError,
            r"action_ids must have shape \(4,\)",
            lambda: strategy.partial_fit(X, world.ids[:3], [0] * 4),
        ),
        (
            TypeError,
            "action_ids must be integers",
            lambda: strategy.partial_fit(X, [1.5, 2, 3, 4], [0] * 4),
        ),
        (
            TypeError,
            "rewards must be numbers",
            lambda: strategy.partial_fit(X, world.ids[:4], list("abcd")),
        ),
        (TypeError, "DataFrame", lambda: strategy.fit(X)),
        (
            ValueError,
            r"lacks the column\(s\) \['reward'\]",
            lambda: strategy.fit(pd.DataFrame({"action_id": [100], "x": [1.0]})),
        ),
        (
            ValueError,
            r"not in actions: \[7\]",
            lambda: strategy.fit(pd.DataFrame({"action_id": [7], "reward": [1.0], "x": [1.0]})),
        ),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=message):
            call()
        assert pickle.dumps(strategy) == state, message


@pytest.mark.parametrize("policy", ["epsilon_greedy", "softmax"])
def test_disjoint_users_with_huge_features_get_valid_propensities(policy):
    # Beyond about 1e19 single precision overflowed (NaN probabilities,
    # infinite propensities); such users are scored in double precision,
    # and beyond double precision divided by a power of two.
    world = LinearWorld(24, n_actions=6, dim=4)
    strategy = _warm(DisjointLinUCBStrategy(policy=policy, random_state=0), world)
    X = world.users(40)
    X[::4] *= np.logspace(3, 300, 10)[:, None]
    proba = strategy.predict_proba(X)
    assert np.all(proba > 0) and np.allclose(proba.sum(axis=1), 1.0)
    ids, propensities = copy.deepcopy(strategy).decide(X)
    assert np.all(propensities > 0) and np.all(np.isfinite(propensities))
    np.testing.assert_array_equal(propensities, proba[np.arange(40), ids - 100])
    # Such users change no one else's decision, and their own do not depend on the batch.
    split = copy.deepcopy(strategy)
    parts = [split.decide(X[i : i + 7]) for i in range(0, 40, 7)]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), ids)
    ordinary = np.ones(40, dtype=bool)
    ordinary[::4] = False
    alone = copy.deepcopy(strategy).predict_proba(X[ordinary])
    np.testing.assert_array_equal(alone, proba[ordinary])
    # Learning from them would overflow the sums of squares: refused, before any change.
    state = pickle.dumps(strategy)
    with pytest.raises(ValueError, match="features up to 1e\\+100"):
        strategy.partial_fit(X, ids, np.ones(40))
    assert pickle.dumps(strategy) == state


@pytest.mark.parametrize("params", [{"alpha": 1e300}, {"alpha": -1.0}, {"ridge": 1e-300}])
def test_disjoint_refuses_parameters_that_overflow(params):
    strategy = DisjointLinUCBStrategy(**params)
    with pytest.raises(ValueError, match=f"'{next(iter(params))}' parameter"):
        strategy.set_bank((np.arange(2), np.eye(2)))


def test_invalid_parameters_are_refused_at_the_first_bank():
    with pytest.raises(ValueError, match="epsilon"):
        LinUCBStrategy(epsilon=0.0).set_bank((np.arange(2), np.eye(2)))
    with pytest.raises(ValueError, match="policy"):
        BootstrapEnsembleStrategy(policy="greedy").set_bank((np.arange(2), np.eye(2)))
