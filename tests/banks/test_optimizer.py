"""ActionBankOptimizer in the company loop: banks, ids, results, reproducibility, errors."""

import warnings

import numpy as np
import pandas as pd
import pytest

from hillmix_opt import (
    ActionBankOptimizer,
    CandidateGenerator,
    LinUCBStrategy,
    LogisticRewardModel,
    RandomStrategy,
)
from hillmix_sim import CompanySimulator, FallbackWarning, HashingEmbedder, SimulationResults

SMALL = {"n_iterations": 2, "n_users": 1500, "n_initial_actions": 8}


def _optimizer(**params):
    return ActionBankOptimizer(
        **{"reward_model": LogisticRewardModel(), "action_pool_size": 60, **params}
    )


@pytest.fixture(scope="module")
def run():
    sim = CompanySimulator(
        strategy=LinUCBStrategy(), algorithm=_optimizer(), action_bank_size=4, random_state=0,
        **SMALL,
    )  # fmt: skip
    return sim, sim.run()


def test_the_company_deploys_the_proposed_bank(run):
    _, results = run
    new = results.new_banks[0]
    assert len(new) == 4 and results.banks[1] == new
    old = results.banks[0]
    kept = np.isin(new.action_ids, old.action_ids)
    # Kept actions keep their ids and texts; new ones get ids above every old one.
    for action_id in new.action_ids[kept]:
        assert new.texts[new.index_of([action_id])[0]] == old.texts[old.index_of([action_id])[0]]
    assert np.all(new.action_ids[~kept] > old.action_ids.max())
    assert set(results.observations[1]["action_id"]) <= set(new.action_ids)


def test_results_and_the_truths_judgement(run):
    sim, results = run
    record = results.algorithm_results[0]
    assert record["pool_size"] == 8 + 60 and record["bank_size"] == 4
    assert 0 < record["expected_value"] <= 1 and record["n_log_rows"] == 1500
    judged = results.ground_truth_evaluations[0]["proposal"]
    # The pool's best bank, chosen on the truth, is at least as good as the new one.
    assert judged["pool_best_bank_oracle_value"] >= judged["new_bank_oracle_value"] - 1e-12
    assert -1 <= judged["model_truth_correlation"] <= 1
    # The run's copy saw both iterations' logs; the parameter was left untouched.
    assert len(sim.algorithm_.log_) == 3000 and not hasattr(sim.algorithm, "log_")


def test_same_seed_same_banks_and_results_reload(run, tmp_path):
    # (The company's batch_size is when its strategy learns: another one
    # makes other decisions, so another log and other banks.)
    _, results = run
    again = CompanySimulator(
        strategy=LinUCBStrategy(), algorithm=_optimizer(), action_bank_size=4, random_state=0,
        **SMALL,
    ).run(tmp_path / "r")  # fmt: skip
    for a, b in zip(results.new_banks, again.new_banks, strict=True):
        assert a == b
    loaded = SimulationResults.load(tmp_path / "r")
    assert loaded.new_banks[0] == results.new_banks[0]
    assert loaded.algorithm_results[0]["expected_value"] == pytest.approx(
        results.algorithm_results[0]["expected_value"]
    )


def test_uncertainty_needs_a_model_that_has_it():
    log, bank = _log()
    with pytest.raises(ValueError, match="use_uncertainty"):
        _optimizer(use_uncertainty=True).propose_bank(log, bank, 3, 100, 0)


@pytest.mark.parametrize(
    ("params", "call", "error", "match"),
    [
        ({}, {"n_actions": 500}, ValueError, "pool's size"),
        ({"diversity_weight": -0.1}, {}, ValueError, "diversity_weight"),
        ({"uncertainty_weight": -1.0}, {}, ValueError, "uncertainty_weight"),
        ({"reward_model": HashingEmbedder()}, {}, ValueError, "reward_model"),
        ({"embedder": HashingEmbedder(n_features=32)}, {}, ValueError, "embedder"),
    ],
)
def test_bad_input_is_refused_before_any_work(params, call, error, match):
    log, bank = _log()
    optimizer = _optimizer(**params)
    with pytest.raises(error, match=match):
        optimizer.propose_bank(log, bank, call.get("n_actions", 3), 100, 0)
    assert not hasattr(optimizer, "reward_model_")


