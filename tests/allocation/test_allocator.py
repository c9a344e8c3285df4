"""BudgetAllocator: contract, multi-model bookkeeping, edge cases, errors."""

import doctest
import pickle
import warnings
from pathlib import Path

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

from hillmix import HillMixtureMMM
from hillmix_opt import (
    AllocationResult,
    BudgetAllocator,
    HillCurveModel,
    ModelWeight,
    ResponseModel,
    ZeroWeightWarning,
)

CHANNELS = ["tv", "search", "social"]
# Eight posterior draws, as in tests/test_allocator_optimality.py: the
# compiled search programs depend on the number of draws and are shared.
N_DRAWS = 8


def _draws(*rows):
    """Curve amplitudes with N_DRAWS draws, cycling through the rows given."""
    rows = np.array(rows, dtype=float)
    return rows[np.arange(N_DRAWS) % len(rows)][..., None]


@pytest.fixture(scope="module")
def history():
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.uniform(20.0, 120.0, size=(12, 3)), columns=CHANNELS)


def _store(history):
    # Two draws: amplitudes differ, so intervals have width.
    amplitude = _draws([900.0, 300.0, 200.0], [1100.0, 340.0, 160.0])
    return HillCurveModel(amplitude=amplitude, kappa=[150.0, 60.0, 40.0], n=[2.5, 1.0, 0.8]).fit(
        history
    )


def _online(history):
    amplitude = _draws([500.0, 420.0], [560.0, 380.0])
    return HillCurveModel(amplitude=amplitude, kappa=[50.0, 30.0], n=[1.2, 1.8]).fit(
        history[["search", "social"]]
    )


@pytest.fixture(scope="module")
def allocator(history):
    models = {"store": _store(history), "online": _online(history)}
    return BudgetAllocator(
        models=models, weights={"store": 0.3, "online": 0.5}, num_periods=4, random_state=0
    ).fit(history)


class Spy:
    """A minimal protocol model (no scikit-learn) that counts its calls."""

    def __init__(self, channels, scale=100.0):
        self.channel_names_ = list(channels)
        self.scale = scale
        self.calls = 0

    def media_response(self, spend_plan, n_draws=None):
        self.calls += 1
        plan = jnp.asarray(spend_plan)
        return (self.scale * plan / (plan + 50.0))[None]


# ------------------------------------------------------------- the result
def test_result_breakdown_adds_up(allocator):
    result = allocator.optimize(200.0, compare_to_current=True)
    assert isinstance(result, AllocationResult) and result.success, result.message
    x = np.array(list(result.optimal_allocation.values()))
    assert list(result.optimal_allocation) == CHANNELS
    assert abs(x.sum() - 200.0) <= 1e-6 * 200 and np.all(x >= 0)
    # Acceptance 2: combined = weighted sum; contributions sum to each model.
    weighted = sum(result.weights[m] * r for m, r in result.response_by_model.items())
    assert result.combined_response == pytest.approx(weighted, rel=1e-12)
    contribution = result.allocation_contribution
    assert list(contribution.columns) == ["store", "online"]
    for label, response in result.response_by_model.items():
        assert contribution[label].sum() == pytest.approx(response, rel=1e-12)
        lower, upper = result.response_ci_by_model[label]
        assert lower < response < upper
    # A channel a model lacks contributes nothing to it.
    assert contribution.loc["tv", "online"] == 0
    lower, upper = result.combined_response_ci
    assert lower <= result.combined_response <= upper
    assert result.objective == pytest.approx(result.combined_response, rel=1e-9)
    # Never worse than the current allocation (here at a different budget).
    assert result.current_allocation == pytest.approx(
        dict(zip(CHANNELS, allocator.current_allocation_, strict=True))
    )
    at_current = allocator.optimize(
        float(allocator.current_allocation_.sum()), compare_to_current=True
    )
    assert at_current.objective >= at_current.current_objective


def test_summary_and_plot(allocator):
    result = allocator.optimize(200.0, compare_to_current=True)
    table = result.summary()
    assert list(table.index) == [*CHANNELS, "total"]
    assert table.loc["total", "allocation"] == pytest.approx(200.0)
    assert table.loc["total", "combined"] == pytest.approx(result.combined_response)
    assert table.loc["total", "response[online]"] == pytest.approx(
        result.response_by_model["online"]
    )
    assert table.loc["tv", "change"] == pytest.approx(
        result.optimal_allocation["tv"] - result.current_allocation["tv"]
    )
    axes = result.plot()
    assert len(axes) == 2 and len(axes[1].patches) == 2 * len(CHANNELS)
    # What the responses are totals over; room for the legend above the bars.
    assert (result.num_periods, result.carryover_periods) == (4, 0)
    assert "total over 4 periods" in axes[1].get_ylabel()
    for ax in axes:
        tallest = max(bar.get_y() + bar.get_height() for bar in ax.patches)
        assert tallest <= 0.85 * ax.get_ylim()[1]
    plt.close("all")
    without = allocator.optimize(200.0)
    assert "current" not in without.summary() and without.current_objective is None


