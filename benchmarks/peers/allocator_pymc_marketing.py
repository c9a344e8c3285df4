"""Side by side: BudgetAllocator against PyMC-Marketing's BudgetOptimizer, one model each.

The same single-model problem on both sides: 104 weeks x 10 channels from
``hillmix_sim.make_mmm_data`` (single Hill curve per channel in the truth),
geometric adstock over 8 weeks and Hill saturation, 500 posterior draws
(2 chains x 250 after 500 warm-up iterations), the current weekly budget
(mean weekly spend) held for 8 weeks with the carryover after them counted,
bounds [0, budget] per channel, utility: posterior mean of the media
response. PyMC-Marketing runs its multidimensional ``MMM`` with the
``MultiDimensionalBudgetOptimizerWrapper`` and ``BudgetOptimizer`` (SLSQP on
a compiled PyTensor objective and gradient).

Reported per library: the first call (which compiles), then the median time
of ``n_repeats`` calls at budgets from 80% to 120% of the current one on an
optimiser that has compiled, whether the optimiser reported success, and
the speed ratio. PyMC-Marketing runs twice: with bounds [0, budget] as hillmix, and
with every channel kept at 0.1% of an equal share or more (its Hill
saturation's gradient can be NaN at zero spend, which fails SLSQP). Each
allocation is also scored under the simulation's truth (the true curves and
adstock), which compares the decisions, not just the clocks.

Run in an environment with ``requirements.txt`` installed:

    python benchmarks/peers/allocator_pymc_marketing.py [--repeats 7] [--skip-pymc]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

from hillmix import ConvergenceWarning, HillMixtureMMM, geometric_adstock, hill_mixture
from hillmix_opt import BudgetAllocator
from hillmix_sim import make_mmm_data

N_PERIODS, N_CHANNELS, HORIZON, L_MAX = 104, 10, 8, 8
CHAINS, DRAWS, TUNE = 2, 250, 500


def data(seed=0):
    X, y, truth = make_mmm_data(
        dgp="single", n_periods=N_PERIODS, n_channels=N_CHANNELS, random_state=seed
    )
    return X, y, truth


def budgets(X):
    current = float(X.mean().sum())
    return current, [current * f for f in np.linspace(0.8, 1.2, 5)]


def true_response(truth, allocation):
    """Total true media response over the horizon and the carryover."""
    p = truth.true_params_
    spend = np.asarray(allocation, dtype=float)
    plan = np.vstack([np.tile(spend, (HORIZON, 1)), np.zeros((truth.adstock_max_lag, len(spend)))])
    adstocked = geometric_adstock(plan, p["adstock_alpha"], truth.adstock_max_lag)
    return float(np.sum(hill_mixture(adstocked, p["pi"], p["A"], p["kappa"], p["n"])))


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def run_hillmix(X, y, truth, repeats):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = HillMixtureMMM(
            n_components=1,
            adstock_max_lag=L_MAX,
            num_warmup=TUNE,
            num_samples=DRAWS,
            num_chains=CHAINS,
            random_state=0,
        ).fit(X, y)
    allocator = BudgetAllocator(models=model, num_periods=HORIZON, random_state=0).fit(X)
    current, grid = budgets(X)
    start = time.perf_counter()
    result = allocator.optimize(current)
    first = time.perf_counter() - start
    steady = [timed(lambda b=b: allocator.optimize(b), repeats)[0] for b in grid]
    allocation = [result.optimal_allocation[c] for c in X.columns]
    return {
        "library": "hillmix",
        "success": result.success,
        "posterior_draws": allocator.n_draws_,
        "first_call_seconds": first,
        "median_call_seconds": float(np.median(steady)),
        "expected_response": result.combined_response,
        "true_response": true_response(truth, allocation),
        "allocation": np.round(allocation, 1).tolist(),
    }


def run_pymc_marketing(X, y, truth, repeats):
    from pymc_marketing.mmm import GeometricAdstock, HillSaturation
    from pymc_marketing.mmm.budget_optimizer import BudgetOptimizer
    from pymc_marketing.mmm.multidimensional import MMM, MultiDimensionalBudgetOptimizerWrapper

    # "No budget bounds provided", "Using default equality constraint": as intended.
    warnings.filterwarnings("ignore", message="No budget bounds provided", category=UserWarning)
    warnings.filterwarnings("ignore", message="Using default equality", category=UserWarning)
    channels = list(X.columns)
    dates = pd.date_range("2022-01-02", periods=len(X), freq="W-SUN")
    df = X.assign(date=dates)
    mmm = MMM(
        date_column="date",
        channel_columns=channels,
        target_column="y",
        adstock=GeometricAdstock(l_max=L_MAX),
        saturation=HillSaturation(),
    )
    mmm.fit(
        X=df,
        y=pd.Series(np.asarray(y), name="y"),
        chains=CHAINS,
        draws=DRAWS,
        tune=TUNE,
        random_seed=0,
        progressbar=False,
        nuts_sampler="numpyro",
    )
    wrapper = MultiDimensionalBudgetOptimizerWrapper(
        model=mmm,
        start_date=str((dates[-1] + pd.Timedelta(weeks=1)).date()),
        end_date=str((dates[-1] + pd.Timedelta(weeks=HORIZON)).date()),
    )
    current, grid = budgets(X)
    # What a user runs: builds and compiles an optimiser, then allocates.
    # return_if_fail: an SLSQP failure returns its last iterate, reported
    # with success=False, instead of raising.
    start = time.perf_counter()
    wrapper.optimize_budget(budget=current, return_if_fail=True)
    first = time.perf_counter() - start
    # The allocation alone, on an optimiser that has compiled.
    optimizer = BudgetOptimizer(
        model=wrapper,
        num_periods=wrapper.num_periods,
        response_variable="total_media_contribution_original_scale",
    )

    def allocate(budget, floor=0.0):
        # floor > 0 keeps every channel off zero spend, where the gradient of
        # PyMC-Marketing's Hill saturation can be NaN and SLSQP then fails.
        bounds = {c: (floor * budget / len(channels), budget) for c in channels}
        return optimizer.allocate_budget(
            total_budget=budget, budget_bounds=bounds, return_if_fail=True
        )

    rows = []
    for label, floor in (("pymc-marketing", 0.0), ("pymc-marketing, floor 0.1%", 1e-3)):
        allocation, scipy_result = allocate(current, floor)
        steady = [timed(lambda b=b, f=floor: allocate(b, f), repeats)[0] for b in grid]
        values = [float(allocation.sel(channel=c)) for c in channels]
        rows.append(
            {
                "library": label,
                "success": bool(scipy_result.success),
                "posterior_draws": CHAINS * DRAWS,
                "first_call_seconds": first,
                "median_call_seconds": float(np.median(steady)),
                "expected_response": np.nan,  # its objective's scale is internal
                "true_response": true_response(truth, values),
                "allocation": np.round(values, 1).tolist(),
            }
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-pymc", action="store_true")
    args = parser.parse_args(argv)
    X, y, truth = data()
    current, _ = budgets(X)
    rows = [run_hillmix(X, y, truth, args.repeats)]
    print(rows[-1], flush=True)
    if not args.skip_pymc:
        rows += run_pymc_marketing(X, y, truth, args.repeats)
        print(rows[1:], flush=True)
    table = pd.DataFrame(rows)
    baseline = true_response(truth, X.mean().to_numpy())
    print(f"weekly budget {current:.1f}; true response of the current allocation {baseline:.1f}")
    print(table.drop(columns="allocation").round(4).to_string(index=False))
    for row in rows:
        print(f"{row['library']:>15} allocation: {row['allocation']}")
    for row in rows[1:]:
        ratio = row["median_call_seconds"] / rows[0]["median_call_seconds"]
        print(f"speed ratio ({row['library']} / hillmix, compiled): {ratio:.1f}x")


if __name__ == "__main__":
    main()
