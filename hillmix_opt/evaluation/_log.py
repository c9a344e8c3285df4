"""BanditLog: a targeting log as off-policy estimators read it, checked once.

Every row is one decision: the user's features, the action the logging
policy chose (its position in the logging policy's actions), the reward,
and the probability the logging policy gave that action (its propensity).
Optionally the logging policy's probabilities of every action, and the
actions' ids and embeddings, which the model-based and embedding-based
estimators need and which let a target policy act on another bank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..rewards._table import user_columns

__all__ = ["PROBA_ATOL", "BanditLog", "check_proba"]

#: Rows of a probability matrix must sum to one within this.
PROBA_ATOL = 1e-6

# A propensity must equal the logging probabilities' entry at the logged
# action within this relative tolerance (they are the same number, stored
# twice, so only rounding separates them).
_PROPENSITY_RTOL = 1e-6


def _rows(mask: np.ndarray, limit: int = 10) -> list[int]:
    return np.flatnonzero(mask)[:limit].tolist()


def _float_array(values, name: str, ndim: int) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers.") from None
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}.")
    return array


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.flags.writeable = False
    return array


def check_proba(proba, name: str, n_rows: int, n_columns: int | None = None) -> np.ndarray:
    """A policy's probability matrix, checked: shape, finite, non-negative, rows summing to one."""
    P = _float_array(proba, name, 2)
    if P.shape[0] != n_rows or (n_columns is not None and P.shape[1] != n_columns):
        wanted = f"({n_rows}, {n_columns if n_columns is not None else 'n_actions'})"
        raise ValueError(
            f"{name} must have shape {wanted}, one row per logged user; got {P.shape}."
        )
    if P.shape[1] == 0:
        raise ValueError(f"{name} has no columns: a policy needs at least one action.")
    bad = ~np.isfinite(P).all(axis=1)
    if bad.any():
        raise ValueError(f"{name} has NaN or infinite probabilities in rows {_rows(bad)}.")
    negative = (P < 0).any(axis=1)
    if negative.any():
        raise ValueError(f"{name} has negative probabilities in rows {_rows(negative)}.")
    sums = P.sum(axis=1)
    off = np.abs(sums - 1.0) > PROBA_ATOL
    if off.any():
        first = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"{name}'s rows must sum to one (a policy's probabilities over its actions); "
            f"rows {_rows(off)} do not (row {first} sums to {sums[first]:.6g})."
        )
    return P


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class BanditLog:
    """A log of decisions with their propensities, for off-policy estimators.

    Checked when made, so every estimator gets a valid log: a missing
    (NaN) or zero propensity, or logging probabilities whose rows do not
    sum to one, are refused with a ValueError naming the field. Arrays are
    stored as read-only copies.

    Parameters
    ----------
    actions : array-like of int of shape (n_samples,)
        The logged action of each row, as its position (0 to n_actions - 1)
        in the logging policy's actions: the columns of ``logging_proba``,
        the rows of ``action_embeddings``.
    rewards : array-like of shape (n_samples,)
        Finite. The model-based estimators fit a reward model of clicks,
        which needs them to be 0 or 1.
    propensities : array-like of shape (n_samples,)
        The probability the logging policy gave the logged action, in (0, 1].
    users : array-like or DataFrame of shape (n_samples, n_features), default=None
        The users' features; the model-based and embedding-based estimators
        need them.
    logging_proba : array-like of shape (n_samples, n_actions), default=None
        The logging policy's probability of every action for every row;
        its rows sum to one and its entry at the logged action is the
        propensity. Says where the logger had no support, and gives the
        embedding-based estimator its marginal probabilities.
    action_ids : array-like of int of shape (n_actions,), default=None
        Distinct ids of the logging policy's actions: a target policy on
        another bank is matched to the log by them.
    action_embeddings : array-like of shape (n_actions, embedding_dim), default=None
        The actions' embeddings, for the reward models and the clusters of
        the embedding-based estimator.
    feature_names : sequence of str, default=None
        Names of the user features; taken from ``users``' columns when it
        is a DataFrame.

    See Also
    --------
    BanditLog.from_observations : A log from a simulated company's observations.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import BanditLog
    >>> log = BanditLog(actions=[0, 1, 1], rewards=[1, 0, 1], propensities=[0.5, 0.5, 0.5])
    >>> log
    BanditLog(n_samples=3, n_actions=None, n_features=None, logging_proba=False)
    >>> BanditLog(actions=[0], rewards=[1], propensities=[np.nan])
    Traceback (most recent call last):
    ...
    ValueError: propensities is missing (NaN) in rows [0]; every logged action ...
    """

    actions: np.ndarray
    rewards: np.ndarray
    propensities: np.ndarray
    users: np.ndarray | None = None
    logging_proba: np.ndarray | None = None
    action_ids: np.ndarray | None = None
    action_embeddings: np.ndarray | None = None
    feature_names: tuple[str, ...] | None = None

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        rewards = _float_array(self.rewards, "rewards", 1)
        n = rewards.size
        if n == 0:
            raise ValueError("rewards is empty: a log needs at least one decision.")
        if not np.all(np.isfinite(rewards)):
            raise ValueError(
                f"rewards has NaN or infinite values in rows {_rows(~np.isfinite(rewards))}."
            )
        actions = np.asarray(self.actions)
        if actions.ndim != 1 or actions.size != n:
            raise ValueError(
                f"actions must have shape ({n},), one per reward; got {actions.shape}."
            )
        if actions.dtype == bool or not np.issubdtype(actions.dtype, np.integer):
            raise TypeError(
                f"actions must be integer positions of the logged actions, got dtype "
                f"{actions.dtype}."
            )
        actions = actions.astype(np.int64)
        if actions.min() < 0:
            raise ValueError(f"actions must be positions, >= 0; got {actions.min()}.")
        propensities = self._check_propensities(n)
        logging_proba = None
        if self.logging_proba is not None:
            logging_proba = check_proba(self.logging_proba, "logging_proba", n)
            self._check_logged(logging_proba, actions, propensities)
        ids, embeddings = self._check_actions(logging_proba)
        n_actions = next(
            (len(a) for a in (ids, embeddings) if a is not None),
            None if logging_proba is None else logging_proba.shape[1],
        )
        if n_actions is not None and actions.max() >= n_actions:
            raise ValueError(
                f"actions has positions up to {actions.max()}, but the log has {n_actions} "
                "actions (positions 0 to n_actions - 1)."
            )
        users, names = self._check_users(n)
        for name, value in (
            ("actions", actions),
            ("rewards", rewards),
            ("propensities", propensities),
            ("users", users),
            ("logging_proba", logging_proba),
            ("action_ids", ids),
            ("action_embeddings", embeddings),
        ):
            set_(name, None if value is None else _frozen(value))
        set_("feature_names", names)

    def _check_propensities(self, n: int) -> np.ndarray:
        p = _float_array(self.propensities, "propensities", 1)
        if p.size != n:
            raise ValueError(f"propensities must have shape ({n},), one per reward; got {p.shape}.")
        if np.isnan(p).any():
            raise ValueError(
                f"propensities is missing (NaN) in rows {_rows(np.isnan(p))}; every logged "
                "action needs the probability it had."
            )
        if (p == 0).any():
            raise ValueError(
                f"propensities is zero in rows {_rows(p == 0)}, where an action was logged: "
                "the logging policy cannot have chosen an action it gave no probability."
            )
        bad = ~((p > 0) & (p <= 1))
        if bad.any():
            raise ValueError(
                f"propensities must lie in (0, 1]; rows {_rows(bad)} do not (row "
                f"{int(np.flatnonzero(bad)[0])} is {p[bad][0]:.6g})."
            )
        return p

    @staticmethod
    def _check_logged(logging_proba, actions, propensities):
        if actions.max() >= logging_proba.shape[1]:
            raise ValueError(
                f"actions has positions up to {actions.max()}, but logging_proba has "
                f"{logging_proba.shape[1]} columns."
            )
        at_logged = logging_proba[np.arange(actions.size), actions]
        zero = at_logged == 0
        if zero.any():
            raise ValueError(
                f"logging_proba is zero at the logged action in rows {_rows(zero)}: the "
                "logging policy cannot have chosen an action it gave no probability."
            )
        differ = ~np.isclose(at_logged, propensities, rtol=_PROPENSITY_RTOL, atol=0.0)
        if differ.any():
            first = int(np.flatnonzero(differ)[0])
            raise ValueError(
                f"propensities and logging_proba disagree at the logged action in rows "
                f"{_rows(differ)} (row {first}: {propensities[first]:.6g} and "
                f"{at_logged[first]:.6g}); they must be the same probability."
            )

    def _check_actions(self, logging_proba):
        ids = embeddings = None
        if self.action_ids is not None:
            ids = np.asarray(self.action_ids)
            if ids.ndim != 1 or ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer):
                raise TypeError("action_ids must be a 1-D array of integer ids.")
            ids = ids.astype(np.int64)
            unique, counts = np.unique(ids, return_counts=True)
            if (counts > 1).any():
                raise ValueError(f"action_ids has duplicates: {unique[counts > 1][:10].tolist()}.")
        if self.action_embeddings is not None:
            embeddings = _float_array(self.action_embeddings, "action_embeddings", 2)
            if not np.all(np.isfinite(embeddings)):
                raise ValueError("action_embeddings has NaN or infinite values.")
        sizes = {
            name: size
            for name, size in (
                ("action_ids", None if ids is None else len(ids)),
                ("action_embeddings", None if embeddings is None else len(embeddings)),
                ("logging_proba", None if logging_proba is None else logging_proba.shape[1]),
            )
            if size is not None
        }
        if len(set(sizes.values())) > 1:
            raise ValueError(
                "action_ids, action_embeddings and logging_proba's columns must count the same "
                f"actions; got {sizes}."
            )
        return ids, embeddings

    def _check_users(self, n: int):
        names = self.feature_names
        if self.users is None:
            return None, (None if names is None else tuple(str(c) for c in names))
        if isinstance(self.users, pd.DataFrame) and names is None:
            names = list(self.users.columns)
        users = _float_array(self.users, "users", 2)
        if users.shape[0] != n:
            raise ValueError(f"users must have one row per reward, {n}; got shape {users.shape}.")
        if not np.all(np.isfinite(users)):
            raise ValueError(
                f"users has NaN or infinite values in rows {_rows(~np.isfinite(users).all(1))}."
            )
        if names is not None:
            names = tuple(str(c) for c in names)
            if len(names) != users.shape[1]:
                raise ValueError(
                    f"feature_names has {len(names)} names for {users.shape[1]} user features."
                )
        return users, names

    # ------------------------------------------------------------------ views
    @property
    def n_samples(self) -> int:
        """Rows of the log."""
        return int(self.rewards.size)

    @property
    def n_actions(self) -> int | None:
        """The logging policy's actions, when the log says (ids, embeddings or probabilities)."""
        for array in (self.action_ids, self.action_embeddings):
            if array is not None:
                return len(array)
        return None if self.logging_proba is None else int(self.logging_proba.shape[1])

    def user_frame(self) -> pd.DataFrame:
        """The users as a DataFrame, with their feature names (``x0``, ``x1``, ... without)."""
        if self.users is None:
            raise ValueError("this log has no users.")
        names = self.feature_names or tuple(f"x{j}" for j in range(self.users.shape[1]))
        return pd.DataFrame(self.users, columns=list(names))

    def __repr__(self) -> str:
        n_features = None if self.users is None else self.users.shape[1]
        return (
            f"BanditLog(n_samples={self.n_samples}, n_actions={self.n_actions}, "
            f"n_features={n_features}, logging_proba={self.logging_proba is not None})"
        )

    # ---------------------------------------------------------- constructors
    @classmethod
    def from_observations(
        cls, observations: pd.DataFrame, bank, *, logging_proba=None, feature_columns=None
    ) -> BanditLog:
        """A log from a targeting log's observations and the bank they were made with.

        Parameters
        ----------
        observations : pandas.DataFrame
            One row per decision with ``action_id``, ``reward``,
            ``propensity`` and user feature columns, as
            :meth:`hillmix_sim.CompanySimulator.simulate_log` and
            :meth:`~hillmix_sim.CompanySimulator.run` write them.
        bank : ActionBank
            The actions the logging policy chose from (their ids, in the
            order of ``logging_proba``'s columns, and embeddings).
        logging_proba : array-like of shape (n_samples, n_actions), default=None
            The logging policy's probabilities of the bank's actions.
        feature_columns : list of str, default=None
            The user features; by default the normal scores
            (:data:`hillmix_sim.USER_SCORE_COLUMNS`) when the log has them,
            else every column but the decision, its outcome and bookkeeping.

        Returns
        -------
        log : BanditLog

        Examples
        --------
        >>> from hillmix_opt import BanditLog, RandomStrategy
        >>> from hillmix_sim import CompanySimulator
        >>> sim = CompanySimulator(strategy=RandomStrategy(), n_iterations=1, n_users=200,
        ...                        n_initial_actions=4, random_state=0).fit()
        >>> observations, proba = sim.simulate_log(sim.strategy_, n_users=300, random_state=1)
        >>> BanditLog.from_observations(observations, sim.results_.banks[0], logging_proba=proba)
        BanditLog(n_samples=300, n_actions=4, n_features=8, logging_proba=True)
        """
        if not isinstance(observations, pd.DataFrame):
            raise TypeError(
                f"observations must be a pandas DataFrame, got {type(observations).__name__}."
            )
        missing = [c for c in ("action_id", "reward", "propensity") if c not in observations]
        if missing:
            raise ValueError(
                f"observations lacks the column(s) {missing}; an off-policy log needs the "
                "action sent, its reward and its propensity."
            )
        if not (hasattr(bank, "action_ids") and hasattr(bank, "embeddings")):
            raise TypeError(
                "bank must be an ActionBank (an object with action_ids and embeddings), got "
                f"{type(bank).__name__}."
            )
        ids = np.asarray(bank.action_ids, dtype=np.int64)
        logged = observations["action_id"].to_numpy()
        order = np.argsort(ids, kind="stable")
        position = order[np.minimum(np.searchsorted(ids, logged, sorter=order), ids.size - 1)]
        unknown = ids[position] != logged
        if unknown.any():
            raise ValueError(
                f"observations has action ids {np.unique(logged[unknown])[:10].tolist()} "
                "that bank does not hold; pass the bank the decisions were made with."
            )
        columns = user_columns(observations) if feature_columns is None else list(feature_columns)
        absent = [c for c in columns if c not in observations.columns]
        if absent:
            raise ValueError(f"feature_columns names columns not in observations: {absent}.")
        return cls(
            actions=position,
            rewards=observations["reward"].to_numpy(),
            propensities=observations["propensity"].to_numpy(),
            users=observations[columns],
            logging_proba=logging_proba,
            action_ids=ids,
            action_embeddings=bank.embeddings,
        )