# ----------------------------------------------- single model, weights
def test_one_model_is_single_model_allocation(history):
    store = _store(history)
    single = BudgetAllocator(models=store, random_state=1).fit(history).optimize(180.0)
    listed = BudgetAllocator(models=[store], random_state=1).fit(history).optimize(180.0)
    assert single.optimal_allocation == listed.optimal_allocation
    assert list(single.response_by_model) == ["model"]
    # A weight scales the objective, not the argmax; a zero-weight second
    # model is left out, with a warning.
    other = HillCurveModel(amplitude=5000.0, kappa=10.0).fit(history)
    with pytest.warns(ZeroWeightWarning, match="'other' has weight zero"):
        two = BudgetAllocator(
            models={"store": store, "other": other}, weights=[1.0, 0.0], random_state=1
        ).fit(history)
    result = two.optimize(180.0)
    assert result.optimal_allocation == single.optimal_allocation
    assert result.combined_response == pytest.approx(single.combined_response)
    assert result.response_by_model["other"] > 0  # still reported


def test_weight_presets_equal_margin_custom(history):
    store, online = _store(history), _online(history)
    records = [ModelWeight("store", store, 0.3), ModelWeight("online", online, 0.5)]
    margin = BudgetAllocator(models=records, weights="margin", random_state=0).fit(history)
    custom = BudgetAllocator(
        models={"store": store, "online": online},
        weights={"store": 0.3, "online": 0.5},
        random_state=0,
    ).fit(history)
    equal = BudgetAllocator(models={"store": store, "online": online}, random_state=0).fit(history)
    np.testing.assert_array_equal(margin.weights_, [0.3, 0.5])
    np.testing.assert_array_equal(equal.weights_, [1.0, 1.0])
    a, b = margin.optimize(150.0), custom.optimize(150.0)
    assert a.optimal_allocation == b.optimal_allocation
    assert a.combined_response == pytest.approx(
        0.3 * a.response_by_model["store"] + 0.5 * a.response_by_model["online"]
    )
    e = equal.optimize(150.0)
    assert e.combined_response == pytest.approx(sum(e.response_by_model.values()))


@pytest.mark.parametrize(
    ("weights", "models", "match"),
    [
        ("margin", "plain", "needs each model's profit margin"),
        ("equal", "records", "carry weights"),
        ([1.0, 2.0], "records", "in one place"),
        ([1.0], "plain", "1 values for 2 models"),
        ({"store": 1.0}, "plain", "missing \\['online'\\]"),
        ({"store": 1.0, "online": 1.0, "web": 1.0}, "plain", "unknown \\['web'\\]"),
        ([1.0, -1.0], "plain", "non-negative"),
        ([0.0, 0.0], "plain", "weight zero: there is nothing"),
        ("profit", "plain", "weights"),
    ],
)
def test_bad_weights_are_clear_errors(history, weights, models, match):
    store, online = _store(history), _online(history)
    given = (
        {"store": store, "online": online}
        if models == "plain"
        else [ModelWeight("store", store, 0.3), ModelWeight("online", online, 0.5)]
    )
    with pytest.raises(ValueError, match=match):
        BudgetAllocator(models=given, weights=weights).fit(history)


