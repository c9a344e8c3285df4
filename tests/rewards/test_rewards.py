"""Reward models: the table, the six models' contract, uncertainty, errors, and the comparison."""

import pickle
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from hillmix_opt import (
    BayesianNeuralRewardModel,
    FTTransformerRewardModel,
    GaussianProcessRewardModel,
    LightGBMRewardModel,
    LogisticRewardModel,
    NeuralRewardModel,
    RandomStrategy,
    compare_reward_models,
    make_reward_model,
    reward_model_scores,
    reward_table,
)
from hillmix_sim import USER_SCORE_COLUMNS, CompanySimulator

torch = pytest.importorskip("torch")

# Small, fast settings: the comparison at full size is benchmarks/validation/reward_models.py.
FAST = {
    "logistic": LogisticRewardModel(),
    "lightgbm": LightGBMRewardModel(n_estimators=60, random_state=0),
    "neural": NeuralRewardModel(lr=1e-2, max_epochs=8, random_state=0),
    "bayesian_neural": BayesianNeuralRewardModel(
        lr=1e-2, max_epochs=8, n_mc_samples=10, random_state=0
    ),
    "gaussian_process": GaussianProcessRewardModel(
        n_inducing=32, lr=0.05, max_epochs=15, random_state=0
    ),
    "ft_transformer": FTTransformerRewardModel(lr=1e-2, max_epochs=4, random_state=0),
}


def _bilinear_log(n=3000, n_actions=12, seed=0):
    """A log of a known truth: P(click) = sigmoid(2 u0 a0 + u1 - a1 - 1), uniform logging."""
    rng = np.random.default_rng(seed)
    users = rng.normal(size=(n, 3))
    actions = rng.normal(size=(n_actions, 4))
    a = rng.integers(n_actions, size=n)

    def truth(U, A):
        return 1 / (1 + np.exp(-(2 * U[:, :1] * A[None, :, 0] + U[:, 1:2] - A[None, :, 1] - 1)))

    p = truth(users, actions)[np.arange(n), a]
    X = pd.DataFrame(users, columns=["u0", "u1", "u2"])
    X[["emb_0", "emb_1", "emb_2", "emb_3"]] = actions[a]
    return X, (rng.random(n) < p).astype(int), actions, truth


@pytest.fixture(scope="module")
def log():
    return _bilinear_log()


@pytest.fixture(scope="module")
def fitted(log):
    X, y, _, _ = log
    return {name: clone(model).fit(X, y) for name, model in FAST.items()}


# ----------------------------------------------------------------- the table
def test_reward_table_joins_a_company_log_in_one_line():
    run = CompanySimulator(
        strategy=RandomStrategy(), n_iterations=2, n_users=200, n_initial_actions=5, random_state=0
    ).run()
    log = pd.concat(run.observations, ignore_index=True)
    X, y = reward_table(log, run.banks)
    assert X.shape == (400, 8 + run.banks[0].embedding_dim)
    assert list(X.columns[:8]) == list(USER_SCORE_COLUMNS)
    ids = log["action_id"].to_numpy()
    expected = run.banks[0].embeddings[run.banks[0].index_of(ids)]
    np.testing.assert_array_equal(X.filter(like="emb_").to_numpy(), expected)
    assert y.tolist() == log["reward"].astype(int).tolist()
    with pytest.raises(ValueError, match="lacks the column"):
        reward_table(log.drop(columns="reward"), run.banks)
    with pytest.raises(ValueError, match="no bank holds"):
        reward_table(log.assign(action_id=999), run.banks)
    with pytest.raises(ValueError, match="clicks, 0 or 1"):
        reward_table(log.assign(reward=0.5), run.banks)


# ------------------------------------------------------------- the contract
@pytest.mark.parametrize("name", sorted(FAST))
def test_predict_matrix_is_predict_proba_on_the_cross_join(name, fitted, log):
    model = fitted[name]
    X, _, actions, _ = log
    users = X[["u0", "u1", "u2"]].iloc[:7]
    matrix = model.predict_matrix(users, actions)
    joined = pd.DataFrame(np.repeat(users.to_numpy(), len(actions), axis=0), columns=users.columns)
    joined[["emb_0", "emb_1", "emb_2", "emb_3"]] = np.tile(actions, (7, 1))
    rows = model.predict_proba(joined)[:, 1].reshape(7, len(actions))
    np.testing.assert_allclose(matrix, rows, rtol=1e-7, atol=1e-9)
    # A user's probabilities do not depend on the other users scored with them.
    np.testing.assert_allclose(model.predict_matrix(users.iloc[2:3], actions), matrix[2:3])
    assert np.all((matrix > 0) & (matrix < 1))


