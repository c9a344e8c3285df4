"""The reward models' training table: one row per logged decision, user features then action.

A targeting log holds, per decision, the user's features, the id of the
action sent and whether the user clicked. A reward model needs the action
itself, its embedding, since it must score actions it never saw sent:
:func:`reward_table` joins each row to its action's embedding from the bank
the decision was made with.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hillmix_sim import USER_SCORE_COLUMNS

__all__ = ["EMBEDDING_PREFIX", "embedding_columns", "reward_table", "user_columns"]

#: Prefix of the action-embedding columns of a reward table: ``emb_0``, ``emb_1``, ...
EMBEDDING_PREFIX = "emb_"

# Columns of a log that are not user features: the decision and its outcome,
# and CompanySimulator's bookkeeping.
_NOT_FEATURES = (
    "action_id",
    "reward",
    "propensity",
    "user_id",
    "iteration",
    "click_probability",
)


def embedding_columns(dim: int) -> list[str]:
    """The names of ``dim`` embedding columns: ``emb_0`` to ``emb_{dim-1}``."""
    return [f"{EMBEDDING_PREFIX}{i}" for i in range(dim)]


def user_columns(log: pd.DataFrame) -> list[str]:
    """The user-feature columns of a log: the normal scores strategies see, when present.

    A :class:`~hillmix_sim.CompanySimulator` log holds the raw user columns
    and their normal scores (:data:`~hillmix_sim.USER_SCORE_COLUMNS`); the
    scores are the standardised features, and what the strategies decided
    on. Another log's features are its columns that are not the decision,
    its outcome or bookkeeping.
    """
    if all(c in log.columns for c in USER_SCORE_COLUMNS):
        return list(USER_SCORE_COLUMNS)
    return [c for c in log.columns if c not in _NOT_FEATURES]


def _bank_lookup(banks) -> tuple[np.ndarray, np.ndarray]:
    """Ids and embeddings of every action of ``banks``, each id once (checked consistent)."""
    if hasattr(banks, "action_ids") and hasattr(banks, "embeddings"):
        banks = [banks]
    if not isinstance(banks, Sequence) or isinstance(banks, str) or not banks:
        raise TypeError(
            "banks must be an ActionBank (an object with action_ids and embeddings) or a "
            f"non-empty list of them, got {type(banks).__name__}."
        )
    ids, rows = [], []
    for i, bank in enumerate(banks):
        if not (hasattr(bank, "action_ids") and hasattr(bank, "embeddings")):
            raise TypeError(f"banks[{i}] has no action_ids and embeddings.")
        ids.append(np.asarray(bank.action_ids, dtype=np.int64))
        rows.append(np.asarray(bank.embeddings, dtype=np.float64))
    dims = {r.shape[1] for r in rows}
    if len(dims) != 1:
        raise ValueError(f"banks have embeddings of different dimensions {sorted(dims)}.")
    ids, rows = np.concatenate(ids), np.concatenate(rows)
    unique, first = np.unique(ids, return_index=True)
    embeddings = rows[first]
    # An id seen in several banks must have one embedding.
    position = np.searchsorted(unique, ids)
    if not np.allclose(rows, embeddings[position], rtol=1e-6, atol=1e-9):
        changed = np.unique(ids[~np.all(np.isclose(rows, embeddings[position]), axis=1)])
        raise ValueError(f"action ids {changed[:10].tolist()} have different embeddings in banks.")
    return unique, embeddings


def reward_table(
    log: pd.DataFrame, banks, *, feature_columns: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """Join a targeting log to its actions' embeddings: the reward models' ``X`` and ``y``.

    Parameters
    ----------
    log : DataFrame
        One row per decision, with ``action_id``, ``reward`` (a click, 0 or
        1) and user feature columns, such as a
        :class:`~hillmix_sim.CompanySimulator` run's
        ``results_.observations[i]`` (or several iterations concatenated).
    banks : ActionBank or list of ActionBank
        Banks holding every action of the log (``results_.banks``).
    feature_columns : list of str, default=None
        The user features; by default the normal scores
        (:data:`~hillmix_sim.USER_SCORE_COLUMNS`) when the log has them,
        else every column but the decision, its outcome and bookkeeping.

    Returns
    -------
    X : DataFrame of shape (n_decisions, n_user_features + embedding_dim)
        The user features, then the action's embedding as ``emb_0``,
        ``emb_1``, ...
    y : Series of shape (n_decisions,)
        The clicks, as int.

    Examples
    --------
    >>> from hillmix_opt import RandomStrategy, reward_table
    >>> from hillmix_sim import CompanySimulator
    >>> run = CompanySimulator(strategy=RandomStrategy(), n_iterations=1, n_users=300,
    ...                        n_initial_actions=5, random_state=0).run()
    >>> X, y = reward_table(run.observations[0], run.banks)
    >>> X.shape, list(X.columns[:2]), X.columns[-1], sorted(y.unique().tolist())
    ((300, 72), ['z_age', 'z_income'], 'emb_63', [0, 1])
    """
    if not isinstance(log, pd.DataFrame):
        raise TypeError(f"log must be a pandas DataFrame, got {type(log).__name__}.")
    missing = [c for c in ("action_id", "reward") if c not in log.columns]
    if missing:
        raise ValueError(f"log lacks the column(s) {missing}; a log needs action_id and reward.")
    if len(log) == 0:
        raise ValueError("log is empty: a reward model needs at least one decision.")
    columns = user_columns(log) if feature_columns is None else list(feature_columns)
    absent = [c for c in columns if c not in log.columns]
    if absent:
        raise ValueError(f"feature_columns names columns not in the log: {absent}.")
    if not columns:
        raise ValueError("log has no user feature columns.")
    clash = [c for c in columns if str(c).startswith(EMBEDDING_PREFIX)]
    if clash:
        raise ValueError(
            f"user feature columns {clash} use the embedding prefix {EMBEDDING_PREFIX!r}."
        )
    ids, embeddings = _bank_lookup(banks)
    logged = log["action_id"].to_numpy()
    position = np.searchsorted(ids, logged)
    position = np.minimum(position, ids.size - 1)
    unknown = logged[ids[position] != logged]
    if unknown.size:
        raise ValueError(
            f"log has action ids {np.unique(unknown)[:10].tolist()} that no bank holds; pass "
            "every bank the log's decisions were made with."
        )
    actions = pd.DataFrame(embeddings[position], columns=embedding_columns(embeddings.shape[1]))
    X = pd.concat([log[columns].reset_index(drop=True), actions], axis=1)
    y = pd.Series(log["reward"].to_numpy(), name="reward")
    if not np.isin(y.unique(), (0, 1)).all():
        raise ValueError(
            "log['reward'] must hold clicks, 0 or 1; got values "
            f"{np.unique(y)[:10].tolist()}. Reward models learn P(click)."
        )
    return X, y.astype(int)