# ------------------------------------------------------- infeasibility
@pytest.mark.parametrize(
    ("budget", "bounds", "match"),
    [
        (-1.0, None, "total_budget must be non-negative"),
        (np.nan, None, "total_budget must be a finite number"),
        (50.0, {"tv": (30.0, None), "search": (30.0, None)}, "lower bounds sum to 60"),
        (
            500.0,
            {"tv": (0, 100), "search": (0, 100), "social": (0, 100)},
            "upper bounds sum to 300",
        ),
        (100.0, {"radio": (0, 10)}, "unknown channel\\(s\\) \\['radio'\\]"),
        (100.0, {"tv": (20.0, 10.0)}, "lower bound 20.0 above upper bound 10.0"),
        (100.0, {"tv": (-5.0, 10.0)}, "must be non-negative"),
        (100.0, {"tv": 5.0}, "must be a pair"),
        # Once "could not convert string to float", naming neither.
        (100.0, {"tv": (0, "x")}, r"channel_bounds\['tv'\] upper bound must be a number"),
        (100.0, {"tv": (0, float("nan"))}, r"channel_bounds\['tv'\] upper bound"),
    ],
)
def test_infeasible_problems_fail_before_optimising(history, budget, bounds, match):
    spy = Spy(CHANNELS)
    allocator = BudgetAllocator(models=spy).fit(history)
    calls = spy.calls
    with pytest.raises(ValueError, match=match):
        allocator.optimize(budget, channel_bounds=bounds)
    assert spy.calls == calls  # no model evaluation, no compilation


def test_bounds_hold_and_call_bounds_replace_defaults(history):
    allocator = BudgetAllocator(
        models=_store(history), channel_bounds={"tv": (10.0, 40.0)}, random_state=0
    ).fit(history)
    np.testing.assert_array_equal(allocator.bounds_[0], [10.0, 40.0])
    x = allocator.optimize(150.0).optimal_allocation
    assert 10.0 <= x["tv"] <= 40.0
    y = allocator.optimize(150.0, channel_bounds={"tv": (60.0, 70.0), "social": (0, 5)})
    assert 60.0 <= y.optimal_allocation["tv"] <= 70.0 and y.optimal_allocation["social"] <= 5
    # Bounds that leave one allocation.
    z = allocator.optimize(
        30.0, channel_bounds={"tv": (10, 10), "search": (15, 15), "social": (5, 5)}
    )
    assert z.optimal_allocation == {"tv": 10.0, "search": 15.0, "social": 5.0} and z.success


def test_zero_budget(history):
    result = BudgetAllocator(models=_store(history)).fit(history).optimize(0.0)
    assert result.optimal_allocation == dict.fromkeys(CHANNELS, 0.0) and result.success


@given(
    exponent=st.integers(-15, 12),
    mantissa=st.floats(1.0, 9.99),
    lower=st.sampled_from([(0.0, 0.0, 0.0), (0.1, 0.0, 0.2)]),
    upper=st.sampled_from([(None, None, None), (0.5, None, 0.6), (1.0, 0.3, 1.0)]),
)
def test_allocation_sums_to_the_budget_at_any_scale(allocator, exponent, mantissa, lower, upper):
    # Budgets below 1e-12 were over-allocated (three channels got 2.7e-12
    # for a budget of 9e-13): the bound-snapping tolerance was absolute.
    budget = mantissa * 10.0**exponent
    bounds = {
        c: (lo * budget, None if hi is None else hi * budget)
        for c, lo, hi in zip(CHANNELS, lower, upper, strict=True)
    }
    result = allocator.optimize(budget, channel_bounds=bounds)
    x = np.array(list(result.optimal_allocation.values()))
    assert abs(x.sum() - budget) <= 1e-9 * budget, (x, budget)
    assert result.total_budget == budget
    for value, (lo, hi) in zip(x, bounds.values(), strict=True):
        assert lo <= value and (hi is None or value <= hi), (x, bounds)


def test_tiny_budgets_are_optimised_not_split_evenly(allocator):
    # A budget below 1e-12 once counted as "the bounds leave a single
    # allocation" and was split evenly. Social's store curve (exponent 0.8)
    # is infinitely steep at zero: a tiny budget belongs to it.
    budget = 9e-13
    result = allocator.optimize(budget)
    x = np.array(list(result.optimal_allocation.values()))
    even = allocator.evaluate(pd.DataFrame([np.full(3, budget / 3)], columns=CHANNELS))
    assert result.objective > 2 * even[("objective", "value")].iloc[0]
    assert x.sum() == pytest.approx(budget, rel=1e-9) and x[2] == pytest.approx(budget)


def test_failed_optimisation_is_reported_not_raised(history):
    class Broken(Spy):
        def media_response(self, spend_plan, n_draws=None):
            return super().media_response(spend_plan) * jnp.nan

    result = BudgetAllocator(models=Broken(CHANNELS)).fit(history).optimize(90.0)
    assert not result.success and "not finite" in result.message
    x = np.array(list(result.optimal_allocation.values()))
    assert x.sum() == pytest.approx(90.0) and np.all(x >= 0)