@pytest.mark.parametrize("name", sorted(FAST))
def test_models_learn_the_interaction(name, fitted, log):
    # Fresh users against the truth: every model ranks the pairs better than chance,
    # and all but the fastest settings well.
    _, _, actions, truth = log
    users = np.random.default_rng(7).normal(size=(300, 3))
    corr = np.corrcoef(
        truth(users, actions).ravel(), fitted[name].predict_matrix(users, actions).ravel()
    )[0, 1]
    assert corr > (0.5 if name in ("gaussian_process", "ft_transformer") else 0.75), corr


@pytest.mark.parametrize("name", ["lightgbm", "neural", "gaussian_process"])
def test_same_seed_same_model_and_torch_generator_untouched(name, log):
    X, y, actions, _ = log
    users = X[["u0", "u1", "u2"]].iloc[:20]
    state = torch.random.get_rng_state()
    first = clone(FAST[name]).fit(X, y).predict_matrix(users, actions)
    assert torch.equal(torch.random.get_rng_state(), state), "fit changed torch's global RNG"
    again = clone(FAST[name]).fit(X, y).predict_matrix(users, actions)
    np.testing.assert_array_equal(first, again)
    other = clone(FAST[name]).set_params(random_state=1).fit(X, y).predict_matrix(users, actions)
    assert not np.array_equal(first, other)


