"""evaluate_estimators: off-policy estimators measured against a simulated company's truth.

A real log never says how far an estimate is from the truth. A simulated
company knows the true value of every policy (its expected reward on fresh
users, :meth:`hillmix_sim.CompanySimulator.policy_value`), so estimators can
be run on many replicated logs and scored, as Open Bandit Pipeline does on
its synthetic data, by their bias, standard deviation, RMSE and the
coverage of their intervals.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from hillmix.utils import resolve_seed, seeded_copy
from hillmix_sim import USER_SCORE_COLUMNS

from ._base import UnsupportedActionWarning, _BaseOffPolicyEstimator
from ._log import BanditLog
from ._threads import one_thread

__all__ = ["evaluate_estimators"]

# Columns of the per-replication records.
_RECORD_COLUMNS = [
    "replication", "target", "estimator", "estimate", "ci_low", "ci_high", "std_error",
    "effective_sample_size", "unsupported_share",
]  # fmt: skip


def _labelled(estimators) -> dict[str, _BaseOffPolicyEstimator]:
    if isinstance(estimators, Mapping):
        items = list(estimators.items())
    elif isinstance(estimators, Sequence) and not isinstance(estimators, str):
        items, counts = [], {}
        for estimator in estimators:
            label = getattr(estimator, "label", type(estimator).__name__)
            counts[label] = counts.get(label, 0) + 1
            items.append((label if counts[label] == 1 else f"{label} ({counts[label]})", estimator))
    else:
        raise TypeError(
            "estimators must be a mapping of names to estimators or a list of estimators, got "
            f"{type(estimators).__name__}."
        )
    if not items:
        raise ValueError("estimators is empty: give at least one estimator.")
    for name, estimator in items:
        if not isinstance(estimator, _BaseOffPolicyEstimator):
            raise TypeError(
                f"estimators[{name!r}] must be an off-policy estimator of hillmix_opt "
                f"(IPWEstimator, DREstimator, ...), got {type(estimator).__name__}."
            )
    return {str(name): estimator for name, estimator in items}


def _policies(target_policies) -> dict:
    if not isinstance(target_policies, Mapping) or not target_policies:
        raise TypeError(
            "target_policies must be a non-empty mapping of names to policies (objects with "
            "predict_proba)."
        )
    for name, policy in target_policies.items():
        if not callable(getattr(policy, "predict_proba", None)):
            raise TypeError(
                f"target_policies[{name!r}] must have a predict_proba method, got "
                f"{type(policy).__name__}."
            )
    return {str(name): policy for name, policy in target_policies.items()}


def _replicate(replication, seed, simulator, bank, logging_policy, targets, estimators, n_users):
    """One replicated log and every estimator's estimate of every target on it."""
    log_seed, estimator_seed = (
        int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(2)
    )
    records = []
    with one_thread(None):
        observations, proba = simulator.simulate_log(
            logging_policy, bank=bank, n_users=n_users, random_state=log_seed
        )
        log = BanditLog.from_observations(observations, bank, logging_proba=proba)
        users = observations[list(USER_SCORE_COLUMNS)]
        target_proba = {name: policy.predict_proba(users) for name, policy in targets.items()}
        for label, estimator in estimators.items():
            fitted = seeded_copy(estimator, estimator_seed).fit(log)
            for name, P in target_proba.items():
                with warnings.catch_warnings():
                    # Reported once, as the table's unsupported_share.
                    warnings.simplefilter("ignore", UnsupportedActionWarning)
                    value = fitted.estimate_policy_value(P)
                records.append(
                    [replication, name, label, value.estimate, value.ci_low, value.ci_high,
                     value.std_error, value.effective_sample_size, value.unsupported_share]
                )  # fmt: skip
    return records