# ---------------------------------------------------- models and protocol
def test_any_protocol_model_plugs_in(history):
    spy = Spy(["search", "radio"])
    assert isinstance(spy, ResponseModel)
    store = _store(history)
    history = history.assign(radio=history["tv"] / 2)
    allocator = BudgetAllocator(models={"store": store, "radio": spy}).fit(history)
    assert allocator.channel_names_.tolist() == [*CHANNELS, "radio"]
    result = allocator.optimize(100.0)
    assert result.allocation_contribution.loc["tv", "radio"] == 0
    assert result.allocation_contribution.loc["radio", "store"] == 0


def test_model_errors_name_the_model(history):
    with pytest.raises(TypeError, match=r"models\['x'\].*no media_response"):
        BudgetAllocator(models={"x": object()}).fit(history)
    with pytest.raises(ValueError, match="models is required"):
        BudgetAllocator().fit(history)
    with pytest.raises(ValueError, match="labels repeat"):
        BudgetAllocator(
            models=[ModelWeight("a", Spy(CHANNELS)), ModelWeight("a", Spy(CHANNELS))]
        ).fit(history)
    with pytest.raises(ValueError, match="lacks the spend of channel\\(s\\) \\['radio'\\]"):
        BudgetAllocator(models=Spy(["tv", "radio"])).fit(history)
    with pytest.raises(ValueError, match="needs a target"):
        BudgetAllocator(models=HillMixtureMMM()).fit(history)
    with pytest.raises(ValueError, match="y is given, but every model is already fitted"):
        BudgetAllocator(models=_store(history)).fit(history, history["tv"])
    with pytest.raises(ValueError, match=r"negative spend in channel\(s\) \['tv', 'search'"):
        BudgetAllocator(models=_store(history)).fit(-history)
    with pytest.raises(ValueError, match="utility"):
        BudgetAllocator(models=_store(history), utility="median").fit(history)


def test_negative_controls_are_not_spend(history):
    # Controls (a price index, a temperature) may be negative; only the
    # channels' columns are spend.
    frame = history.assign(price=-np.linspace(1.0, 2.0, len(history)))
    allocator = BudgetAllocator(models=Spy(CHANNELS), random_state=0).fit(frame)
    np.testing.assert_allclose(allocator.current_allocation_, history.mean().to_numpy())


def test_channels_no_model_saw_spend_on_are_held_at_zero(history):
    # A channel never spent on has only its prior's response, which can be
    # as large as any: allocating to it would be allocating to a guess.
    store, online = Spy(CHANNELS), Spy(["search", "social"])
    store.channels_without_spend_ = ["social"]
    with pytest.warns(UserWarning, match=r"No model saw spend on channel\(s\) \['social'\]"):
        held = BudgetAllocator(models={"store": store}, random_state=0).fit(history)
    np.testing.assert_array_equal(held.bounds_[:, 1], [np.inf, np.inf, 0.0])
    assert held.optimize(300.0).optimal_allocation["social"] == 0.0
    # Naming it lifts the hold, at construction or per call, with or without
    # an upper bound; another model's data on it too.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bounded = BudgetAllocator(
            models={"store": store}, channel_bounds={"social": (0, 50.0)}, random_state=0
        ).fit(history)
        named = BudgetAllocator(
            models={"store": store}, channel_bounds={"social": (10.0, None)}, random_state=0
        ).fit(history)
        both = BudgetAllocator(models={"store": store, "online": online}).fit(history)
    assert bounded.bounds_[2, 1] == 50.0 and both.bounds_[2, 1] == np.inf
    np.testing.assert_array_equal(named.bounds_[2], [10.0, np.inf])
    result = held.optimize(300.0, channel_bounds={"social": (20.0, None)})
    assert result.optimal_allocation["social"] >= 20.0 - 1e-9


def test_unfitted_models_are_fitted_on_x_and_y(history):
    # One target column per unfitted model, by label for a DataFrame.
    y = pd.DataFrame({"curves": history["tv"], "other": history["search"]})
    allocator = BudgetAllocator(models={"curves": HillCurveModel(kappa=50.0)}).fit(
        history, y[["curves"]]
    )
    assert allocator.models_[0].channel_names_.tolist() == CHANNELS
    with pytest.raises(ValueError, match="one column per unfitted model"):
        BudgetAllocator(models={"a": HillCurveModel(), "b": HillCurveModel()}).fit(
            history, history["tv"]
        )


