"""End to end: a shared budget over two fitted HillMixtureMMMs (in-store and online).

The two outcomes share the search channel; TV drives only in-store revenue
and social only online revenue. The fits are short (the shapes and settings
of tests/_fast_settings.py's FAST, as in tests/test_mmm.py, so the compiled sampler is shared); the
allocator only needs posterior draws, converged or not.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from _fast_settings import FAST

from hillmix import ConvergenceWarning, HillMixtureMMM
from hillmix_opt import BudgetAllocator, ModelWeight
from hillmix_sim import MMMDataGenerator, make_mmm_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted():
    X, y_store, _ = make_mmm_data(dgp="mixture_k2", n_periods=80, n_channels=2, random_state=3)
    store_X = X.set_axis(["tv", "search"], axis=1)
    other, _, _ = make_mmm_data(dgp="mixture_k2", n_periods=80, n_channels=2, random_state=4)
    online_X = pd.DataFrame({"search": store_X["search"], "social": other["channel_1"]})
    y_online = MMMDataGenerator(dgp="mixture_k2", random_state=5).fit(online_X).y_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        store = HillMixtureMMM(n_components=2, **FAST).fit(store_X, y_store)
        online = HillMixtureMMM(n_components=2, **FAST).fit(online_X, y_online)
    history = store_X.assign(social=online_X["social"])
    allocator = BudgetAllocator(
        models=[ModelWeight("store", store, 0.3), ModelWeight("online", online, 0.45)],
        weights="margin",
        random_state=0,
    ).fit(history)
    return allocator, history


def test_shared_budget_over_fitted_mmms(fitted):
    allocator, _ = fitted
    assert allocator.channel_names_.tolist() == ["tv", "search", "social"]
    assert allocator.n_draws_ == 300 and allocator.carryover_periods_ == 7
    budget = float(allocator.current_allocation_.sum())
    result = allocator.optimize(budget, compare_to_current=True)
    assert result.success, result.message
    x = np.array(list(result.optimal_allocation.values()))
    assert abs(x.sum() - budget) <= 1e-6 * budget and np.all(x >= 0)
    assert result.objective >= result.current_objective
    weighted = 0.3 * result.response_by_model["store"] + 0.45 * result.response_by_model["online"]
    assert result.combined_response == pytest.approx(weighted, rel=1e-12)
    contribution = result.allocation_contribution
    assert contribution.loc["tv", "online"] == 0 and contribution.loc["social", "store"] == 0
    np.testing.assert_allclose(contribution.sum(), list(result.response_by_model.values()))
    # The response matches the model's own response protocol.
    plan = np.vstack([np.tile(x[:2], (8, 1)), np.zeros((7, 2))])
    direct = np.asarray(allocator.models_[0].media_response(plan)).sum(axis=(1, 2)).mean()
    assert result.response_by_model["store"] == pytest.approx(direct, rel=1e-9)

    # Within 0.1% of the best allocation on a grid of the budget simplex.
    steps = 16
    a, b = np.meshgrid(np.arange(steps + 1), np.arange(steps + 1))
    keep = (a + b <= steps).ravel()
    shares = np.column_stack([a.ravel()[keep], b.ravel()[keep]]) / steps
    grid = budget * np.column_stack([shares, 1 - shares.sum(axis=1)])
    best = allocator.evaluate(pd.DataFrame(grid, columns=allocator.channel_names_))
    best = best[("objective", "value")].max()
    assert result.objective >= best * (1 - 1e-3)

    table = result.summary()
    assert table.loc["total", "allocation"] == pytest.approx(budget)
    assert set(table.columns) >= {"response[store]", "response[online]", "current", "change"}
