"""Off-policy estimators: unbiasedness, their invariants, the log's checks, the warning."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator

from hillmix_opt import (
    BanditLog,
    DMEstimator,
    DREstimator,
    IPWEstimator,
    LogisticRewardModel,
    MIPSEstimator,
    PolicyValue,
    SNIPWEstimator,
    SwitchDREstimator,
    UnsupportedActionWarning,
    plot_policy_values,
)

ESTIMATORS = [
    IPWEstimator,
    SNIPWEstimator,
    DMEstimator,
    DREstimator,
    SwitchDREstimator,
    MIPSEstimator,
]


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Problem:
    """A tiny bandit with a known truth: 2 user features, K actions embedded in 3 dimensions.

    P(click | x, a) is logistic in ``x^T A e_a``, so the logistic reward model
    is well specified; the logger mixes a softmax with uniform exploration, the
    target is another softmax.
    """

    def __init__(self, n_users=300, n_actions=4, seed=0):
        rng = np.random.default_rng(seed)
        self.users = rng.normal(size=(n_users, 2))
        self.embeddings = rng.normal(size=(n_actions, 3))
        self.interaction = rng.normal(size=(2, 3))
        self.P = self.click_probability(self.users, self.embeddings)
        scores = self.users @ rng.normal(size=(2, n_actions))
        # Epsilon-greedy-like: every action keeps 0.3 / K, so weights stay below 10 / 3 K.
        self.logging = 0.7 * _softmax(scores) + 0.3 / n_actions
        self.target = _softmax(-scores)
        self.truth = float(np.sum(self.target * self.P) / n_users)

    def click_probability(self, users, embeddings):
        logits = users @ self.interaction @ embeddings.T - 1.0
        return 1.0 / (1.0 + np.exp(-logits))

    def log(self, seed, logging=None):
        logging = self.logging if logging is None else logging
        rng = np.random.default_rng(seed)
        n = len(self.users)
        cdf = np.cumsum(logging, axis=1)
        actions = np.minimum((cdf < rng.random(n)[:, None]).sum(axis=1), cdf.shape[1] - 1)
        rows = np.arange(n)
        rewards = (rng.random(n) < self.P[rows, actions]).astype(int)
        return BanditLog(
            actions=actions,
            rewards=rewards,
            propensities=logging[rows, actions],
            users=self.users,
            logging_proba=logging,
            action_ids=np.arange(100, 100 + cdf.shape[1]),
            action_embeddings=self.embeddings,
        )


class FixedModel:
    """A reward model that predicts what it is told, fitted on nothing (for unbiasedness)."""

    def __init__(self, predict):
        self.predict = predict

    def fit(self, X, y):
        return self

    def predict_matrix(self, users, embeddings):
        return self.predict(np.asarray(users), np.asarray(embeddings))


@pytest.fixture(scope="module")
def problem():
    return Problem()


def test_ipw_and_dr_are_unbiased_and_dm_is_as_wrong_as_its_model(problem):
    # Over replicated logs of the same users, IPW and DR with a wrong (fixed)
    # model average to the truth; DM with that model does not.
    wrong = FixedModel(lambda U, E: np.full((len(U), len(E)), 0.5))
    estimates = {"IPW": [], "DR": [], "DM": []}
    for seed in range(150):
        log = problem.log(seed)
        estimates["IPW"].append(IPWEstimator().fit(log).estimate_policy_value(problem.target))
        for name, cls in (("DR", DREstimator), ("DM", DMEstimator)):
            fitted = cls(reward_model=wrong, random_state=seed).fit(log)
            estimates[name].append(fitted.estimate_policy_value(problem.target))
    for name in ("IPW", "DR"):
        values = np.array([v.estimate for v in estimates[name]])
        standard_error = values.std(ddof=1) / np.sqrt(values.size)
        assert abs(values.mean() - problem.truth) < 3 * standard_error, name
        # Normal intervals of nominal 95% cover the truth about that often.
        coverage = np.mean([v.covers(problem.truth) for v in estimates[name]])
        assert 0.85 < coverage <= 1.0, name
    dm = np.array([v.estimate for v in estimates["DM"]])
    assert abs(dm.mean() - problem.truth) > 0.05


def test_dr_with_a_fitted_model_has_a_smaller_rmse_than_ipw(problem):
    errors = {"IPW": [], "DR": []}
    model = LogisticRewardModel(pca_components=None)
    for seed in range(25):
        log = problem.log(seed)
        errors["IPW"].append(IPWEstimator().fit(log).estimate_policy_value(problem.target))
        dr = DREstimator(reward_model=model, random_state=seed).fit(log)
        errors["DR"].append(dr.estimate_policy_value(problem.target))
    rmse = {
        name: np.sqrt(np.mean([(v.estimate - problem.truth) ** 2 for v in values]))
        for name, values in errors.items()
    }
    assert rmse["DR"] < 0.85 * rmse["IPW"]


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), n_actions=st.integers(2, 5))
def test_estimators_agree_where_their_definitions_meet(seed, n_actions):
    problem = Problem(n_users=80, n_actions=n_actions, seed=seed)
    log = problem.log(seed)
    target = problem.target
    # The logger valued by itself: every weight is one.
    on_policy = IPWEstimator().fit(log).estimate_policy_value(problem.logging)
    assert on_policy.estimate == pytest.approx(log.rewards.mean())
    assert on_policy.effective_sample_size == pytest.approx(log.n_samples)
    ipw = IPWEstimator().fit(log).estimate_policy_value(target)
    # One cluster per action: MIPS is IPW.
    mips = MIPSEstimator(n_clusters=n_actions).fit(log).estimate_policy_value(target)
    assert mips.estimate == pytest.approx(ipw.estimate)
    # Switch-DR spans DR (no switch) and DM (all switched), on the same folds.
    model = FixedModel(problem.click_probability)
    kwargs = {"reward_model": model, "n_folds": 2, "random_state": seed}
    dr = DREstimator(**kwargs).fit(log).estimate_policy_value(target)
    dm = DMEstimator(**kwargs).fit(log).estimate_policy_value(target)
    switch = SwitchDREstimator(**kwargs, tau=np.inf).fit(log).estimate_policy_value(target)
    assert switch.estimate == pytest.approx(dr.estimate)
    switch = SwitchDREstimator(**kwargs, tau=0.0).fit(log).estimate_policy_value(target)
    assert switch.estimate == pytest.approx(dm.estimate)
    # Clipping at the largest weight changes nothing; below it, it lowers IPW.
    weights = target[np.arange(log.n_samples), log.actions] / log.propensities
    same = IPWEstimator(clip=weights.max()).fit(log).estimate_policy_value(target)
    assert same.estimate == pytest.approx(ipw.estimate)
    clipped = IPWEstimator(clip=weights.min()).fit(log).estimate_policy_value(target)
    assert clipped.estimate <= ipw.estimate + 1e-12
    # SNIPW stays within the rewards' range.
    snipw = SNIPWEstimator().fit(log).estimate_policy_value(target)
    assert 0.0 <= snipw.estimate <= 1.0


def test_bootstrap_intervals_are_seeded():
    log = Problem(n_users=200).log(0)
    target = Problem(n_users=200).target

    def interval(seed):
        ipw = IPWEstimator(n_bootstrap=200, random_state=seed).fit(log)
        return ipw.estimate_policy_value(target)

    first = interval(0)
    assert first == interval(0) and first.interval != interval(1).interval
    assert first.interval_method == "bootstrap" and first.ci_low < first.estimate < first.ci_high


def test_mips_values_a_new_bank_when_rewards_follow_the_clusters():
    # Two tight clusters of logged actions; rewards depend on the cluster
    # only. A new bank's actions, near the clusters' centres, are valued
    # from the logged rows of their cluster.
    rng = np.random.default_rng(0)
    embeddings = np.repeat(np.eye(2), 3, axis=0) + rng.normal(0, 0.01, (6, 2))
    n = 3000
    values = []
    for seed in range(10):
        r = np.random.default_rng(seed)
        actions = r.integers(6, size=n)
        rewards = (r.random(n) < np.where(actions < 3, 0.1, 0.3)).astype(int)
        log = BanditLog(
            actions=actions,
            rewards=rewards,
            propensities=np.full(n, 1 / 6),
            logging_proba=np.full((n, 6), 1 / 6),
            action_ids=np.arange(6),
            action_embeddings=embeddings,
        )
        bank = (np.array([50, 51]), np.array([[0.9, 0.1], [0.1, 0.9]]))
        target = np.tile([0.25, 0.75], (n, 1))  # truth 0.25 * 0.1 + 0.75 * 0.3
        mips = MIPSEstimator(n_clusters=2, random_state=0).fit(log)
        values.append(mips.estimate_policy_value(target, bank=bank).estimate)
    assert np.mean(values) == pytest.approx(0.25, abs=3 * np.std(values) / np.sqrt(10))


# ---------------------------------------------------------------- the log's checks
def test_a_log_with_missing_or_zero_propensities_is_refused():
    base = {"actions": [0, 1], "rewards": [1, 0]}
    with pytest.raises(ValueError, match=r"propensities is missing \(NaN\) in rows \[1\]"):
        BanditLog(**base, propensities=[0.5, np.nan])
    with pytest.raises(ValueError, match=r"propensities is zero in rows \[0\]"):
        BanditLog(**base, propensities=[0.0, 0.5])
    with pytest.raises(ValueError, match=r"propensities must lie in \(0, 1\]"):
        BanditLog(**base, propensities=[1.5, 0.5])
    with pytest.raises(ValueError, match="logging_proba's rows must sum to one"):
        BanditLog(**base, propensities=[0.5, 0.5], logging_proba=[[0.5, 0.4], [0.5, 0.5]])
    with pytest.raises(ValueError, match="logging_proba is zero at the logged action"):
        BanditLog(**base, propensities=[0.5, 0.5], logging_proba=[[0.0, 1.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match="propensities and logging_proba disagree"):
        BanditLog(**base, propensities=[0.5, 0.4], logging_proba=[[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="actions must have shape"):
        BanditLog(actions=[0], rewards=[1, 0], propensities=[0.5, 0.5])


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_estimator_refuses_what_is_not_a_checked_log(cls, problem):
    with pytest.raises(TypeError, match="log must be a BanditLog"):
        cls().fit({"actions": [0], "rewards": [1], "propensities": [np.nan]})
    fitted = cls(reward_model=FixedModel(problem.click_probability)) if cls not in (
        IPWEstimator, SNIPWEstimator) else cls()  # fmt: skip
    fitted.fit(problem.log(0))
    bad = problem.target.copy()
    bad[3] *= 2
    with pytest.raises(ValueError, match=r"target_proba's rows must sum to one.*rows \[3\]"):
        fitted.estimate_policy_value(bad)
    with pytest.raises(ValueError, match="target_proba must have shape"):
        fitted.estimate_policy_value(problem.target[:, :2])


def test_model_based_estimators_need_users_and_embeddings():
    log = BanditLog(actions=[0, 1], rewards=[1, 0], propensities=[0.5, 0.5])
    with pytest.raises(ValueError, match="no users and no action_embeddings"):
        DREstimator().fit(log)
    with pytest.raises(ValueError, match="no action_embeddings"):
        MIPSEstimator().fit(log)
    with pytest.raises(ValueError, match="n_folds"):
        DREstimator(n_folds=0).fit(log)


# ------------------------------------------------------------------- the warning
def test_mass_where_the_logger_had_none_is_warned_with_its_share(problem):
    logging = problem.logging.copy()
    logging[:, 0] = 0.0  # the logger never takes the first action
    logging /= logging.sum(axis=1, keepdims=True)
    log = problem.log(0, logging=logging)
    target = np.tile([0.5, 0.5, 0.0, 0.0], (log.n_samples, 1))
    for estimator in (IPWEstimator(), DREstimator(reward_model=LogisticRewardModel())):
        with pytest.warns(UnsupportedActionWarning, match=r"puts 50\.00% of its probability"):
            value = estimator.fit(log).estimate_policy_value(target)
        assert value.unsupported_share == pytest.approx(0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DMEstimator().fit(log).estimate_policy_value(target)  # DM needs no support
    # A new bank's actions carry no logged data; kept ones keep their rows.
    bank = (np.array([101, 999]), problem.embeddings[:2])
    with pytest.warns(UnsupportedActionWarning, match=r"puts 50\.00%"):
        IPWEstimator().fit(log).estimate_policy_value(np.tile([0.5, 0.5], (300, 1)), bank=bank)


# ------------------------------------------------------------ API and results
def test_estimators_clone_and_route_parameters_to_the_reward_model():
    dr = DREstimator(reward_model=LogisticRewardModel(C=2.0), n_folds=3)
    twin = clone(dr)
    assert twin.get_params(deep=False)["n_folds"] == 3 and twin.reward_model is not dr.reward_model
    twin.set_params(reward_model__C=5.0)
    assert twin.reward_model.C == 5.0 and dr.reward_model.C == 2.0
    assert repr(dr) == "DREstimator(n_folds=3, reward_model=LogisticRewardModel(C=2.0))"
    with pytest.raises(ValueError, match="Invalid parameter 'tau'"):
        dr.set_params(tau=1.0)


def test_a_frozen_model_is_used_as_it_is(problem):
    log = problem.log(0)
    model = LogisticRewardModel().fit(*_joined(problem.log(1)))
    frozen = DMEstimator(reward_model=FrozenEstimator(model)).fit(log)
    predicted = model.predict_matrix(log.user_frame(), problem.embeddings)
    expected = np.sum(problem.target * predicted, axis=1).mean()
    assert frozen.estimate_policy_value(problem.target).estimate == pytest.approx(expected)


def _joined(log):
    users = log.user_frame()
    E = pd.DataFrame(log.action_embeddings[log.actions], columns=["emb_0", "emb_1", "emb_2"])
    return pd.concat([users, E], axis=1), log.rewards.astype(int)


def test_results_print_readably_and_plot():
    value = PolicyValue("DR", 0.12345, 0.11, 0.13, 0.95, 0.005, 812.25, 1000, 0.25)
    assert repr(value) == (
        "PolicyValue(DR: 0.1235, 95% interval [0.11, 0.13], std_error=0.005, "
        "effective_sample_size=812.2 of 1000, unsupported_share=0.25)"
    )
    ax = plot_policy_values({"a": {"DR": value}, "b": {"DR": value}}, truth={"a": 0.12})
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    with pytest.raises(TypeError, match="PolicyValue"):
        plot_policy_values({"a": {"DR": 0.1}})


def test_a_failed_fit_leaves_the_estimator_unfitted(problem):
    dr = DREstimator(reward_model=LogisticRewardModel()).fit(problem.log(0))
    log = problem.log(1)
    no_clicks = BanditLog(actions=log.actions, rewards=np.zeros(log.n_samples),
                          propensities=log.propensities, users=log.users,
                          action_embeddings=log.action_embeddings)  # fmt: skip
    with pytest.raises(ValueError, match="one class only"):
        dr.fit(no_clicks)
    with pytest.raises(NotFittedError, match="call fit"):
        dr.estimate_policy_value(problem.target)


def test_a_log_without_its_action_count_takes_the_targets_columns():
    # Only actions 0 and 1 were logged; the target also knows actions 2 and 3.
    log = BanditLog(actions=[0, 1, 0, 1], rewards=[1, 0, 1, 1], propensities=[0.5] * 4)
    value = IPWEstimator().fit(log).estimate_policy_value(np.tile([0.5, 0.5, 0.0, 0.0], (4, 1)))
    assert value.estimate == pytest.approx(0.75)
