"""Action-bank generation in the simulated company: the headline of docs/action_banks.rst.

For each ground truth and seed, the same company (LinUCB, 4 iterations x
10,000 users, 30 initial actions) runs twice on the same users, truth and
clicks: keeping its bank (the baseline), and with an ActionBankOptimizer
proposing a bank of 10 after every iteration. Reported per run: the true
expected reward of the company's decisions in the final iteration, for
both, and, for each proposal, the new bank's oracle value against the old
bank's and against the best bank the pool could have given (chosen on the
truth): the share of the achievable lift captured (oracle values: every
user served their truly best action of the bank).

Usage::

    python benchmarks/validation/action_banks.py --seeds 0 1 2 3 4 \\
        --models lightgbm logistic --out benchmarks/validation/action_banks.csv \\
        --rst docs/action_banks_table.rst --plot docs/_static/action_banks.png
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _rst import rst_table  # this folder's shared table writer

from hillmix_opt import ActionBankOptimizer, LinUCBStrategy, make_reward_model
from hillmix_sim import CompanySimulator

TRUTHS = ("mixture_of_experts", "gmm")


def run(truth: str, seed: int, model: str | None, args) -> dict:
    algorithm = None
    if model is not None:
        params = {} if model == "logistic" else {"random_state": seed}
        algorithm = ActionBankOptimizer(
            reward_model=make_reward_model(model, **params),
            action_pool_size=args.pool,
            random_state=seed,
        )
    simulator = CompanySimulator(
        strategy=LinUCBStrategy(),
        ground_truth=truth,
        algorithm=algorithm,
        action_bank_size=args.bank_size if model is not None else 0,
        n_iterations=args.iterations,
        n_users=args.users,
        n_initial_actions=30,
        random_state=seed,
    )
    start = time.perf_counter()
    results = simulator.run()
    rows = results.iterations
    record = {
        "truth": truth,
        "seed": seed,
        "model": model or "keep the bank",
        "final_expected_reward": float(rows["expected_reward"].iloc[-1]),
        "mean_expected_reward": float(rows["expected_reward"].mean()),
        "final_oracle_reward": float(rows["oracle_reward"].iloc[-1]),
        "seconds": time.perf_counter() - start,
    }
    proposals = [e["proposal"] for e in results.ground_truth_evaluations if "proposal" in e]
    if proposals:
        record.update(
            gained=float(np.mean([_gain(p) for p in proposals])),
            first_gained=_gain(proposals[0]),
            first_achievable=_pool_lift(proposals[0]),
            model_truth_correlation=float(
                np.mean([p["model_truth_correlation"] for p in proposals])
            ),
            achievable=float(np.mean([_pool_lift(p) for p in proposals])),
        )
    return record


def _gain(proposal: dict) -> float:
    return proposal["new_bank_oracle_value"] - proposal["current_bank_oracle_value"]


def _pool_lift(proposal: dict) -> float:
    return proposal["pool_best_bank_oracle_value"] - proposal["current_bank_oracle_value"]


def _gain(proposal: dict) -> float:
    return proposal["new_bank_oracle_value"] - proposal["current_bank_oracle_value"]


def _pool_lift(proposal: dict) -> float:
    return proposal["pool_best_bank_oracle_value"] - proposal["current_bank_oracle_value"]


def summary(per_run: pd.DataFrame) -> pd.DataFrame:
    """Lift over the baseline per truth and model: mean, 90% interval over seeds, wins."""
    base = per_run[per_run.model == "keep the bank"].set_index(["truth", "seed"])
    rows = []
    for (truth, model), group in per_run[per_run.model != "keep the bank"].groupby(
        ["truth", "model"], sort=False
    ):
        group = group.set_index(["truth", "seed"])
        lift = group["final_expected_reward"] - base.loc[group.index, "final_expected_reward"]
        low, high = np.quantile(lift, [0.05, 0.95])
        rows.append(
            {
                "truth": truth,
                "model": model,
                "baseline": base.loc[group.index, "final_expected_reward"].mean(),
                "with new banks": group["final_expected_reward"].mean(),
                "lift": lift.mean(),
                "lift_low": low,
                "lift_high": high,
                "wins": f"{int((lift > 0).sum())}/{len(lift)}",
                # Ratios of means over seeds: a seed whose pool offers
                # almost nothing would make a mean of ratios explode.
                "captured_lift": group["gained"].mean() / group["achievable"].mean(),
                "first_captured_lift": group["first_gained"].mean()
                / group["first_achievable"].mean(),
                "model_truth_correlation": group["model_truth_correlation"].mean(),
            }
        )
    return pd.DataFrame(rows)


def to_rst(table: pd.DataFrame) -> str:
    header = ["truth", "reward model", "baseline", "new banks", "lift", "90% interval",
              "wins", "lift captured", "first", "model corr."]  # fmt: skip
    body = [
        [r.truth, r.model, f"{r.baseline:.4f}", f"{r['with new banks']:.4f}", f"{r.lift:+.4f}",
         f"[{r.lift_low:+.4f}, {r.lift_high:+.4f}]", r.wins, f"{r.captured_lift:.2f}",
         f"{r.first_captured_lift:.2f}", f"{r.model_truth_correlation:.2f}"]
        for _, r in table.iterrows()
    ]  # fmt: skip
    return rst_table(header, body)


def plot(per_run: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truths = list(dict.fromkeys(per_run.truth))
    fig, axes = plt.subplots(1, len(truths), figsize=(5 * len(truths), 3.6), squeeze=False)
    base = per_run[per_run.model == "keep the bank"].set_index(["truth", "seed"])
    for ax, truth in zip(axes[0], truths, strict=True):
        runs = per_run[(per_run.truth == truth) & (per_run.model != "keep the bank")]
        models = list(dict.fromkeys(runs.model))
        for i, model in enumerate(models):
            group = runs[runs.model == model].set_index(["truth", "seed"])
            lift = group["final_expected_reward"] - base.loc[group.index, "final_expected_reward"]
            ax.scatter(np.full(len(lift), i), lift, alpha=0.7)
            ax.errorbar(i, lift.mean(), yerr=lift.std(ddof=1) if len(lift) > 1 else 0,
                        fmt="o", color="black", capsize=4)  # fmt: skip
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(range(len(models)), models)
        ax.set_title(truth)
        ax.set_ylabel("lift in final-iteration true reward")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--truths", nargs="+", default=list(TRUTHS), choices=TRUTHS)
    parser.add_argument("--models", nargs="+", default=["lightgbm"])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--bank_size", type=int, default=10)
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--rst", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    records = []
    for truth in args.truths:
        for seed in args.seeds:
            for model in [None, *args.models]:
                records.append(run(truth, seed, model, args))
                r = records[-1]
                print(f"{truth} seed {seed} {r['model']}: {r['final_expected_reward']:.4f} "
                      f"({r['seconds']:.0f} s)", flush=True)  # fmt: skip
    per_run = pd.DataFrame(records)
    table = summary(per_run)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(4))
    if args.out is not None:
        per_run.to_csv(args.out, index=False)
    if args.rst is not None:
        args.rst.write_text(to_rst(table))
    if args.plot is not None:
        plot(per_run, args.plot)


if __name__ == "__main__":
    main()