def test_a_log_without_the_decisions_is_refused():
    log, bank = _log()
    with pytest.raises(ValueError, match=r"\['reward'\]"):
        _optimizer().propose_bank(log.drop(columns="reward"), bank, 3, 100, 0)


def test_a_reward_model_that_is_not_a_classifier_is_refused():
    from sklearn.linear_model import LinearRegression

    class Regressor(LinearRegression):
        def predict_matrix(self, users, actions):
            return None

    log, bank = _log()
    with pytest.raises(TypeError, match="classifier"):
        ActionBankOptimizer(reward_model=Regressor()).propose_bank(log, bank, 3, 100, 0)


def _log():
    sim = CompanySimulator(
        strategy=RandomStrategy(), n_iterations=1, n_users=800, n_initial_actions=6,
        random_state=1,
    )  # fmt: skip
    results = sim.run()
    return results.observations[0], results.banks[0]


# ----------------------------------------------------------------- candidates
def test_offline_candidates_vary_the_parents():
    from hillmix_opt.banks._candidates import split_parts

    parents = [
        "Subject: 20% off coffee | Body: Good news from us. Take 20% off all coffee.",
        "Subject: Free shipping on books | Body: Don't miss out. Enjoy free shipping.",
    ]
    texts = CandidateGenerator(exploration=0.0, mutation_rate=0.0, random_state=0).generate(
        3, parents
    )
    parts = {p for t in parents for p in [split_parts(t)[0], *split_parts(t)[1]]}
    # Without mutation, every part of a child is a parent's part.
    for text in texts:
        subject, body = split_parts(text)
        assert {subject, *body} <= parts
    assert len(set(texts)) == 3 and not set(texts) & set(parents)


def test_candidates_are_reproducible_and_explore():
    parents = CandidateGenerator(random_state=1).generate(5, ["Subject: A | Body: Hello."])
    a = CandidateGenerator(random_state=3).generate(40, parents)
    assert a == CandidateGenerator(random_state=3).generate(40, parents)
    assert a != CandidateGenerator(random_state=4).generate(40, parents)


def test_openai_candidates_vary_the_parents_and_are_cached(openai_server, tmp_path):
    parents = ["Subject: 20% off coffee | Body: Good news. Take 20% off all coffee."]
    generator = CandidateGenerator(
        backend="openai", api_key="test", base_url=openai_server.base_url, cache_dir=tmp_path,
        backoff=0.0, exploration=0.0, random_state=0,
    )  # fmt: skip
    texts = generator.generate(10, parents)
    assert generator.backend_ == "openai" and len(set(texts)) == 10
    assert "worked well" in openai_server.requests[-1][1]["messages"][1]["content"]
    sent = openai_server.count()
    assert generator.generate(10, parents) == texts
    assert openai_server.count() == sent  # a cache hit sends no request


