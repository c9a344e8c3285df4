"""Reward models against the truth: the comparison of docs/rewards.rst.

For each ground truth (mixture of experts, GMM) and seed, a simulated
company targets 4 iterations x 10,000 users from a bank of 30 actions with
LinUCB; every reward model is fitted on the whole log and scored, for 2,000
fresh users, against the true P(click) on the bank's actions and on 200
unseen candidate actions (``hillmix_opt.compare_reward_models``).

Usage::

    python benchmarks/validation/reward_models.py --seeds 0 1 2 \\
        --out benchmarks/validation/reward_models.csv

The per-setting table and the mean table go to the CSV and are printed;
``--rst`` also writes the docs page's table.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd
from _rst import rst_table  # this folder's shared table writer

from hillmix_opt import REWARD_MODELS, LinUCBStrategy, compare_reward_models, make_reward_model
from hillmix_sim import CompanySimulator

TRUTHS = ("mixture_of_experts", "gmm")
MODELS = tuple(REWARD_MODELS)
COLUMNS = ["pearson", "spearman", "log_loss", "brier", "auc", "ece", "coverage"]


def run(truth: str, seed: int, models, users: int, iterations: int) -> pd.DataFrame:
    simulator = CompanySimulator(
        strategy=LinUCBStrategy(),
        ground_truth=truth,
        n_iterations=iterations,
        n_users=users,
        n_initial_actions=30,
        random_state=seed,
    )
    results = simulator.run()
    table = compare_reward_models(
        pd.concat(results.observations, ignore_index=True),
        results.banks,
        simulator.ground_truth_,
        models={name: make_reward_model(name, **_seeded(name, seed)) for name in models},
        n_users=2000,
        n_candidates=200,
        random_state=seed,
    )
    return table.reset_index().assign(truth=truth, seed=seed)


def _seeded(name: str, seed: int) -> dict:
    return {} if name == "logistic" else {"random_state": seed}


def summary(per_run: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per truth, model and action set; worst correlation beside it."""
    grouped = per_run.groupby(["truth", "actions", "model"], sort=False)
    table = grouped[[*COLUMNS, "fit_seconds", "predict_seconds"]].mean()
    table.insert(1, "pearson_min", grouped["pearson"].min())
    return table


def to_rst(table: pd.DataFrame) -> str:
    shown = table.reset_index()[
        ["truth", "actions", "model", "pearson", "pearson_min", "spearman", "log_loss", "brier",
         "auc", "ece", "coverage", "fit_seconds", "predict_seconds"]
    ]  # fmt: skip
    header = [
        "truth", "actions", "model", "Pearson", "worst", "Spearman", "log loss", "Brier", "AUC",
        "ECE", "90% cover", "fit s", "predict s",
    ]  # fmt: skip
    rows = [
        [str(v) if isinstance(v, str) else ("" if pd.isna(v) else f"{v:.3f}") for v in row]
        for row in shown.itertuples(index=False)
    ]
    return rst_table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--truths", nargs="+", default=list(TRUTHS), choices=TRUTHS)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None, help="CSV of every run")
    parser.add_argument("--rst", type=Path, default=None, help="the docs page's table")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    runs = []
    for truth in args.truths:
        for seed in args.seeds:
            start = time.perf_counter()
            runs.append(run(truth, seed, args.models, args.users, args.iterations))
            print(f"{truth} seed {seed}: {time.perf_counter() - start:.0f} s", flush=True)
    per_run = pd.concat(runs, ignore_index=True)
    table = summary(per_run)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3))
    if args.out is not None:
        per_run.to_csv(args.out, index=False)
    if args.rst is not None:
        args.rst.write_text(to_rst(table))


if __name__ == "__main__":
    main()