def test_clone_pickle_and_frozen_models(allocator, history):
    result = allocator.optimize(200.0)
    restored = pickle.loads(pickle.dumps(allocator))
    assert restored.optimize(200.0).optimal_allocation == result.optimal_allocation
    params = allocator.get_params()
    assert set(params) >= {"models", "weights", "num_periods", "utility", "random_state"}
    # ModelWeight records and FrozenEstimator keep fitted models through clone.
    frozen = BudgetAllocator(
        models={
            "store": FrozenEstimator(allocator.models_[0]),
            "online": FrozenEstimator(allocator.models_[1]),
        },
        weights={"store": 0.3, "online": 0.5},
        num_periods=4,
        random_state=0,
    )
    again = clone(frozen).fit(history).optimize(200.0)
    assert again.optimal_allocation == pytest.approx(result.optimal_allocation, rel=1e-9)
    records = [
        ModelWeight("store", allocator.models_[0]),
        ModelWeight("online", allocator.models_[1]),
    ]
    cloned = clone(BudgetAllocator(models=records, num_periods=4)).fit(history)
    assert cloned.models_[0].curves_["kappa"][0, 0, 0] == 150.0


def test_same_seed_same_result(history):
    store = _store(history)
    a = BudgetAllocator(models=store, random_state=np.random.default_rng(3)).fit(history)
    b = BudgetAllocator(models=store, random_state=np.random.default_rng(3)).fit(history)
    assert a.optimize(222.0).optimal_allocation == b.optimize(222.0).optimal_allocation


def test_carryover_defaults_to_the_longest_adstock(history):
    slow = HillCurveModel(amplitude=100.0, adstock_alpha=0.5, adstock_max_lag=4).fit(history)
    allocator = BudgetAllocator(models=[slow, _store(history)]).fit(history)
    assert allocator.carryover_periods_ == 3
    assert BudgetAllocator(models=slow, carryover_periods=0).fit(history).carryover_periods_ == 0
    # The carried-over response counts: more periods, more response.
    plan = np.full((1, 3), 50.0)
    longer = BudgetAllocator(models=slow, carryover_periods=3).fit(history).transform(plan)
    shorter = BudgetAllocator(models=slow, carryover_periods=0).fit(history).transform(plan)
    assert longer[0, 0] > shorter[0, 0]


def test_horizons_too_long_for_memory_are_refused_at_fit(history):
    # num_periods=10**9 once passed validation and ran out of memory in optimize.
    spy = Spy(CHANNELS)
    for params in ({"num_periods": 10**9}, {"carryover_periods": 10**9}):
        with pytest.raises(ValueError, match=r"num_periods=\d+ \(with \d+ carryover periods\)"):
            BudgetAllocator(models=spy, **params).fit(history)
    assert spy.calls == 2  # the probes that count the draws, nothing more
    assert BudgetAllocator(models=spy, num_periods=10**4).fit(history).num_periods == 10**4


# ------------------------------------------- predict, transform, evaluate
def test_predict_transform_evaluate_agree(allocator):
    table = allocator.predict([150.0, 250.0])
    assert list(table.index) == [150.0, 250.0] and list(table.columns) == CHANNELS
    np.testing.assert_allclose(table.sum(axis=1), [150.0, 250.0], rtol=1e-9)
    result = allocator.optimize(250.0)
    np.testing.assert_allclose(table.loc[250.0], list(result.optimal_allocation.values()))
    assert allocator.predict(150.0).shape == (1, 3)
    # A table of allocations: each re-allocated at its own total.
    plans = pd.DataFrame([[100.0, 25.0, 25.0], [50.0, 100.0, 100.0]], columns=CHANNELS)
    again = allocator.predict(plans)
    np.testing.assert_allclose(again.loc[1], table.loc[250.0], rtol=1e-9)
    responses = allocator.transform(plans)
    assert responses.shape == (2, 2)
    evaluation = allocator.evaluate(
        {
            "a": dict(zip(CHANNELS, [100.0, 25.0, 25.0], strict=True)),
            "optimal": result.optimal_allocation,
        }
    )
    np.testing.assert_allclose(evaluation[("store", "mean")].iloc[0], responses[0, 0])
    assert evaluation.loc["optimal", ("combined", "mean")] == pytest.approx(
        result.combined_response
    )
    assert evaluation.loc["optimal", ("objective", "value")] == pytest.approx(result.objective)
    assert evaluation.loc["optimal", ("spend", "total")] == pytest.approx(250.0)
    assert (evaluation[("combined", "lower")] <= evaluation[("combined", "upper")]).all()
    with pytest.raises(ValueError, match="lacks channel"):
        allocator.evaluate(pd.Series({"tv": 10.0}))
    # A scenario missing a channel once said "Input scenarios contains NaN".
    with pytest.raises(ValueError, match=r"scenarios\['b'\] lacks channel\(s\) \['social'\]"):
        allocator.evaluate(
            {"a": {"tv": 1.0, "search": 2.0, "social": 3.0}, "b": {"tv": 1.0, "search": 2.0}}
        )
    holes = pd.DataFrame([[1.0, 2.0, 3.0], [1.0, np.nan, 3.0]], columns=CHANNELS, index=["a", "b"])
    with pytest.raises(ValueError, match=r"channel\(s\) \['search'\] in row\(s\) \['b'\]"):
        allocator.evaluate(holes)