@pytest.mark.parametrize("failure", ["500", "timeout", "malformed"])
def test_an_llm_failure_falls_back_to_recombination_with_one_warning(
    failure, openai_server, tmp_path
):
    parents = ["Subject: 20% off coffee | Body: Good news. Take 20% off all coffee."]
    openai_server.default = failure
    generator = CandidateGenerator(
        backend="openai", api_key="test", base_url=openai_server.base_url, max_retries=1,
        backoff=0.0, timeout=0.5, exploration=0.0, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        texts = generator.generate(6, parents)
    assert [w.category for w in caught] == [FallbackWarning]
    assert len(set(texts)) == 6 and generator.backend_ == "offline"


def test_a_rate_limit_is_retried_to_success(openai_server):
    openai_server.script("429")
    generator = CandidateGenerator(
        backend="openai", api_key="test", base_url=openai_server.base_url, backoff=0.0,
        exploration=0.0, random_state=0,
    )  # fmt: skip
    texts = generator.generate(5, ["Subject: A | Body: Hello there."])
    assert generator.backend_ == "openai" and len(texts) == 5


def test_observations_must_be_a_frame():
    _, bank = _log()
    with pytest.raises(TypeError, match="DataFrame"):
        _optimizer().propose_bank(np.zeros((3, 3)), bank, 3, 100, 0)
    with pytest.raises(TypeError, match="ActionBank"):
        _optimizer().propose_bank(pd.DataFrame({"action_id": [1], "reward": [0]}), [], 3, 1, 0)


def test_the_company_refuses_an_impossible_proposal_before_any_work(tmp_path):
    sim = CompanySimulator(
        strategy=RandomStrategy(), algorithm=_optimizer(action_pool_size=2),
        action_bank_size=50, random_state=0, **SMALL,
    )  # fmt: skip
    with pytest.raises(ValueError, match="pool's size"):
        sim.run(tmp_path / "r")
    assert not (tmp_path / "r").exists() and not hasattr(sim, "results_")


def test_uncertainty_aware_selection_reports_the_spread():
    pytest.importorskip("torch")
    from hillmix_opt import BayesianNeuralRewardModel

    log, bank = _log()
    model = BayesianNeuralRewardModel(lr=1e-2, max_epochs=3, n_mc_samples=4, random_state=0)
    optimizer = _optimizer(reward_model=model, use_uncertainty=True, uncertainty_weight=1.0)
    new = optimizer.propose_bank(log, bank, 3, 100, 0)
    record = optimizer.results_
    assert len(new) == 3 and record["mean_std_chosen"] > 0 and record["mean_std_pool"] > 0


def test_a_failed_call_leaves_the_optimizer_as_it_was_and_ids_stay_fresh():
    log, bank = _log()
    optimizer = _optimizer()
    first = optimizer.propose_bank(log, bank, 3, None, 0)
    assert first.action_ids.min() >= 0 and len(optimizer.log_) == len(log)
    # A log that names an action no bank holds fails, and is not kept.
    bad = log.assign(action_id=999)
    with pytest.raises(ValueError, match="999"):
        optimizer.propose_bank(bad, first, 3, None, 1)
    assert len(optimizer.log_) == len(log)
    # Without first_action_id, new ids start above every id seen, the old bank's too.
    second_log = log.assign(action_id=np.resize(first.action_ids, len(log)))
    second = optimizer.propose_bank(second_log, first, 3, None, 2)
    new = np.setdiff1d(second.action_ids, first.action_ids)
    assert new.size == 0 or new.min() > max(bank.action_ids.max(), first.action_ids.max())
    with pytest.raises(ValueError, match="first_action_id"):
        optimizer.propose_bank(second_log, first, 3, 0, 3)


def test_a_set_seed_of_the_generator_is_kept():
    log, bank = _log()
    banks = [
        _optimizer(candidate_generator=CandidateGenerator(random_state=s)).propose_bank(
            log, bank, 3, 100, 0
        )
        for s in (1, 2)
    ]
    assert banks[0] != banks[1]


def test_the_chat_model_is_not_told_to_avoid_the_actions_it_should_vary(openai_server):
    parents = ["Subject: 20% off coffee | Body: Good news. Take 20% off all coffee."]
    CandidateGenerator(
        backend="openai", api_key="test", base_url=openai_server.base_url, exploration=0.0,
        random_state=0,
    ).generate(3, parents, exclude=parents)  # fmt: skip
    prompt = openai_server.requests[-1][1]["messages"][1]["content"]
    avoid = prompt.split("Do not repeat")[-1] if "Do not repeat" in prompt else ""
    assert parents[0] in prompt and parents[0] not in avoid


def test_the_reply_cache_is_per_endpoint(openai_server, tmp_path):
    from hillmix_sim import LLMActionGenerator

    common = {"api_key": "test", "cache_dir": tmp_path, "backoff": 0.0, "max_retries": 0}
    LLMActionGenerator(base_url=openai_server.base_url, **common).generate(3)
    elsewhere = LLMActionGenerator(base_url="http://127.0.0.1:9/v1", timeout=0.5, **common)
    with pytest.warns(FallbackWarning):
        elsewhere.generate(3)
    assert elsewhere.backend_ == "template"
