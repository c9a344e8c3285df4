"""The checks every registered estimator passes: scikit-learn's, and hillmix's own by kind."""

import importlib

import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator, parametrize_with_checks

import hillmix
import hillmix_opt
import hillmix_sim
from hillmix.utils import (
    all_estimators,
    check_allocator,
    check_generator,
    check_simulator,
    check_strategy,
    resolve_seed,
)
from hillmix.utils._discovery import defined_estimators
from hillmix_opt import HillCurveModel, LogisticRewardModel, RandomStrategy
from hillmix_sim import HashingEmbedder

PACKAGES = (hillmix, hillmix_sim, hillmix_opt)

# Fast, seeded constructor arguments for the checks (the checks fit dozens
# of times on tiny data).
FAST_PARAMS = {
    "HillMixtureMMM": {
        "n_components": 2,
        "adstock_max_lag": 2,
        "num_warmup": 20,
        "num_samples": 20,
        "num_chains": 2,
        "max_tree_depth": 5,
        # 0.99, the mixture default, halves the step size; 20 warm-up draws
        # cannot then reach the fit the regressor checks ask for.
        "target_accept": 0.95,
        "yearly_seasonality": 0,
        "random_state": 0,
    },
    "MMMDataGenerator": {"n_periods": 20, "n_channels": 2, "random_state": 0},
    "RetailSimulator": {
        "n_households": 20,
        "n_products": 40,
        "n_categories": 4,
        "n_stores": 3,
        "random_state": 0,
    },
    "SimulatorCalibrator": {"search_space": "tier1", "n_trials": 2, "random_state": 0},
    "HillCurveModel": {"n": 2.0},
    "LinUCBStrategy": {"pca_components": 2, "random_state": 0},
    "DisjointLinUCBStrategy": {"random_state": 0},
    "BootstrapEnsembleStrategy": {"n_heads": 3, "pca_components": 2, "random_state": 0},
    "RandomStrategy": {"random_state": 0},
    "UserGenerator": {"n_users": 10, "random_state": 0},
    "MixtureOfExpertsPreference": {"embedding_dim": 4, "latent_dim": 2, "random_state": 0},
    "GMMPreference": {"embedding_dim": 4, "latent_dim": 2, "random_state": 0},
    "LinearPreference": {"embedding_dim": 4, "latent_dim": 2, "random_state": 0},
    "CompanySimulator": {
        "strategy": RandomStrategy(random_state=0),
        "embedder": HashingEmbedder(n_features=8),
        "n_iterations": 1,
        "n_users": 20,
        "n_initial_actions": 3,
        "random_state": 0,
    },
    # Reward models: few epochs (a higher rate), few trees, few inducing points.
    "LogisticRewardModel": {},
    "LightGBMRewardModel": {"n_estimators": 10, "random_state": 0},
    "NeuralRewardModel": {"lr": 1e-2, "max_epochs": 20, "random_state": 0},
    "BayesianNeuralRewardModel": {
        "lr": 1e-2,
        "max_epochs": 20,
        "n_mc_samples": 5,
        "random_state": 0,
    },
    "GaussianProcessRewardModel": {
        "n_inducing": 16,
        "lr": 0.05,
        "max_epochs": 20,
        "random_state": 0,
    },
    "FTTransformerRewardModel": {"lr": 1e-2, "max_epochs": 20, "random_state": 0},
    "ActionBankOptimizer": {
        "reward_model": LogisticRewardModel(),
        "action_pool_size": 10,
        "random_state": 0,
    },
    # The checks fit on random spend with any number of columns; an unfitted
    # HillCurveModel is fitted by the allocator on that spend (its channels
    # are the columns), so every check gets a valid problem at no MCMC cost.
    "BudgetAllocator": {
        "models": HillCurveModel(amplitude=10.0, n=2.0),
        "num_periods": 1,
        "n_starts": 1,
        "random_state": 0,
    },
}