def evaluate_estimators(
    estimators: Mapping[str, _BaseOffPolicyEstimator] | Sequence[_BaseOffPolicyEstimator],
    simulator,
    logging_policy,
    target_policies: Mapping[str, object],
    *,
    bank=None,
    n_replications: int = 50,
    n_users: int = 10_000,
    n_truth_users: int = 200_000,
    random_state=None,
    n_jobs: int | None = None,
    progress: bool = False,
    return_replications: bool = False,
):
    """Bias, standard deviation, RMSE and interval coverage of estimators, against the truth.

    Each replication draws a fresh log of ``n_users`` users from the
    logging policy (:meth:`hillmix_sim.CompanySimulator.simulate_log`:
    fresh users, actions drawn from the policy, clicks from the ground
    truth), fits every estimator on it and values every target policy. The
    truth is each target's expected reward on ``n_truth_users`` other
    fresh users (:meth:`~hillmix_sim.CompanySimulator.policy_value`).

    Replications run through joblib; each is seeded from ``random_state``
    alone (:class:`numpy.random.SeedSequence` spawned once per replication)
    and runs its BLAS and OpenMP on one thread, so the table is the same,
    bit for bit, whatever ``n_jobs`` and backend.

    Parameters
    ----------
    estimators : mapping of str to estimator, or list of estimators
        Off-policy estimators of :mod:`hillmix_opt` (unfitted; each is
        copied per replication, its ``random_state`` set from the
        replication's seed when None). A list is named by the estimators'
        ``label``.
    simulator : CompanySimulator
        A fitted company (after ``fit`` or ``run``): its ground truth and
        users.
    logging_policy : object with ``predict_proba``
        The policy whose logs are replicated: for a DataFrame of users'
        normal scores (:data:`hillmix_sim.USER_SCORE_COLUMNS`), the
        probability of each action of ``bank`` (a strategy given the bank,
        say the company's ``strategy_``). It does not learn while logging.
    target_policies : mapping of str to objects with ``predict_proba``
        The policies to value, on the same bank.
    bank : ActionBank, default=None
        The simulator's last bank when None.
    n_replications : int, default=50
    n_users : int, default=10000
        Users per replicated log.
    n_truth_users : int, default=200000
        Fresh users the true values are computed on.
    random_state : int, numpy.random.Generator or None, default=None
    n_jobs : int, default=None
        Parallel replications, as joblib counts them (None is one, -1 all
        cores).
    progress : bool, default=False
        A progress bar over replications.
    return_replications : bool, default=False
        Also return every replication's estimates.

    Returns
    -------
    table : pandas.DataFrame
        One row per target and estimator: ``true_value`` and its Monte
        Carlo ``truth_std_error``; over replications, ``mean_estimate``,
        ``bias`` (mean estimate minus truth), ``bias_std_error`` (``std /
        sqrt(n_replications)``), ``std``, ``rmse``, ``relative_rmse``
        (over the truth), ``ci_coverage`` (share of intervals holding the
        truth), ``mean_ci_width``, ``mean_effective_sample_size`` and
        ``mean_unsupported_share``; ``n_replications``.
    replications : pandas.DataFrame
        With ``return_replications=True``: one row per replication, target
        and estimator (``estimate``, ``ci_low``, ``ci_high``,
        ``std_error``, ``effective_sample_size``, ``unsupported_share``).

    Warns
    -----
    UnsupportedActionWarning
        Once per target whose probability falls, on average, where the
        logger had none.

    Examples
    --------
    >>> from hillmix_opt import IPWEstimator, LinUCBStrategy, RandomStrategy, evaluate_estimators
    >>> from hillmix_sim import CompanySimulator
    >>> sim = CompanySimulator(strategy=LinUCBStrategy(epsilon=0.2), n_iterations=1,
    ...                        n_users=1000, n_initial_actions=5, random_state=0).fit()
    >>> uniform = RandomStrategy().set_bank(sim.results_.banks[0])
    >>> table = evaluate_estimators([IPWEstimator()], sim, sim.strategy_, {"uniform": uniform},
    ...                             n_replications=5, n_users=500, n_truth_users=5000,
    ...                             random_state=0)
    >>> list(table.columns[:6])
    ['target', 'estimator', 'true_value', 'truth_std_error', 'mean_estimate', 'bias']
    """
    labelled = _labelled(estimators)
    targets = _policies(target_policies)
    if not callable(getattr(logging_policy, "predict_proba", None)):
        raise TypeError(
            f"logging_policy must have a predict_proba method, got {type(logging_policy).__name__}."
        )
    for name, value in (
        ("n_replications", n_replications),
        ("n_users", n_users),
        ("n_truth_users", n_truth_users),
    ):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not hasattr(simulator, "ground_truth_") or not callable(
        getattr(simulator, "simulate_log", None)
    ):
        raise TypeError(
            "simulator must be a fitted CompanySimulator (call fit or run first), got "
            f"{type(simulator).__name__}."
        )
    if bank is None:
        bank = simulator.results_.banks[-1]
    root = np.random.SeedSequence(resolve_seed(random_state))
    truth_seq, replication_seq = root.spawn(2)
    truth_seed = int(truth_seq.generate_state(1)[0])
    seeds = [int(s.generate_state(1)[0]) for s in replication_seq.spawn(int(n_replications))]

    with one_thread(None):
        # The same fresh users for every target.
        users = simulator.sample_users(int(n_truth_users), random_state=truth_seed)
        truth = {
            name: simulator.policy_value(policy, bank=bank, users=users, return_std_error=True)
            for name, policy in targets.items()
        }

    tasks = (
        delayed(_replicate)(r, seed, simulator, bank, logging_policy, targets, labelled, n_users)
        for r, seed in enumerate(seeds)
    )
    results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    records = []
    for part in tqdm(results, total=len(seeds), disable=not progress, desc="replications"):
        records.extend(part)
    replications = pd.DataFrame(records, columns=_RECORD_COLUMNS)
    table = _summarise(replications, truth, list(targets), list(labelled))
    for name, share in table.groupby("target", sort=False)["mean_unsupported_share"].max().items():
        if share > 0:
            warnings.warn(
                f"target {name!r} puts {share:.2%} of its probability (mean over users) where "
                "the logging policy had none; the weighting estimators cannot value it.",
                UnsupportedActionWarning,
                stacklevel=2,
            )
    return (table, replications) if return_replications else table


def _summarise(replications, truth, targets, labels) -> pd.DataFrame:
    rows = []
    for target in targets:
        value, truth_se = truth[target]
        for label in labels:
            part = replications[(replications.target == target) & (replications.estimator == label)]
            estimates = part["estimate"].to_numpy()
            R = estimates.size
            std = float(np.std(estimates, ddof=1)) if R > 1 else np.nan
            errors = estimates - value
            rmse = float(np.sqrt(np.mean(errors**2)))
            covered = (part["ci_low"] <= value) & (value <= part["ci_high"])
            rows.append(
                {
                    "target": target,
                    "estimator": label,
                    "true_value": value,
                    "truth_std_error": truth_se,
                    "mean_estimate": float(np.mean(estimates)),
                    "bias": float(np.mean(errors)),
                    "bias_std_error": std / np.sqrt(R) if R > 1 else np.nan,
                    "std": std,
                    "rmse": rmse,
                    "relative_rmse": rmse / abs(value) if value else np.nan,
                    "ci_coverage": float(covered.mean()),
                    "mean_ci_width": float((part["ci_high"] - part["ci_low"]).mean()),
                    "mean_effective_sample_size": float(part["effective_sample_size"].mean()),
                    "mean_unsupported_share": float(part["unsupported_share"].mean()),
                    "n_replications": int(R),
                }
            )
    return pd.DataFrame(rows)
