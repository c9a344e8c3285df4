"""BudgetAllocator finds the optimum: property tests against independent references.

The models are HillCurveModels (known concave or S-shaped Hill curves), and
every reference is computed here in NumPy from the curve parameters, apart
from the allocator's JAX code:

- utility "mean": the objective is a sum of one curve per channel, so a
  dynamic programme over a dense grid of the budget (1000 steps) gives the
  global optimum on that grid, whatever the curves' shapes;
- the other utilities couple the channels through the posterior draws; for
  two and three channels a dense grid of the budget simplex, refined around
  its best point, is the reference.

The allocator's result must be within 0.1% of the reference, never below the
current allocation (at the current budget), sum to the budget within 1e-6
relative and respect every bound exactly.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hillmix_opt import BudgetAllocator, HillCurveModel

# (n_channels, n_models) drawn from a few structures: each new structure
# compiles its programs once, and examples of a structure share them.
STRUCTURES = [(2, 1), (3, 2), (5, 1), (7, 3), (12, 4)]
NUM_PERIODS = 4
N_DRAWS = 8
GRID_STEPS = 1000
GAP = 1e-3


def _curves(draw, n_channels, shape):
    """Curve parameters of one model over n_channels, with N_DRAWS draws."""
    floats = st.floats
    amplitude = np.array([draw(floats(10.0, 1000.0)) for _ in range(n_channels)])
    # Draws vary around the channel's amplitude (a few values, cycled).
    factors = [[draw(floats(0.7, 1.3)) for _ in range(n_channels)] for _ in range(2)]
    spread = np.array([factors[d % 2] for d in range(N_DRAWS)])
    kappa = np.array([draw(floats(5.0, 200.0)) for _ in range(n_channels)])
    exponents = []
    for _ in range(n_channels):
        kind = shape if shape != "mixed" else draw(st.sampled_from(["concave", "s_shaped"]))
        low, high = (0.6, 1.0) if kind == "concave" else (1.5, 4.0)
        exponents.append(draw(floats(low, high)))
    return {
        "amplitude": (amplitude * spread)[..., None],  # (n_draws, n_channels, 1)
        "kappa": kappa,
        "n": np.array(exponents),
    }


@st.composite
def problems(draw, structures=STRUCTURES):
    n_channels, n_models = draw(st.sampled_from(structures))
    shape = draw(st.sampled_from(["concave", "s_shaped", "mixed"]))
    channels = [f"c{i}" for i in range(n_channels)]
    models = []
    for m in range(n_models):
        # With several models, model m lacks channel m: the union covers all.
        own = [c for i, c in enumerate(channels) if n_models == 1 or n_channels <= 2 or i != m]
        models.append((own, _curves(draw, len(own), shape)))
    weights = [draw(st.floats(0.2, 2.0)) for _ in range(n_models)]
    lower = np.array([draw(st.sampled_from([0.0, 0.0, 10.0, 40.0])) for _ in channels])
    room = np.array([draw(st.sampled_from([np.inf, np.inf, 30.0, 150.0, 500.0])) for _ in channels])
    upper = lower + room
    current = lower + np.minimum(room, 300.0) * np.array(
        [draw(st.floats(0.0, 1.0)) for _ in channels]
    )
    if draw(st.booleans()):
        budget = float(current.sum())
    else:
        span = min(float(upper.sum()), float(lower.sum()) + 2000.0) - lower.sum()
        budget = float(lower.sum() + span * draw(st.floats(0.05, 1.0)))
    return {
        "channels": channels,
        "models": models,
        "weights": weights,
        "lower": lower,
        "upper": upper,
        "current": current,
        "budget": budget,
        "seed": draw(st.integers(0, 2**16)),
    }


def _allocator(problem, **params):
    channels = problem["channels"]
    # History whose mean is exactly the current allocation.
    history = pd.DataFrame(
        np.vstack([problem["current"] * 0.5, problem["current"] * 1.5]), columns=channels
    )
    models = {
        f"m{i}": HillCurveModel(**curves).fit(history[own])
        for i, (own, curves) in enumerate(problem["models"])
    }
    bounds = {
        c: (float(lo), None if np.isinf(hi) else float(hi))
        for c, lo, hi in zip(channels, problem["lower"], problem["upper"], strict=True)
    }
    allocator = BudgetAllocator(
        models=models,
        weights=problem["weights"],
        num_periods=NUM_PERIODS,
        channel_bounds=bounds,
        random_state=problem["seed"],
        **params,
    )
    return allocator.fit(history)


def _response(problem, spend):
    """Per-draw combined response over the horizon, in NumPy: (..., n_draws)."""
    spend = np.asarray(spend, dtype=float)
    position = {c: i for i, c in enumerate(problem["channels"])}
    total = 0.0
    for weight, (own, curves) in zip(problem["weights"], problem["models"], strict=True):
        x = spend[..., [position[c] for c in own]][..., None, :]  # (..., 1, n_own)
        a = curves["amplitude"][..., 0]  # (n_draws, n_own)
        k, n = curves["kappa"], curves["n"]
        with np.errstate(divide="ignore", invalid="ignore"):
            hill = np.where(x > 0, x**n / (x**n + k**n), 0.0)
        total = total + weight * NUM_PERIODS * (a * hill).sum(axis=-1)
    return total


def _check_feasible(x, problem):
    budget = problem["budget"]
    assert abs(x.sum() - budget) <= 1e-6 * max(budget, 1e-12)
    assert np.all(x >= problem["lower"]), (x, problem["lower"])
    assert np.all(x <= problem["upper"]), (x, problem["upper"])


def _dp_optimum(problem):
    """Global optimum of the mean objective on a grid of GRID_STEPS budget steps."""
    lower, upper = problem["lower"], problem["upper"]
    free = problem["budget"] - lower.sum()
    steps = np.arange(GRID_STEPS + 1)
    delta = free / GRID_STEPS
    best = np.zeros(GRID_STEPS + 1)
    best[1:] = -np.inf  # after no channel, only "nothing spent" is reachable
    for c in range(len(lower)):
        levels = np.tile(lower, (GRID_STEPS + 1, 1))
        levels[:, c] = lower[c] + steps * delta
        # Channel c's curve alone: the others at their lower bounds, minus that.
        value = _response(problem, levels).mean(axis=-1)
        value = np.where(lower[c] + steps * delta <= upper[c] * (1 + 1e-12), value, -np.inf)
        shift = steps[:, None] - steps[None, :]  # spent before (j) minus spent on c (i)
        candidates = np.where(shift >= 0, best[np.clip(shift, 0, None)] + value[None, :], -np.inf)
        best = candidates.max(axis=1)
    base = _response(problem, lower).mean(axis=-1)
    # Each channel's value counted the others at their lower bounds: remove
    # the (n_channels - 1) extra copies of that baseline.
    return best[-1] - (len(lower) - 1) * base


@settings(max_examples=15)
@given(problems())
def test_mean_allocation_is_globally_optimal(problem):
    allocator = _allocator(problem)
    result = allocator.optimize(problem["budget"])
    x = np.array([result.optimal_allocation[c] for c in problem["channels"]])
    _check_feasible(x, problem)
    ours = _response(problem, x).mean()
    # The JAX objective and the NumPy formula agree.
    np.testing.assert_allclose(result.objective, ours, rtol=1e-9)
    reference = _dp_optimum(problem)
    assert ours >= reference - GAP * abs(reference), (ours, reference)
    if problem["budget"] == problem["current"].sum():
        assert ours >= _response(problem, problem["current"]).mean() * (1 - 1e-12)


# --------------------------------------------------- risk-aware utilities
def _utility(name, draws):
    if name == "quantile":
        return np.quantile(draws, 0.25, axis=-1)
    if name == "cvar":
        # Mean of the worst quarter of 8 draws: the two lowest.
        return np.sort(draws, axis=-1)[..., :2].mean(axis=-1)
    return draws.mean(axis=-1) - 0.7 * draws.std(axis=-1)


def _simplex_grid(lower, upper, budget, steps):
    """Allocations on a grid of the budget simplex inside the bounds (2 or 3 channels).

    The first channel runs over its feasible range, the second over its
    range given the first; the last takes the rest, so every point is
    feasible, however narrow the feasible set.
    """
    s = np.linspace(0.0, 1.0, steps + 1)
    upper = np.minimum(upper, budget)
    rest_low, rest_high = lower[1:].sum(), upper[1:].sum()
    a = np.maximum(lower[0], budget - rest_high)
    a = a + (np.minimum(upper[0], budget - rest_low) - a) * s
    if len(lower) == 2:
        return np.column_stack([a, budget - a])
    a, t = np.meshgrid(a, s)
    a, t = a.ravel(), t.ravel()
    b_low = np.maximum(lower[1], budget - a - upper[2])
    b_high = np.minimum(upper[1], budget - a - lower[2])
    b = b_low + (b_high - b_low) * t
    return np.column_stack([a, b, budget - a - b])


def _grid_optimum(problem, utility):
    lower, upper, budget = problem["lower"], problem["upper"], problem["budget"]
    steps = 400 if len(lower) == 2 else 120
    points = _simplex_grid(lower, upper, budget, steps)
    values = _utility(utility, _response(problem, points))
    best, best_value = points[np.argmax(values)], values.max()
    # Refine: finer grids in shrinking boxes around the best point.
    width = (budget - lower.sum()) / steps
    for _ in range(2):
        box_lower = np.maximum(lower, best - 2 * width)
        box_upper = np.minimum(upper, best + 2 * width)
        if box_lower.sum() <= budget <= box_upper.sum():
            fine = _simplex_grid(box_lower, box_upper, budget, 80)
            fine_values = _utility(utility, _response(problem, fine))
            if fine_values.max() > best_value:
                best, best_value = fine[np.argmax(fine_values)], fine_values.max()
        width /= 20
    return float(best_value)


@settings(max_examples=12)
@given(
    problems(structures=[(2, 1), (3, 2)]),
    st.sampled_from(["quantile", "cvar", "mean_std"]),
)
def test_risk_aware_allocation_is_optimal(problem, utility):
    problem = dict(problem)
    # Eight draws with a wide spread, so that risk matters.
    rng = np.random.default_rng(problem["seed"])
    problem["models"] = [
        (
            own,
            {
                **curves,
                "amplitude": curves["amplitude"].mean(0) * rng.uniform(0.3, 1.7, (8, len(own), 1)),
            },
        )
        for own, curves in problem["models"]
    ]
    allocator = _allocator(problem, utility=utility, utility_level=0.25, risk_aversion=0.7)
    result = allocator.optimize(problem["budget"])
    x = np.array([result.optimal_allocation[c] for c in problem["channels"]])
    _check_feasible(x, problem)
    ours = float(_utility(utility, _response(problem, x)))
    np.testing.assert_allclose(result.objective, ours, rtol=1e-9, atol=1e-9)
    reference = _grid_optimum(problem, utility)
    assert ours >= reference - GAP * abs(reference), (ours, reference)
    if problem["budget"] == problem["current"].sum():
        current = float(_utility(utility, _response(problem, problem["current"])))
        assert ours >= current - 1e-12 * abs(current)


@pytest.mark.parametrize("seed", [0, 1])
def test_same_seed_same_allocation_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    history = rng.uniform(10, 100, size=(6, 4))
    model = HillCurveModel(
        amplitude=rng.uniform(100, 500, 4), kappa=rng.uniform(20, 80, 4), n=rng.uniform(1.5, 3.5, 4)
    ).fit(history)
    results = [
        BudgetAllocator(models=model, random_state=seed).fit(history).optimize(300.0)
        for _ in range(2)
    ]
    assert results[0].optimal_allocation == results[1].optimal_allocation
    assert results[0].objective == results[1].objective