# Arguments of a simulator's generate() for check_simulator (small sizes).
GENERATE_PARAMS = {"RetailSimulator": {"n_weeks": 3}}

# Every name each package exported before the layout of one folder per
# family: they must keep importing from the package itself.
EXPORTED_BEFORE = {
    "hillmix": [
        "PRIOR_NAMES", "ConvergenceWarning", "HillMixtureMMM", "bulk_ess", "default_priors",
        "enable_compilation_cache", "geometric_adstock", "geometric_adstock_weights", "hill",
        "hill_mixture", "lag_stack", "plot_contributions", "plot_response_curves", "rank_rhat",
        "summarize_draws",
    ],
    "hillmix.utils": ["all_estimators", "check_generator", "estimator_from_name", "resolve_seed"],
    "hillmix_sim": [
        "TRANSACTION_COLUMNS", "USER_FEATURES", "USER_SCORE_COLUMNS", "ActionBank",
        "ActionBankAlgorithm", "ActionEmbedder", "CompanySimulator", "FallbackWarning",
        "GMMPreference", "HashingEmbedder", "LLMActionGenerator", "LinearPreference",
        "MMMDataGenerator", "MixtureOfExpertsPreference", "OpenAIUnavailableError", "RetailData",
        "RetailSimulator", "SentenceTransformerEmbedder", "SimulationData", "SimulationResults",
        "TemplateActionGenerator", "UserGenerator", "make_action_bank", "make_ground_truth",
        "make_mmm_data", "make_retail_data", "user_matrix",
    ],
    "hillmix_opt": [
        "STRATEGIES", "AllocationResult", "BootstrapEnsembleStrategy", "BudgetAllocator",
        "HillCurveModel", "LinUCBStrategy", "ModelWeight", "RandomStrategy", "ResponseModel",
        "ZeroWeightWarning", "make_strategy",
    ],
    "hillmix_cli": ["build_parser", "main"],
}  # fmt: skip

PUBLIC_MODULES = (
    "hillmix",
    "hillmix.utils",
    "hillmix_sim",
    "hillmix_sim.retail",
    "hillmix_sim.metrics",
    "hillmix_sim.datasets",
    "hillmix_sim.targeting",
    "hillmix_opt",
    "hillmix_opt.allocation",
    "hillmix_opt.banks",
    "hillmix_opt.evaluation",
    "hillmix_opt.rewards",
    "hillmix_opt.targeting",
    "hillmix_cli",
)

# The fast settings are far too short for NUTS to converge; the checks are
# about the estimator contract, so the convergence warning is expected.
pytestmark = pytest.mark.filterwarnings("ignore::hillmix.exceptions.ConvergenceWarning")


def _instance(name, cls):
    return cls(**FAST_PARAMS.get(name, {}))


def _instances(kind=None):
    return [_instance(name, cls) for name, cls in all_estimators(PACKAGES, kind=kind)]


def _expected_failed_checks(estimator):
    # Each estimator states its own expected failures, with reasons.
    return getattr(estimator, "_expected_failed_checks", dict)()


