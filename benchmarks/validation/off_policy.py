"""Off-policy estimators against the simulated company's truth: the tables of docs/off_policy.rst.

Part 1, the estimators' bias, standard deviation, RMSE and interval
coverage (``hillmix_opt.evaluate_estimators``): a company (mixture-of-experts
truth, 30 actions) whose LinUCB has learnt from 10,000 users logs fresh users
with epsilon-greedy propensities, frozen while it logs; three target policies
are valued from each of ``--replications`` logs of ``--users`` users: a
different LinUCB (greedy on its ridge estimate, epsilon 0.05, fitted on a
uniform log of 5,000 other users), the oracle (each user's truly best
action) and uniform random. The truth is each target's expected reward on
200,000 fresh users.

Part 2, valuing a new bank before deployment: from one log of the old bank,
an ActionBankOptimizer proposes a bank of 10 (its reward model fitted on the
same log) and ``--banks`` random banks of 10 are drawn from its pool of
candidates (0, 3 or 6 of them kept from the old bank). The target on each
bank is the company's LinUCB moved to it (``set_bank``, before it learns
anything there); DM, DR and the embedding estimators (MIPS, MIPS-DR) value it
from the old bank's log, and the truth is its expected reward after
deployment on 50,000 fresh users. Reported per seed: the correlation of each
estimate with the truth over the banks, its bias and RMSE.

Usage (one core)::

    python benchmarks/validation/off_policy.py --replications 50 --users 10000 \\
        --seeds 0 1 2 --banks 20 --out benchmarks/validation/off_policy.csv \\
        --banks_out benchmarks/validation/off_policy_banks.csv \\
        --rst docs/off_policy_table.rst --banks_rst docs/off_policy_banks_table.rst
"""

from __future__ import annotations

import argparse
import copy
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _rst import rst_table  # this folder's shared table writer
from threadpoolctl import threadpool_limits

from hillmix_opt import (
    ActionBankOptimizer,
    BanditLog,
    DMEstimator,
    DREstimator,
    IPWEstimator,
    LinUCBStrategy,
    LogisticRewardModel,
    MIPSEstimator,
    RandomStrategy,
    SNIPWEstimator,
    SwitchDREstimator,
    UnsupportedActionWarning,
    evaluate_estimators,
)
from hillmix_sim import USER_SCORE_COLUMNS, CompanySimulator


class Oracle:
    """Each user's truly best action of the bank (a policy only a simulation can run)."""

    def __init__(self, truth, bank):
        self.truth, self.bank = truth, bank

    def predict_proba(self, users):
        P = self.truth.click_probability(np.asarray(users, dtype=np.float64), self.bank)
        best = np.zeros_like(P)
        best[np.arange(len(P)), P.argmax(axis=1)] = 1.0
        return best


def company(seed: int, epsilon: float) -> CompanySimulator:
    """The company after one iteration of 10,000 users: its LinUCB is the logging policy."""
    return CompanySimulator(
        strategy=LinUCBStrategy(epsilon=epsilon),
        n_iterations=1,
        n_users=10_000,
        n_initial_actions=30,
        random_state=seed,
    ).fit()


def estimators() -> dict:
    return {
        "IPW": IPWEstimator(),
        "SNIPW": SNIPWEstimator(),
        "DM": DMEstimator(),
        "DR": DREstimator(),
        "Switch-DR": SwitchDREstimator(),
        "MIPS": MIPSEstimator(),
        "MIPS-DR": MIPSEstimator(reward_model=LogisticRewardModel()),
    }


# ------------------------------------------------------------------ part 1
def replications(args) -> pd.DataFrame:
    sim = company(args.seed, args.epsilon)
    bank = sim.results_.banks[0]
    uniform = RandomStrategy().set_bank(bank)
    train, _ = sim.simulate_log(uniform, n_users=5000, random_state=args.seed + 1)
    other = LinUCBStrategy(alpha=0.0, epsilon=0.05, pca_components=8, random_state=args.seed)
    other.fit(train, bank, feature_columns=list(USER_SCORE_COLUMNS))
    targets = {"LinUCB (other)": other, "oracle": Oracle(sim.ground_truth_, bank),
               "uniform": uniform}  # fmt: skip
    return evaluate_estimators(
        estimators(), sim, sim.strategy_, targets, n_replications=args.replications,
        n_users=args.users, n_truth_users=200_000, random_state=args.seed, n_jobs=args.n_jobs,
        progress=True,
    )  # fmt: skip


def to_rst(table: pd.DataFrame) -> str:
    header = ["target", "estimator", "truth", "mean", "bias", "2 SE", "std", "RMSE",
              "coverage", "ESS"]  # fmt: skip
    rows = []
    for _, r in table.iterrows():
        two_se = 2 * np.hypot(r.bias_std_error, r.truth_std_error)
        rows.append(
            [r.target, r.estimator, f"{r.true_value:.4f}", f"{r.mean_estimate:.4f}",
             f"{r.bias:+.4f}", f"{two_se:.4f}", f"{r['std']:.4f}", f"{r.rmse:.4f}",
             f"{r.ci_coverage:.2f}", f"{r.mean_effective_sample_size:.0f}"]
        )  # fmt: skip
    return rst_table(header, rows)


