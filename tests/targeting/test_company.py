"""The targeting world: users, ground truths and the company simulator."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hillmix_opt import LinUCBStrategy, RandomStrategy
from hillmix_sim import (
    USER_FEATURES,
    ActionBank,
    CompanySimulator,
    GMMPreference,
    HashingEmbedder,
    LinearPreference,
    MixtureOfExpertsPreference,
    SimulationData,
    SimulationResults,
    UserGenerator,
    user_matrix,
)

TRUTHS = [MixtureOfExpertsPreference, GMMPreference, LinearPreference]


def small_simulator(**params):
    defaults = {
        "strategy": LinUCBStrategy(alpha=0.5, random_state=0),
        "n_iterations": 2,
        "n_users": 600,
        "n_initial_actions": 8,
        "batch_size": 200,
        "random_state": 0,
    }
    return CompanySimulator(**{**defaults, **params})


def test_users_have_meaningful_correlated_features():
    users = UserGenerator(random_state=0).fit().generate(20000)
    assert list(users.columns) == ["user_id", *USER_FEATURES]
    assert users["user_id"].is_unique
    assert users["age"].between(18, 85).all() and users["engagement"].between(0, 1).all()
    assert set(users["region"].unique()) == {0, 1, 2, 3, 4}
    Z = user_matrix(users)
    C = np.corrcoef(Z.T)
    names = list(USER_FEATURES)
    # Older users use mobile less; engaged users bought recently and buy often.
    assert C[names.index("age"), names.index("mobile_share")] < -0.3
    assert C[names.index("engagement"), names.index("recency")] < -0.35
    assert C[names.index("engagement"), names.index("purchase_frequency")] > 0.4
    np.testing.assert_allclose(Z[:, names.index("income")].std(), 1.0, atol=0.05)


def test_each_iteration_is_a_fresh_reproducible_population():
    gen = UserGenerator(random_state=3).fit()
    first, second = gen.generate(100, iteration=0), gen.generate(100, iteration=1)
    assert not np.allclose(first["income"], second["income"])
    assert set(first["user_id"]).isdisjoint(second["user_id"])
    pd.testing.assert_frame_equal(second, UserGenerator(random_state=3).fit().generate(100, 1))


def test_iterations_and_sizes_beyond_the_user_ids_are_refused():
    # iteration=10**10 raised a bare OverflowError: user ids are
    # iteration * 10**9 + i, in int64.
    gen = UserGenerator(random_state=0).fit()
    for iteration in (10**10, 9_223_372_036, -1, True, 2.0):
        with pytest.raises(
            ValueError, match=r"iteration must be an integer from 0 to 9,223,372,035"
        ):
            gen.generate(3, iteration=iteration)
    last = gen.generate(3, iteration=9_223_372_035)["user_id"]
    assert last.iloc[-1] == 9_223_372_035 * 10**9 + 2
    with pytest.raises(ValueError, match=r"n_users must be an integer from 1 to 1,000,000,000"):
        gen.generate(10**9 + 1)
    with pytest.raises(ValueError, match="'n_users' parameter"):
        UserGenerator(n_users=10**9 + 1).fit()


def test_user_matrix_rejects_nan_and_missing_columns():
    users = UserGenerator(random_state=0).fit().generate(5)
    users.loc[2, "income"] = np.nan
    with pytest.raises(ValueError, match="income"):
        user_matrix(users)
    with pytest.raises(ValueError, match="recency"):
        user_matrix(users.drop(columns="recency"))


@pytest.mark.parametrize("Truth", TRUTHS)
def test_ground_truth_is_a_fixed_function_in_range(Truth):
    users = UserGenerator(random_state=0).fit().generate(300)
    bank = np.random.default_rng(0).normal(size=(40, 32))
    truth = Truth(random_state=1).fit(users, action_embeddings=bank)
    P = truth.click_probability(users, bank)
    assert P.shape == (300, 40)
    assert P.min() >= truth.min_utility and P.max() <= truth.max_utility
    # Row by row equals all at once: no dependence on the rest of the batch.
    np.testing.assert_allclose(truth.click_probability(users.iloc[:7], bank[5:9]), P[:7, 5:9])
    # Targeting matters: the best action per user beats the best single action.
    assert P.max(axis=1).mean() > P.mean(axis=0).max() + 0.01
    with pytest.raises(ValueError, match="dimension 31"):
        truth.click_probability(users, bank[:, :31])


@pytest.mark.parametrize("Truth", TRUTHS)
def test_a_bank_of_repeated_embeddings_gives_a_smooth_truth(Truth):
    # Five distinct embeddings, each four times: the reference spans five
    # directions, and whitening the others (rounding noise) had scaled them
    # by 1e16, so an action a hair from a bank action got an unrelated truth.
    rng = np.random.default_rng(0)
    users = UserGenerator(random_state=0).fit().generate(500)
    distinct = rng.normal(size=(5, 16))
    truth = Truth(random_state=0).fit(users, action_embeddings=np.repeat(distinct, 4, axis=0))
    near = distinct[:1] + 1e-6 * rng.normal(size=(1, 16))
    np.testing.assert_allclose(
        truth.click_probability(users, near),
        truth.click_probability(users, distinct[:1]),
        atol=1e-4,
    )


def test_gmm_density_scale_widens_the_liked_band():
    users = UserGenerator(random_state=0).fit().generate(500)
    bank = np.random.default_rng(0).normal(size=(60, 16))
    spread = []
    for factor in (0.5, 2.0):
        truth = GMMPreference(density_scale_factor=factor, random_state=0)
        P = truth.fit(users, action_embeddings=bank).click_probability(users, bank)
        spread.append(np.mean(0.5 * (truth.min_utility + truth.max_utility) < P))
    assert spread[1] > spread[0]


def test_ground_truth_rejects_bad_ranges():
    X = np.random.default_rng(0).normal(size=(20, 8))
    with pytest.raises(ValueError, match="min_utility"):
        LinearPreference(min_utility=0.5, max_utility=0.2).fit(X)


def test_run_writes_a_complete_directory_that_reloads(tmp_path):
    sim = small_simulator(embedder=HashingEmbedder(n_features=32))
    results = sim.run(tmp_path / "run", observations_format="csv")
    root = tmp_path / "run"
    for name in ("simulation_config.json", "complete_simulation_results.json"):
        assert (root / name).exists()
    for i in range(2):
        for name in (
            "observations.csv",
            "action_bank.json",
            "ground_truth_evaluation.json",
            "algorithm_results.json",
        ):
            assert (root / f"iteration_{i}" / name).exists()
    loaded = SimulationResults.load(root)
    pd.testing.assert_frame_equal(loaded.iterations, results.iterations)
    pd.testing.assert_frame_equal(loaded.observations[1], results.observations[1])
    np.testing.assert_array_equal(loaded.banks[0].embeddings, results.banks[0].embeddings)
    config = json.loads((root / "simulation_config.json").read_text())
    assert config["strategy"]["class"] == "LinUCBStrategy"
    obs = results.observations[0]
    assert {"action_id", "propensity", "reward", "click_probability", *USER_FEATURES} <= set(obs)
    assert obs["propensity"].between(0, 1, inclusive="right").all()
    # The evaluation agrees with the log it summarises.
    it = results.iterations
    np.testing.assert_allclose(
        it["expected_reward"], [o["click_probability"].mean() for o in results.observations]
    )
    np.testing.assert_allclose(
        it["company_reward"], [o["reward"].mean() for o in results.observations]
    )


@pytest.fixture(scope="module")
def saved_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved") / "results"
    small_simulator(n_iterations=2, n_users=200).run(root)
    return root


def _damage(root, relative, how):
    path = root / relative
    if how == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "delete":
        path.unlink()
    else:
        path.write_text(how)


@pytest.mark.parametrize(
    "relative, how, cause, says",
    [
        ("complete_simulation_results.json", "truncate", json.JSONDecodeError, "cannot be read"),
        ("complete_simulation_results.json", '{"config": {}}', KeyError, "cannot be read"),
        ("iteration_1/observations.parquet", "truncate", ValueError, "cannot be read"),
        ("iteration_0/action_bank.json", "delete", FileNotFoundError, "is missing"),
        ("iteration_0/action_bank.json", '{"action_ids": [1]}', ValueError, "cannot be read"),
        ("iteration_1/ground_truth_evaluation.json", "truncate", ValueError, "cannot be read"),
    ],
)
def test_loading_a_damaged_results_directory_names_the_file(
    saved_results, tmp_path, relative, how, cause, says
):
    # A damaged directory raised a bare JSONDecodeError or ArrowInvalid.
    import shutil

    root = tmp_path / "damaged"
    shutil.copytree(saved_results, root)
    _damage(root, relative, how)
    with pytest.raises(ValueError, match=f"damaged results directory: {relative} {says}") as info:
        SimulationResults.load(root)
    assert isinstance(info.value.__cause__, cause)


@pytest.mark.parametrize(
    "relative, how, says",
    [
        ("data_config.json", "truncate", "cannot be read"),
        ("data_config.json", "{}", "cannot be read"),
        ("iteration_0/users/users.parquet", "truncate", "cannot be read"),
        ("initialization/action_bank/action_bank.json", "delete", "is missing"),
    ],
)
def test_loading_damaged_simulation_data_names_the_file(tmp_path, relative, how, says):
    small_simulator(n_iterations=1, n_users=50).generate_data(tmp_path / "data")
    _damage(tmp_path / "data", relative, how)
    with pytest.raises(ValueError, match=f"damaged simulation-data directory: {relative} {says}"):
        SimulationData.load(tmp_path / "data")


def test_run_refuses_a_used_directory_before_any_work(tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("keep")
    with pytest.raises(ValueError, match="not empty"):
        small_simulator().run(tmp_path / "used")
    assert (tmp_path / "used" / "x").read_text() == "keep"


def test_run_overwrites_only_a_previous_runs_results(tmp_path):
    # The README's run("results/run_0") could not be run twice: the error
    # now says how to proceed, and overwrite=True replaces a previous run's
    # results, never another directory.
    root = tmp_path / "run_0"
    first = small_simulator(n_iterations=1, n_users=100).run(root)
    with pytest.raises(ValueError, match="choose a new directory, or pass overwrite=True"):
        small_simulator(n_iterations=1, n_users=100).run(root)
    second = small_simulator(n_iterations=1, n_users=100, random_state=1).run(root, overwrite=True)
    loaded = SimulationResults.load(root)
    pd.testing.assert_frame_equal(loaded.iterations, second.iterations)
    assert not loaded.iterations.equals(first.iterations)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_0"]  # nothing left aside
    # Anything else is not ours to delete: refused before any work.
    (root / "notes.txt").write_text("keep")
    other = tmp_path / "mine"
    other.mkdir()
    (other / "data.csv").write_text("keep")
    for target in (root, other, tmp_path / "file.txt"):
        if target.name == "file.txt":
            target.write_text("keep")
        with pytest.raises(ValueError, match="not a previous run's results directory"):
            small_simulator(n_iterations=1, n_users=100).run(target, overwrite=True)
    assert (root / "notes.txt").read_text() == "keep" and (other / "data.csv").read_text() == "keep"
    pd.testing.assert_frame_equal(SimulationResults.load(root).iterations, second.iterations)
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        small_simulator().run(root, overwrite="yes")


def test_the_readme_company_snippets_can_be_run_twice():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    runs = re.findall(r"\.run\(([^)]*)\)", readme)
    assert runs and all("overwrite=True" in call for call in runs if "results/" in call), runs


def test_same_seed_same_results_and_batching_changes_no_data():
    a = small_simulator(batch_size=600).fit().results_
    b = small_simulator(batch_size=600).fit().results_
    pd.testing.assert_frame_equal(a.observations[1], b.observations[1])
    # A learning strategy's decisions depend on when it updates, so only a
    # strategy that does not learn can show that batching changes nothing
    # else: users, clicks and decisions.
    c = small_simulator(strategy=RandomStrategy(random_state=0), batch_size=150).fit().results_
    d = small_simulator(strategy=RandomStrategy(random_state=0), batch_size=600).fit().results_
    pd.testing.assert_frame_equal(c.observations[1], d.observations[1])
    # With a learner, the users and each user's click draw stay the same.
    e = small_simulator(batch_size=150).fit().results_
    pd.testing.assert_frame_equal(
        e.observations[1][["user_id", *USER_FEATURES]],
        a.observations[1][["user_id", *USER_FEATURES]],
    )


def test_saved_data_gives_the_same_run(tmp_path):
    sim = small_simulator()
    data = sim.generate_data(tmp_path / "data")
    loaded = SimulationData.load(tmp_path / "data")
    pd.testing.assert_frame_equal(loaded.users[1], data.users[1])
    assert isinstance(loaded.initial_bank, ActionBank)
    direct = sim.fit().results_.iterations
    from_disk = small_simulator().fit(data=tmp_path / "data").results_.iterations
    pd.testing.assert_frame_equal(direct, from_disk)


def test_linucb_company_beats_random_targeting():
    rewards = {}
    for name, strategy in (
        ("linucb", LinUCBStrategy(alpha=0.5, random_state=0)),
        ("random", RandomStrategy(random_state=0)),
    ):
        sim = small_simulator(
            strategy=strategy, ground_truth=LinearPreference(), n_users=3000, n_iterations=2
        )
        rewards[name] = sim.fit().results_.iterations["expected_reward"].to_numpy()
    assert rewards["linucb"][-1] > rewards["random"][-1] + 0.01


def test_a_small_population_still_teaches_the_strategy_within_an_iteration():
    # One default batch of 1,000 over 500 users gave one action to most of
    # them and scored below random targeting on the GMM truth.
    sim = CompanySimulator(
        strategy=LinUCBStrategy(), ground_truth=GMMPreference(), n_users=500, random_state=0
    )
    results = sim.run()
    assert results.config["batch_size"] == 50  # ten updates an iteration
    last = results.iterations.iloc[-1]
    assert last["expected_reward"] > last["random_reward"] + 0.01, last
    assert results.config["ground_truth"]["class"] == "GMMPreference"
    from hillmix_sim.targeting._company import _default_batch_size

    assert [_default_batch_size(n) for n in (5, 500, 10_000, 10**6)] == [1, 50, 1000, 1000]
    assert small_simulator(n_iterations=1).run().config["batch_size"] == 200  # as given


def test_the_default_truth_is_recorded_by_name():
    results = small_simulator(n_iterations=1, n_users=100).run()
    assert results.config["ground_truth"] == "mixture_of_experts"


def test_bank_size_without_algorithm_is_refused():
    with pytest.raises(ValueError, match="algorithm"):
        small_simulator(action_bank_size=5).fit()


class KeepBestAlgorithm:
    """Keeps the actions with the highest observed click rate, adds fresh ones."""

    def propose_bank(self, observations, actions, n_actions, first_action_id, random_state):
        rates = observations.groupby("action_id")["reward"].mean()
        keep = [int(a) for a in rates.sort_values(ascending=False).index[: n_actions // 2]]
        kept = actions.take([list(actions.action_ids).index(a) for a in keep])
        rng = np.random.default_rng(random_state)
        n_new = n_actions - len(kept)
        fresh = ActionBank(
            action_ids=np.arange(first_action_id, first_action_id + n_new),
            texts=tuple(f"new action {first_action_id + i}" for i in range(n_new)),
            embeddings=rng.normal(size=(n_new, actions.embedding_dim)),
        )
        self.results_ = {"kept": keep}
        return kept.concat(fresh)


def test_algorithm_banks_get_fresh_sequential_ids():
    sim = small_simulator(algorithm=KeepBestAlgorithm(), action_bank_size=6, n_iterations=3)
    results = sim.fit().results_
    first = set(results.banks[0].action_ids)
    second = set(results.banks[1].action_ids)
    assert len(results.banks[1]) == 6 and second - first
    assert min(second - first) == max(first) + 1
    assert results.algorithm_results[0]["kept"]


@settings(max_examples=10, deadline=None)
@given(n_users=st.integers(1, 50), seed=st.integers(0, 2**16))
def test_any_population_size_gives_valid_features(n_users, seed):
    users = UserGenerator(random_state=seed).fit().generate(n_users)
    Z = user_matrix(users)
    assert Z.shape == (n_users, 8) and np.all(np.isfinite(Z))


def test_docs_page_examples_run():
    import doctest
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "targeting.rst"
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    result = doctest.testfile(str(page), module_relative=False, optionflags=flags)
    assert result.failed == 0 and result.attempted >= 5


def test_unknown_names_are_clear_errors():
    from hillmix_opt import make_strategy
    from hillmix_sim import make_ground_truth

    with pytest.raises(ValueError, match=r"Unknown ground truth 'gaussian'.*'gmm'"):
        make_ground_truth("gaussian")
    with pytest.raises(ValueError, match="Unknown ground truth"):
        small_simulator(ground_truth="gaussian").fit()
    with pytest.raises(ValueError, match=r"Unknown strategy 'ucb'.*'linucb'"):
        make_strategy("ucb")
    with pytest.raises(ValueError, match=r"no parameters \['alpha'\]"):
        make_strategy("random", alpha=1.0)
    results = small_simulator(ground_truth="linear", n_iterations=1).fit().results_
    assert results.config["ground_truth"] == "linear"


def test_generator_random_state_and_recorded_seed_reproduce_the_run():
    rng_run = small_simulator(random_state=np.random.default_rng(5), n_iterations=1).fit()
    config = rng_run.results_.config
    replay = small_simulator(random_state=config["root_seed"], n_iterations=1).fit()
    pd.testing.assert_frame_equal(rng_run.results_.observations[0], replay.results_.observations[0])
    for est in (UserGenerator, LinearPreference):
        # Stored as given, not consumed at construction.
        generator = np.random.default_rng(0)
        assert est(random_state=generator).get_params()["random_state"] is generator
        assert generator.bit_generator.state == np.random.default_rng(0).bit_generator.state
    # fit draws from the generator: equal generators give equal users, and
    # the caller's generator moves on.
    generator = np.random.default_rng(0)
    first = UserGenerator(random_state=generator).fit().generate(50)
    again = UserGenerator(random_state=np.random.default_rng(0)).fit().generate(50)
    pd.testing.assert_frame_equal(first, again)
    assert generator.bit_generator.state != np.random.default_rng(0).bit_generator.state


def test_a_given_action_generator_is_seeded_not_advanced():
    from hillmix_sim import TemplateActionGenerator

    writer = TemplateActionGenerator()
    a = small_simulator(action_generator=writer).generate_data()
    b = small_simulator(action_generator=writer).generate_data()
    assert a.initial_bank.texts == b.initial_bank.texts
    assert writer.random_state is None


def test_generate_data_refuses_a_used_directory_before_drawing(tmp_path, monkeypatch):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("keep")

    def boom(*args, **kwargs):
        raise AssertionError("drew data before checking the path")

    monkeypatch.setattr(CompanySimulator, "_generate_data", boom)
    with pytest.raises(ValueError, match="not empty"):
        small_simulator().generate_data(tmp_path / "used")


def test_a_strategy_warm_started_on_raw_columns_is_caught():
    from hillmix_sim import USER_SCORE_COLUMNS

    results = small_simulator(n_iterations=1).fit().results_
    log, bank = results.observations[0], results.banks[0]
    raw = LinUCBStrategy(random_state=0).fit(log, bank, feature_columns=list(USER_FEATURES))
    scores = pd.DataFrame(user_matrix(log), columns=list(USER_SCORE_COLUMNS))
    with pytest.raises(ValueError, match="columns"):
        raw.predict_proba(scores)
    warm = LinUCBStrategy(random_state=0).fit(log, bank, feature_columns=USER_SCORE_COLUMNS)
    assert warm.predict_proba(scores).shape == (len(log), len(bank))


# ---------------------------------------------------------------- fixed policies
@pytest.fixture(scope="module")
def fitted_company():
    return small_simulator(n_iterations=1, n_initial_actions=5).fit()


def test_policy_value_is_the_truths_mean_on_fresh_users(fitted_company):
    sim = fitted_company
    bank = sim.results_.banks[0]
    uniform = RandomStrategy().set_bank(bank)
    value, se = sim.policy_value(uniform, n_users=3000, random_state=1, return_std_error=True)
    users = sim.sample_users(3000, random_state=1)
    P = sim.ground_truth_.click_probability(users, bank)
    assert value == pytest.approx(P.mean(), rel=1e-12)
    assert se == pytest.approx(P.mean(axis=1).std(ddof=1) / np.sqrt(3000), rel=1e-9)
    assert sim.policy_value(uniform, n_users=3000, random_state=1) == value
    assert sim.policy_value(uniform, users=users) == value
    # Fresh users: not the run's, and another seed gives others.
    run_ages = sim.results_.observations[0]["age"].to_numpy()
    assert not np.array_equal(users["age"].to_numpy()[: len(run_ages)], run_ages)
    assert not users["age"].equals(sim.sample_users(3000, random_state=2)["age"])


def test_simulate_log_draws_from_the_policy_and_logs_its_probabilities(fitted_company):
    sim = fitted_company
    bank = sim.results_.banks[0]
    observations, proba = sim.simulate_log(sim.strategy_, n_users=2000, random_state=3)
    again, _ = sim.simulate_log(sim.strategy_, n_users=2000, random_state=3)
    pd.testing.assert_frame_equal(observations, again)
    rows = np.arange(len(observations))
    position = bank.index_of(observations["action_id"])
    np.testing.assert_array_equal(observations["propensity"], proba[rows, position])
    assert set(np.unique(observations["reward"])) <= {0.0, 1.0}
    # Actions follow the policy's probabilities (within sampling error).
    share = np.bincount(position, minlength=len(bank)) / len(position)
    assert np.abs(share - proba.mean(axis=0)).max() < 0.04


def test_a_policy_on_another_bank_is_refused(fitted_company):
    sim = fitted_company
    other = RandomStrategy().set_bank((np.arange(100, 103), np.ones((3, 64))))
    with pytest.raises(ValueError, match="other actions than bank"):
        sim.policy_value(other, n_users=10)
    with pytest.raises(TypeError, match="predict_proba"):
        sim.simulate_log(object(), n_users=10)
    with pytest.raises(ValueError, match="n_users"):
        sim.sample_users(0)