@parametrize_with_checks(_instances(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("strategy", _instances("strategy"), ids=type)
def test_strategy_contract(strategy):
    check_strategy(type(strategy).__name__, strategy)


@pytest.mark.parametrize("simulator", _instances("simulator"), ids=type)
def test_simulator_contract(simulator):
    name = type(simulator).__name__
    check_simulator(name, simulator, GENERATE_PARAMS.get(name))


@pytest.mark.parametrize("allocator", _instances("allocator"), ids=type)
def test_allocator_contract(allocator):
    check_allocator(type(allocator).__name__, allocator)


def test_every_kind_has_its_estimators():
    # A check that runs over nothing would pass for the wrong reason.
    kinds = {kind: [n for n, _ in all_estimators(PACKAGES, kind=kind)] for kind in
             ("strategy", "simulator", "allocator")}  # fmt: skip
    assert kinds == {
        "strategy": [
            "BootstrapEnsembleStrategy",
            "DisjointLinUCBStrategy",
            "LinUCBStrategy",
            "RandomStrategy",
        ],
        "simulator": ["CompanySimulator", "MMMDataGenerator", "RetailSimulator", "UserGenerator"],
        "allocator": ["BudgetAllocator"],
    }


def test_every_estimator_is_registered():
    registered = {cls for _, cls in all_estimators(PACKAGES)}
    unregistered = [name for name, cls in defined_estimators(PACKAGES) if cls not in registered]
    assert not unregistered, (
        f"{unregistered} are estimators but not exported in their package's __all__"
    )


@pytest.mark.parametrize("name", [name for name, _ in all_estimators(PACKAGES)])
def test_every_estimator_has_fast_settings(name):
    assert name in FAST_PARAMS, f"add fast constructor settings for {name} to FAST_PARAMS"


def test_discovery_takes_modules_not_names():
    with pytest.raises(TypeError, match="imported modules"):
        all_estimators(["hillmix_opt"])
    with pytest.raises(ValueError, match="kind"):
        all_estimators(PACKAGES, kind="regressor")


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_every_public_name_imports(module):
    imported = importlib.import_module(module)
    names = imported.__all__
    assert sorted(names) == sorted(set(names)), f"{module}.__all__ repeats names"
    missing = [name for name in names if not hasattr(imported, name)]
    assert not missing, f"{module}.__all__ lists {missing}, which it does not define"


@pytest.mark.parametrize("module", sorted(EXPORTED_BEFORE))
def test_names_exported_before_the_layout_still_import(module):
    imported = importlib.import_module(module)
    lost = [name for name in EXPORTED_BEFORE[module] if name not in imported.__all__]
    assert not lost, f"{module} no longer exports {lost}"


def test_subpackages_export_only_what_their_package_exports():
    # One public path per name: users import from the package, as the docs do.
    for package, families in [
        (hillmix_sim, ("retail", "targeting")),
        (hillmix_opt, ("allocation", "evaluation", "targeting")),
    ]:
        for family in families:
            module = importlib.import_module(f"{package.__name__}.{family}")
            extra = set(module.__all__) - set(package.__all__)
            assert not extra, f"{module.__name__} exports {sorted(extra)} that {package} does not"
            for name in module.__all__:
                assert getattr(module, name) is getattr(package, name)


@pytest.mark.parametrize("seed", [0, 5, 2**31 - 1])
def test_distinct_int_seeds_stay_distinct(seed):
    # Seeds were once reduced modulo 2**31, so seed + 2**31 replayed seed's run.
    assert resolve_seed(seed) == seed
    assert resolve_seed(seed + 2**31) == seed + 2**31
    first, second = check_generator(seed), check_generator(seed + 2**31)
    assert first.integers(2**62) != second.integers(2**62)
    with pytest.raises(ValueError, match="random_state"):
        resolve_seed(2**32)


def _expected_failures(estimator):
    """The (estimator, check) pairs an estimator declares will fail."""
    checks = estimator_checks_generator(
        estimator,
        legacy=True,
        expected_failed_checks=_expected_failed_checks(estimator),
        mark="xfail",
    )
    # Expected failures come as pytest.param, marked xfail; the others as tuples.
    return [item.values for item in checks if hasattr(item, "marks")]


@pytest.mark.parametrize("simulator", _instances("simulator"), ids=type)
def test_expected_failures_of_simulators_do_fail(simulator):
    # An xfail whose reason went stale would pass silently (XPASS is no error).
    passing = []
    for estimator, check in _expected_failures(simulator):
        try:
            check(estimator)
        except Exception:
            continue
        passing.append(getattr(check, "func", check).__name__)
    assert not passing, f"declared as failing but passing: {passing}"