# ------------------------------------------------------------------ part 2
BANK_ESTIMATORS = ("DM", "DR", "MIPS", "MIPS-DR", "IPW")


def new_banks(seed: int, args) -> pd.DataFrame:
    sim = company(seed, args.epsilon)
    bank = sim.results_.banks[0]
    logger = sim.strategy_
    observations, proba = sim.simulate_log(logger, n_users=args.users, random_state=seed + 1)
    log = BanditLog.from_observations(observations, bank, logging_proba=proba)
    optimizer = ActionBankOptimizer(
        reward_model=LogisticRewardModel(), action_pool_size=args.pool, random_state=seed
    )
    banks = {"optimizer": optimizer.propose_bank(observations, bank, 10)}
    pool = optimizer.candidates_
    rng = np.random.default_rng(seed)
    new = np.arange(len(bank), len(pool))
    for j in range(args.banks):
        kept = (0, 3, 6)[j % 3]
        picks = np.concatenate(
            [rng.choice(len(bank), kept, replace=False), rng.choice(new, 10 - kept, replace=False)]
        )
        banks[f"random {j}"] = pool.take(np.sort(picks))
    fitted = {name: estimators()[name].fit(log) for name in BANK_ESTIMATORS}
    users = observations[list(USER_SCORE_COLUMNS)]
    rows = []
    for name, new_bank in banks.items():
        target = copy.deepcopy(logger).set_bank(new_bank)
        P = target.predict_proba(users)
        truth = sim.policy_value(target, bank=new_bank, n_users=50_000, random_state=seed + 2)
        row = {
            "seed": seed,
            "bank": name,
            "kept": int(np.isin(new_bank.action_ids, bank.action_ids).sum()),
            "truth": truth,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnsupportedActionWarning)  # new actions: expected
            values = {k: e.estimate_policy_value(P, bank=new_bank) for k, e in fitted.items()}
        row.update({label: value.estimate for label, value in values.items()})
        # The target's share on actions the old log never had: the new ones.
        row["unsupported"] = values["DR"].unsupported_share
        rows.append(row)
    return pd.DataFrame(rows)


def bank_summary(per_bank: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for label in BANK_ESTIMATORS:
        per_seed = per_bank.groupby("seed")[["truth", label]].corr().xs("truth", level=1)[label]
        error = per_bank[label] - per_bank["truth"]
        optimizer = per_bank[per_bank.bank == "optimizer"]
        rows.append(
            {
                "estimator": label,
                "correlation": per_seed.mean(),
                "correlation_min": per_seed.min(),
                "pooled_correlation": per_bank[["truth", label]].corr().iloc[0, 1],
                "bias": error.mean(),
                "rmse": float(np.sqrt(np.mean(error**2))),
                "optimizer_error": (optimizer[label] - optimizer["truth"]).mean(),
            }
        )
    return pd.DataFrame(rows)


def banks_to_rst(summary: pd.DataFrame) -> str:
    header = ["estimator", "correlation", "worst seed", "pooled", "bias", "RMSE",
              "optimizer's bank: error"]  # fmt: skip
    rows = [
        [r.estimator, f"{r.correlation:.2f}", f"{r.correlation_min:.2f}",
         f"{r.pooled_correlation:.2f}", f"{r.bias:+.4f}", f"{r.rmse:.4f}",
         f"{r.optimizer_error:+.4f}"]
        for _, r in summary.iterrows()
    ]  # fmt: skip
    return rst_table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="the company of part 1")
    parser.add_argument("--replications", type=int, default=50)
    parser.add_argument("--users", type=int, default=10_000, help="users per log")
    parser.add_argument("--epsilon", type=float, default=0.1, help="the logger's exploration")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="part 2")
    parser.add_argument("--banks", type=int, default=20, help="random banks per seed")
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--n_jobs", type=int, default=None)
    parser.add_argument("--skip_replications", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--banks_out", type=Path, default=None)
    parser.add_argument("--rst", type=Path, default=None)
    parser.add_argument("--banks_rst", type=Path, default=None)
    args = parser.parse_args()
    with threadpool_limits(limits=1):  # one core, as reported
        if not args.skip_replications:
            start = time.perf_counter()
            table = replications(args)
            print(f"part 1: {time.perf_counter() - start:.0f} s", flush=True)
            with pd.option_context("display.width", 200, "display.max_columns", 20):
                print(table.drop(columns=["n_replications"]).round(4))
            if args.out is not None:
                table.to_csv(args.out, index=False)
            if args.rst is not None:
                args.rst.write_text(to_rst(table))
        if args.seeds:
            start = time.perf_counter()
            per_bank = pd.concat([new_banks(seed, args) for seed in args.seeds])
            print(f"part 2: {time.perf_counter() - start:.0f} s", flush=True)
            summary = bank_summary(per_bank)
            with pd.option_context("display.width", 200, "display.max_columns", 20):
                print(per_bank.round(4).to_string(index=False))
                print(summary.round(4))
            if args.banks_out is not None:
                per_bank.to_csv(args.banks_out, index=False)
            if args.banks_rst is not None:
                args.banks_rst.write_text(banks_to_rst(summary))


if __name__ == "__main__":
    main()