def test_pandas_output_names_the_models(allocator, history):
    records = [
        ModelWeight(str(label), model)
        for label, model in zip(allocator.model_labels_, allocator.models_, strict=True)
    ]
    pandas = BudgetAllocator(models=records, weights="equal", num_periods=4)
    pandas = pandas.set_output(transform="pandas").fit(history)
    frame = pandas.transform(history.iloc[:3])
    assert list(frame.columns) == ["store", "online"] and list(frame.index) == [0, 1, 2]
    np.testing.assert_allclose(frame, allocator.transform(history.iloc[:3]))


def test_transform_validates_allocations(allocator):
    with pytest.raises(ValueError, match="X has 2 features, but BudgetAllocator is expecting 3"):
        allocator.transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match="lacks channel"):
        allocator.transform(pd.DataFrame({"tv": [1.0], "search": [2.0]}))
    with pytest.raises(ValueError, match="Negative values"):
        allocator.transform(-np.ones((1, 3)))
    # Extra DataFrame columns (controls) are ignored.
    frame = pd.DataFrame({"tv": [10.0], "search": [20.0], "social": [5.0], "price": [-3.0]})
    np.testing.assert_allclose(allocator.transform(frame), allocator.transform([[10.0, 20.0, 5.0]]))


# --------------------------------------------------------- find_budget
def test_find_budget_is_the_smallest_reaching_the_target(allocator):
    target = allocator.optimize(180.0).combined_response
    result = allocator.find_budget(target, rtol=1e-7)
    assert result.combined_response >= target * (1 - 1e-12)
    assert result.total_budget == pytest.approx(180.0, rel=1e-4)
    below = allocator.optimize(result.total_budget * (1 - 1e-4))
    assert below.combined_response < target
    with pytest.raises(ValueError, match="out of reach"):
        allocator.find_budget(1e9)
    # Reached at the smallest feasible budget already.
    assert allocator.find_budget(0.0).total_budget == 0.0


# ---------------------------------------------------------- utilities
def test_risk_aversion_prefers_the_certain_channel(history):
    # Two channels with the same mean curve; "risky" is uncertain.
    amplitude = _draws([100.0, 20.0], [100.0, 180.0])
    model = HillCurveModel(amplitude=amplitude, kappa=50.0).fit(
        history[["tv", "search"]].set_axis(["safe", "risky"], axis=1)
    )
    spend = history[["tv", "search"]].set_axis(["safe", "risky"], axis=1)
    mean = BudgetAllocator(models=model, random_state=0).fit(spend).optimize(100.0)
    assert mean.optimal_allocation["safe"] == pytest.approx(50.0, rel=1e-3)
    for utility in ("mean_std", "quantile", "cvar"):
        # The settings of the risk-aware optimality test (shared programs).
        risky = BudgetAllocator(
            models=model, utility=utility, utility_level=0.25, risk_aversion=0.7, random_state=0
        )
        result = risky.fit(spend).optimize(100.0)
        assert result.optimal_allocation["safe"] > 60.0, utility
        assert result.utility == utility
    custom = BudgetAllocator(models=model, utility=lambda r: jnp.min(r), random_state=0)
    assert custom.fit(spend).optimize(100.0).optimal_allocation["safe"] > 60.0


def test_progress_bars(history, capsys):
    BudgetAllocator(models={"c": HillCurveModel()}, progress=True).fit(history).predict(
        [10.0, 20.0]
    )
    assert "budgets" in capsys.readouterr().err


def test_docs_page_examples_run():
    # docs/allocation.rst is a worked example: its numbers must stay true.
    page = Path(__file__).resolve().parents[2] / "docs" / "allocation.rst"
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    result = doctest.testfile(str(page), module_relative=False, optionflags=flags)
    assert result.failed == 0 and result.attempted > 20
