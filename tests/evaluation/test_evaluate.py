"""evaluate_estimators: replicated logs of a simulated company, scored against its truth."""

import joblib
import numpy as np
import pandas as pd
import pytest

from hillmix_opt import (
    BanditLog,
    DREstimator,
    IPWEstimator,
    LinUCBStrategy,
    LogisticRewardModel,
    RandomStrategy,
    UnsupportedActionWarning,
    evaluate_estimators,
)
from hillmix_sim import CompanySimulator, HashingEmbedder


class Oracle:
    """Each user's truly best action of the bank."""

    def __init__(self, truth, bank):
        self.truth, self.bank = truth, bank

    def predict_proba(self, users):
        P = self.truth.click_probability(np.asarray(users, dtype=np.float64), self.bank)
        best = np.zeros_like(P)
        best[np.arange(len(P)), P.argmax(axis=1)] = 1.0
        return best


class Never:
    """A logger that never takes the bank's first action."""

    def __init__(self, n_actions):
        self.n_actions = n_actions

    def predict_proba(self, users):
        proba = np.full((len(users), self.n_actions), 1.0 / (self.n_actions - 1))
        proba[:, 0] = 0.0
        return proba


@pytest.fixture(scope="module")
def company():
    return CompanySimulator(
        strategy=LinUCBStrategy(epsilon=0.2, random_state=0),
        embedder=HashingEmbedder(n_features=16),
        n_iterations=1,
        n_users=400,
        n_initial_actions=4,
        random_state=0,
    ).fit()


def _evaluate(company, n_jobs, **params):
    bank = company.results_.banks[0]
    targets = {
        "uniform": RandomStrategy().set_bank(bank),
        "oracle": Oracle(company.ground_truth_, bank),
    }
    estimators = [IPWEstimator(), DREstimator(reward_model=LogisticRewardModel(pca_components=4))]
    return evaluate_estimators(
        estimators, company, company.strategy_, targets, n_replications=4, n_users=300,
        n_truth_users=2000, random_state=0, n_jobs=n_jobs, return_replications=True, **params,
    )  # fmt: skip


def test_the_table_scores_each_estimator_against_the_truth(company):
    table, replications = _evaluate(company, None)
    assert list(table[["target", "estimator"]].itertuples(index=False, name=None)) == [
        ("uniform", "IPW"), ("uniform", "DR"), ("oracle", "IPW"), ("oracle", "DR"),
    ]  # fmt: skip
    uniform = RandomStrategy().set_bank(company.results_.banks[0])
    row = table.iloc[0]
    # The truth is the simulator's, on fresh users drawn from the truth's own seed.
    truth_seed = int(np.random.SeedSequence(0).spawn(2)[0].generate_state(1)[0])
    assert row.true_value == company.policy_value(uniform, n_users=2000, random_state=truth_seed)
    ipw = replications[(replications.target == "uniform") & (replications.estimator == "IPW")]
    errors = ipw.estimate - row.true_value
    assert row.bias == pytest.approx(errors.mean())
    assert row.rmse == pytest.approx(np.sqrt(np.mean(errors**2)))
    assert row["std"] == pytest.approx(ipw.estimate.std(ddof=1))
    covered = (ipw.ci_low <= row.true_value) & (row.true_value <= ipw.ci_high)
    assert row.ci_coverage == pytest.approx(covered.mean())
    assert (table.mean_unsupported_share == 0).all() and (table.n_replications == 4).all()


def test_results_are_the_same_whatever_n_jobs(company):
    table, replications = _evaluate(company, None)
    with joblib.parallel_config(backend="threading"):
        parallel_table, parallel_replications = _evaluate(company, 2)
    pd.testing.assert_frame_equal(table, parallel_table, check_exact=True)
    pd.testing.assert_frame_equal(replications, parallel_replications, check_exact=True)


def test_a_target_beyond_the_loggers_support_is_warned_once(company):
    bank = company.results_.banks[0]
    uniform = RandomStrategy().set_bank(bank)
    with pytest.warns(UnsupportedActionWarning, match="'uniform' puts 25.00%") as record:
        table = evaluate_estimators(
            [IPWEstimator()], company, Never(len(bank)), {"uniform": uniform},
            n_replications=2, n_users=200, n_truth_users=500, random_state=0,
        )  # fmt: skip
    assert len(record) == 1 and table.mean_unsupported_share.iloc[0] == pytest.approx(0.25)


def test_bad_arguments_are_refused_before_any_work(company):
    uniform = RandomStrategy().set_bank(company.results_.banks[0])
    with pytest.raises(TypeError, match="off-policy estimator"):
        evaluate_estimators([object()], company, uniform, {"u": uniform})
    with pytest.raises(TypeError, match="fitted CompanySimulator"):
        evaluate_estimators([IPWEstimator()], CompanySimulator(strategy=uniform), uniform,
                            {"u": uniform})  # fmt: skip
    with pytest.raises(ValueError, match="n_replications"):
        evaluate_estimators([IPWEstimator()], company, uniform, {"u": uniform}, n_replications=0)
    with pytest.raises(TypeError, match="target_policies"):
        evaluate_estimators([IPWEstimator()], company, uniform, [uniform])


def test_a_simulated_log_reads_as_a_bandit_log(company):
    bank = company.results_.banks[0]
    observations, proba = company.simulate_log(company.strategy_, n_users=50, random_state=0)
    log = BanditLog.from_observations(observations, bank, logging_proba=proba)
    assert log.n_actions == len(bank) and log.feature_names[0] == "z_age"
    np.testing.assert_array_equal(bank.action_ids[log.actions], observations["action_id"])
    with pytest.raises(ValueError, match="that bank does not hold"):
        BanditLog.from_observations(observations, bank.take([0]))
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['propensity'\]"):
        BanditLog.from_observations(observations.drop(columns="propensity"), bank)


def test_the_docs_example_runs(tmp_path):
    # docs/_scripts/off_policy_example.py, which draws the docs' figure, with tiny settings.
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "docs" / "_scripts" / "off_policy_example.py"
    spec = importlib.util.spec_from_file_location("off_policy_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    table = example.main(n_users=800, n_truth_users=2000, path=tmp_path / "values.png")
    assert (tmp_path / "values.png").exists()
    assert table.shape == (12, 7) and np.isfinite(table.estimate).all()