def test_lightgbm_is_the_same_whatever_the_threads(log):
    X, y, actions, _ = log
    one = clone(FAST["lightgbm"]).set_params(n_jobs=1).fit(X, y)
    two = clone(FAST["lightgbm"]).set_params(n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(
        one.predict_matrix(X.iloc[:50, :3], actions), two.predict_matrix(X.iloc[:50, :3], actions)
    )


def test_sub_parameters_are_routed_and_cloned(log):
    X, y, _, _ = log
    model = NeuralRewardModel(max_epochs=2, random_state=0, module__hidden_units=(8,))
    model.set_params(module__interaction_dim=3, optimizer__weight_decay=0.0)
    copy = clone(model)
    assert copy.get_params()["module__hidden_units"] == (8,)
    copy.fit(X, y)
    assert copy.module_.user_tower.layers[0].out_features == 8
    assert copy.module_.user_tower.layers[-1].out_features == 4  # interaction_dim + 1
    with pytest.raises(ValueError, match="module__"):
        NeuralRewardModel(max_epochs=1, module__no_such=1).fit(X, y)
    with pytest.raises(ValueError, match="unknown parameters"):
        NeuralRewardModel(max_epochs=1, modle__hidden_units=(4,)).fit(X, y)
    assert make_reward_model("neural", module__dropout=0.3).get_params()["module__dropout"] == 0.3
    with pytest.raises(ValueError, match="has no network"):
        make_reward_model("lightgbm", module__dropout=0.3)


def test_grid_search_over_a_routed_parameter(log):
    X, y, _, _ = log
    grid = GridSearchCV(
        NeuralRewardModel(max_epochs=2, lr=1e-2, random_state=0),
        {"module__interaction_dim": [2, 8]},
        scoring="neg_log_loss",
        cv=2,
    ).fit(X.iloc[:1000], y[:1000])
    assert grid.best_params_["module__interaction_dim"] in (2, 8)
    grid = GridSearchCV(LogisticRewardModel(), {"C": [0.1, 1.0]}, scoring="roc_auc", cv=2)
    assert grid.fit(X, y).best_estimator_.predict_proba(X).shape == (len(X), 2)


@pytest.mark.parametrize("name", ["logistic", "bayesian_neural", "gaussian_process"])
def test_fitted_models_pickle(name, fitted, log):
    X, _, actions, _ = log
    model = fitted[name]
    loaded = pickle.loads(pickle.dumps(model))
    users = X.iloc[:5, :3]
    np.testing.assert_array_equal(
        loaded.predict_matrix(users, actions), model.predict_matrix(users, actions)
    )


# ------------------------------------------------------------- uncertainty
@pytest.mark.parametrize("name", ["bayesian_neural", "gaussian_process"])
def test_uncertainty_grows_away_from_the_logged_actions(name, fitted, log):
    X, _, actions, _ = log
    model = fitted[name]
    users = X.iloc[:200, :3]

    def spread(A):
        # On the logit scale (the delta method backwards): a network's mean
        # extrapolates linearly, and a probability near 0 or 1 has little
        # room to vary whatever the logit's uncertainty.
        mean, sd = model.predict_matrix(users, A, return_std=True)
        slope = mean * (1 - mean)
        return np.median(sd[slope > 1e-4] / slope[slope > 1e-4])

    near = spread(actions)
    # Actions far outside the logged ones, along the directions they span.
    for scale in (2.0, 4.0):
        far = actions.mean(axis=0) + scale * (actions - actions.mean(axis=0))
        assert spread(far) > 1.5 * near, scale


@pytest.mark.parametrize("name", ["bayesian_neural", "gaussian_process"])
def test_intervals_hold_the_truth_and_the_mean(name, fitted, log):
    X, _, actions, truth = log
    model = fitted[name]
    users = X.iloc[:300, :3]
    lower, upper = model.predict_interval(users, actions, coverage=0.9)
    mean, sd = model.predict_matrix(users, actions, return_std=True)
    assert np.all(lower <= upper) and np.all(sd > 0)
    assert np.mean((lower <= mean) & (mean <= upper)) > 0.9
    P = truth(users.to_numpy(), actions)
    assert np.mean((lower <= P) & (upper >= P)) > 0.7  # 0.78 and 0.80 at these settings


def test_bayesian_neural_laplace_widens_dropouts_spread(fitted, log):
    X, y, actions, _ = log
    with_laplace = fitted["bayesian_neural"]
    without = clone(with_laplace).set_params(laplace=False).fit(X, y)
    users = X.iloc[:100, :3]
    mean, sd = with_laplace.predict_matrix(users, actions, return_std=True)
    mean_0, sd_0 = without.predict_matrix(users, actions, return_std=True)
    np.testing.assert_allclose(mean, mean_0)  # the same network: only the spread differs
    assert np.all(sd >= sd_0) and np.median(sd) > np.median(sd_0)
    assert without.laplace_covariance_ is None and with_laplace.prior_precision_ > 0


def test_models_without_uncertainty_say_so(fitted, log):
    X, _, actions, _ = log
    with pytest.raises(ValueError, match="no predictive standard deviation"):
        fitted["logistic"].predict_matrix(X.iloc[:2, :3], actions, return_std=True)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("name", sorted(FAST))
def test_bad_input_is_refused_before_any_work(name, fitted, log):
    X, y, actions, _ = log
    model = clone(FAST[name])
    with pytest.raises(ValueError, match=r"one class only"):
        model.fit(X, np.zeros(len(y), dtype=int))
    with pytest.raises(ValueError, match="clicks, 0 or 1"):
        model.fit(X, y + 1)
    with pytest.raises(ValueError, match=r"NaN|infinity"):
        model.fit(X.assign(u0=np.nan), y)
    assert not hasattr(model, "classes_")
    fitted_model = fitted[name]
    with pytest.raises(ValueError, match=r"feature names|features"):
        fitted_model.predict_proba(X.drop(columns="u2"))
    with pytest.raises(ValueError, match="dimension 3"):
        fitted_model.predict_matrix(X.iloc[:2, :3], actions[:, :3])
    with pytest.raises(ValueError, match="lacks the user feature columns"):
        fitted_model.predict_matrix(X.iloc[:2, :2], actions)


def test_torch_models_name_the_extra_without_torch(monkeypatch, log):
    X, y, _, _ = log
    monkeypatch.setitem(sys.modules, "torch", None)
    for model in (NeuralRewardModel(), GaussianProcessRewardModel()):
        with pytest.raises(ImportError, match=r"hillmix\[torch\]"):
            model.fit(X, y)


# -------------------------------------------------------------- comparison
def test_scores_against_the_truth():
    p = np.linspace(0.01, 0.3, 500)
    perfect = reward_model_scores(p, p, interval=(p - 0.01, p + 0.01), random_state=0)
    assert perfect["pearson"] == pytest.approx(1.0) and perfect["ece"] == pytest.approx(0.0)
    assert perfect["coverage"] == 1.0
    flat = reward_model_scores(p, np.full_like(p, p.mean()), random_state=0)
    assert np.isnan(flat["pearson"]) and flat["auc"] == pytest.approx(0.5)
    assert flat["log_loss"] > perfect["log_loss"] and flat["brier"] > perfect["brier"]
    shifted = reward_model_scores(p, p + 0.05, random_state=0)
    assert shifted["ece"] == pytest.approx(0.05) and shifted["pearson"] == pytest.approx(1.0)


def test_compare_fits_every_model_on_one_log():
    sim = CompanySimulator(
        strategy=RandomStrategy(), n_iterations=1, n_users=3000, n_initial_actions=8, random_state=0
    )
    results = sim.run()
    models = {"logistic": FAST["logistic"], "bnn": FAST["bayesian_neural"]}
    table = compare_reward_models(
        results.observations[0], results.banks, sim.ground_truth_, models=models,
        n_users=150, n_candidates=15, random_state=0,
    )  # fmt: skip
    assert table.index.tolist() == [
        ("logistic", "bank"), ("logistic", "candidates"), ("bnn", "bank"), ("bnn", "candidates")
    ]  # fmt: skip
    assert np.isnan(table.loc[("logistic", "bank"), "coverage"])
    assert 0 <= table.loc[("bnn", "bank"), "coverage"] <= 1
    assert (table["fit_seconds"] > 0).all() and table["pearson"].notna().all()
    with pytest.raises(ValueError, match="Unknown reward model"):
        compare_reward_models(
            results.observations[0], results.banks, sim.ground_truth_, models=["svm"]
        )
