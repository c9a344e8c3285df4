"""Reward models scored against the true preferences of a simulated company.

A real log never says how right a reward model is: clicks are draws, and
the true P(click) is unknown. A simulated company knows it. Every model is
fitted on the same log, then scored, for fresh users, against the ground
truth's P(click) on the actions of the bank and, separately, on candidate
actions never sent: the ones an action-bank algorithm has to judge.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from hillmix.utils import check_generator
from hillmix_sim import (
    USER_FEATURES,
    USER_SCORE_COLUMNS,
    HashingEmbedder,
    TemplateActionGenerator,
    UserGenerator,
    make_action_bank,
    user_matrix,
)

from ._base import _as_embeddings
from ._factory import REWARD_MODELS
from ._table import _bank_lookup, reward_table, user_columns

__all__ = ["compare_reward_models", "reward_model_scores"]

_EPS = 1e-12


def reward_model_scores(
    true_p, predicted_p, *, interval=None, random_state=None, n_bins: int = 15
) -> dict:
    """How well predicted click probabilities match the true ones.

    Parameters
    ----------
    true_p : array-like
        The true P(click) of each user and action.
    predicted_p : array-like of the same shape
        A model's.
    interval : (lower, upper), optional
        A model's interval for each true P(click); its coverage is reported.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the clicks drawn for the AUC.
    n_bins : int, default=15
        Equal-mass bins of the predictions for the calibration error.

    Returns
    -------
    scores : dict
        ``pearson`` and ``spearman`` correlation with the truth; ``log_loss``
        and ``brier``, expected over clicks drawn from the truth (so free of
        the draws' noise); ``auc`` on clicks drawn from the truth;
        ``ece``, the expected calibration error (the mass-weighted gap
        between mean prediction and mean truth over bins of the
        predictions); ``coverage`` of the interval (NaN without one).

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import reward_model_scores
    >>> p = np.linspace(0.01, 0.3, 100)
    >>> scores = reward_model_scores(p, p, random_state=0)
    >>> round(scores["pearson"], 6), round(scores["ece"], 6)
    (1.0, 0.0)
    """
    P = np.asarray(true_p, dtype=np.float64).ravel()
    Q = np.asarray(predicted_p, dtype=np.float64).ravel()
    if P.shape != Q.shape:
        raise ValueError(f"true_p and predicted_p differ in size: {P.size} and {Q.size}.")
    Qc = np.clip(Q, _EPS, 1 - _EPS)
    clicks = check_generator(random_state).random(P.size) < P
    order = np.argsort(Q, kind="stable")
    bins = np.array_split(order, min(n_bins, P.size))
    ece = sum(len(b) * abs(Q[b].mean() - P[b].mean()) for b in bins if len(b)) / P.size
    coverage = np.nan
    if interval is not None:
        lower, upper = (np.asarray(v, dtype=np.float64).ravel() for v in interval)
        coverage = float(np.mean((lower <= P) & (upper >= P)))
    constant = np.ptp(Q) == 0 or np.ptp(P) == 0
    return {
        "pearson": np.nan if constant else float(np.corrcoef(P, Q)[0, 1]),
        "spearman": np.nan if constant else float(stats.spearmanr(P, Q).statistic),
        "log_loss": float(-np.mean(P * np.log(Qc) + (1 - P) * np.log1p(-Qc))),
        "brier": float(np.mean((Q - P) ** 2 + P * (1 - P))),
        "auc": float(roc_auc_score(clicks, Q)) if 0 < clicks.sum() < P.size else np.nan,
        "ece": float(ece),
        "coverage": coverage,
    }


def _model_inputs(users: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The fresh users as the models see them: the log's user columns."""
    if columns == list(USER_SCORE_COLUMNS) and not set(columns) <= set(users.columns):
        return pd.DataFrame(user_matrix(users), columns=columns)
    missing = [c for c in columns if c not in users.columns]
    if missing:
        raise ValueError(f"users lacks the log's user feature columns {missing}.")
    return users[columns]


def _default_models(random_state):
    seed = check_generator(random_state)
    models = {}
    for name, cls in REWARD_MODELS.items():
        params = cls().get_params()
        models[name] = cls(
            **({"random_state": int(seed.integers(2**31))} if "random_state" in params else {})
        )
    return models


def compare_reward_models(
    log: pd.DataFrame,
    banks,
    ground_truth,
    *,
    models=None,
    users: pd.DataFrame | None = None,
    n_users: int = 2000,
    candidates=None,
    n_candidates: int = 200,
    embedder=None,
    coverage: float = 0.9,
    random_state=None,
    progress: bool = False,
) -> pd.DataFrame:
    """Fit reward models on one log; score them against the true P(click) of fresh users.

    The table the targeting seed's ``test_preference_model.py --model_type
    compare_all`` printed, with the ground truth as the reference: for each
    model, on the bank's actions and on unseen candidate actions
    separately, the correlation of its P(click) with the truth (the
    "ground truth correlation" models are compared on), the expected log
    loss and Brier score, the AUC on clicks drawn from the truth, the
    expected calibration error, the coverage of its intervals (models with
    uncertainty), and its fit and ``predict_matrix`` times.

    Parameters
    ----------
    log : DataFrame
        The training log (``results_.observations``, one iteration or
        several concatenated).
    banks : ActionBank or list of ActionBank
        The banks of the log's decisions (``results_.banks``).
    ground_truth : fitted preference model
        ``click_probability(users, actions)``: the simulation's
        ``ground_truth_``.
    models : dict of str to estimator, or list of str, default=None
        The models, by label (cloned and fitted here), or names of
        :data:`REWARD_MODELS`; None compares all six. The torch models need
        ``hillmix[torch]``.
    users : DataFrame, default=None
        Fresh users (the columns of :data:`hillmix_sim.USER_FEATURES`);
        ``n_users`` drawn by :class:`hillmix_sim.UserGenerator` when None.
    n_users : int, default=2000
    candidates : ActionBank or array-like, default=None
        Actions never sent; ``n_candidates`` template texts, none in the
        banks, embedded by ``embedder``, when None.
    n_candidates : int, default=200
    embedder : object with ``embed(texts)``, default=None
        The log's embedder, for the default candidates;
        :class:`hillmix_sim.HashingEmbedder` (the simulator's default) when
        None.
    coverage : float, default=0.9
        Mass of the intervals whose coverage is reported.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the users, the candidates, the models and the AUC's clicks.
    progress : bool, default=False
        A progress bar over models.

    Returns
    -------
    table : DataFrame
        One row per model and action set (index ``model``, ``actions`` in
        ``{"bank", "candidates"}``), columns ``pearson``, ``spearman``,
        ``log_loss``, ``brier``, ``auc``, ``ece``, ``coverage``,
        ``fit_seconds`` and ``predict_seconds``.

    Examples
    --------
    >>> from hillmix_opt import RandomStrategy, compare_reward_models
    >>> from hillmix_sim import CompanySimulator, HashingEmbedder
    >>> sim = CompanySimulator(strategy=RandomStrategy(), n_iterations=1, n_users=3000,
    ...                        n_initial_actions=10, random_state=0)
    >>> results = sim.run()
    >>> table = compare_reward_models(results.observations[0], results.banks, sim.ground_truth_,
    ...                               models=["logistic"], n_users=200, n_candidates=20,
    ...                               random_state=0)
    >>> table.index.tolist()
    [('logistic', 'bank'), ('logistic', 'candidates')]
    """
    rng = check_generator(random_state)
    seeds = rng.integers(2**31, size=4)
    X, y = reward_table(log, banks)
    columns = user_columns(log)
    if users is None:
        users = UserGenerator(random_state=int(seeds[0])).fit().generate(n_users)
    missing = [c for c in USER_FEATURES if c not in users.columns]
    if missing:
        raise ValueError(f"users lacks the user feature columns {missing} the truth scores.")
    model_users = _model_inputs(users, columns)
    _, bank = _bank_lookup(banks)
    if candidates is None:
        texts = [t for b in ([banks] if hasattr(banks, "texts") else banks) for t in b.texts]
        new = TemplateActionGenerator(random_state=int(seeds[1])).generate(
            n_candidates, exclude=texts
        )
        candidates = make_action_bank(new, embedder if embedder is not None else HashingEmbedder())
    candidates = _as_embeddings(candidates)
    if candidates.shape[1] != bank.shape[1]:
        raise ValueError(
            f"candidates have embeddings of dimension {candidates.shape[1]}, the log's "
            f"{bank.shape[1]}: pass the log's embedder (or candidates embedded with it)."
        )
    truth = {
        "bank": ground_truth.click_probability(users, bank),
        "candidates": ground_truth.click_probability(users, candidates),
    }
    if models is None:
        models = _default_models(int(seeds[2]))
    elif not isinstance(models, Mapping):
        chosen = _default_models(int(seeds[2]))
        unknown = [m for m in models if m not in chosen]
        if unknown:
            raise ValueError(
                f"Unknown reward model(s) {unknown}; expected names in {sorted(chosen)}."
            )
        models = {m: chosen[m] for m in models}
    rows = {}
    for label, model in tqdm(models.items(), disable=not progress, desc="models"):
        model = clone(model)
        start = time.perf_counter()
        model.fit(X, y)
        fit_seconds = time.perf_counter() - start
        uncertain = getattr(model, "_has_uncertainty", False)
        for actions, embeddings in (("bank", bank), ("candidates", candidates)):
            start = time.perf_counter()
            predicted = model.predict_matrix(model_users, embeddings)
            predict_seconds = time.perf_counter() - start
            interval = (
                model.predict_interval(model_users, embeddings, coverage) if uncertain else None
            )
            scores = reward_model_scores(
                truth[actions], predicted, interval=interval, random_state=int(seeds[3])
            )
            rows[(label, actions)] = {
                **scores,
                "fit_seconds": fit_seconds,
                "predict_seconds": predict_seconds,
            }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["model", "actions"])
    return table
