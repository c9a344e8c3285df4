"""What every targeting strategy shares: banks, users, per-action memory, propensities.

A strategy picks one action per user from its current bank and logs the
probability it gave that action, so that off-policy estimators (IPW, DR)
are valid on its logs. The pieces here are the same for every strategy:

* the bank, given as an object with ``action_ids`` and ``embeddings`` (an
  :class:`hillmix_sim.ActionBank`) or a tuple ``(action_ids, embeddings)``;
* a memory keyed by action id, which outlives the bank an action came in,
  so an action that leaves the bank and comes back keeps what was learnt;
* the users' standardisation, learnt from the first users the strategy
  learns from and kept, so that statistics accumulated in those
  coordinates stay valid (decisions before any learning take the users as
  they are: the model knows nothing yet, and the decisions of a batch do
  not depend on the others in it);
* decisions that do not depend on how users are batched: the uniform of
  the ``i``-th decision is a function of the seed and ``i`` alone, and the
  matrix products behind scores run in blocks aligned on ``i``
  (:func:`aligned_matmul`); the decision rules themselves are in
  :mod:`._policies`.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import (
    validate_parameter_constraints,
)
from sklearn.utils.validation import _get_feature_names, check_array
from threadpoolctl import ThreadpoolController

from hillmix._random import entity_bases, stream_key, uniforms53
from hillmix._typing import ArrayLike, MatrixLike
from hillmix.utils import resolve_seed
from hillmix.utils._expected_failures import LOG_CHECKS

from ._policies import policy_propensities, sample

__all__ = [
    "BOOTSTRAP_STREAM",
    "DECISION_STREAM",
    "PRIOR_STREAM",
    "SCORE_RANGE",
    "_BaseStrategy",
    "aligned_blocks",
    "aligned_matmul",
    "counter_uniforms",
    "linear_user_limit",
    "one_blas_thread",
    "stream_base",
    "unscale",
]

# Independent streams of one seed (labels of hillmix._random.stream_key).
DECISION_STREAM, BOOTSTRAP_STREAM, PRIOR_STREAM = 0, 1, 2

# Users of the matrix products behind scores are computed in blocks of this
# many, aligned on the decision counter: BLAS may round a user's scores
# differently depending on the shape of the product and the user's place in
# it, so a fixed shape and place make scores independent of batching. 200
# divides the usual batch sizes (1000, 10000), which then need no padding.
_ROW_BLOCK = 200

# BLAS on one thread inside the strategies: their products are small (a
# few hundred rows and columns), where threads cost more in synchronisation
# than they save; on a loaded machine two spinning BLAS threads made a
# batch of decisions 15 times slower.
_BLAS_LIBRARIES: list = []


def one_blas_thread(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if not _BLAS_LIBRARIES:
            controller = ThreadpoolController().select(user_api="blas")
            _BLAS_LIBRARIES.append(list(controller.lib_controllers))
        # Set directly on each library: threadpoolctl's context manager
        # costs as much as a batch of a hundred decisions.
        changed = []
        for library in _BLAS_LIBRARIES[0]:
            threads = library.get_num_threads()
            if threads != 1:
                library.set_num_threads(1)
                changed.append((library, threads))
        try:
            return method(*args, **kwargs)
        finally:
            for library, threads in changed:
                library.set_num_threads(threads)

    return wrapper


# Largest action id + 1 for which ids are looked up in a table (8 bytes per
# possible id) rather than by binary search.
_LOOKUP_TABLE_SIZE = 2**18


# Columns of a log that are not user features: the decision and its
# outcome, and CompanySimulator's bookkeeping.
_LOG_COLUMNS = ("action_id", "reward", "propensity")
_BOOKKEEPING_COLUMNS = ("user_id", "iteration", "click_probability")


@functools.cache
def _parameter_names(cls) -> list[str]:
    # BaseEstimator._get_param_names reads the signature anew at every call.
    return cls._get_param_names()


@functools.lru_cache(maxsize=256)
def stream_base(seed: int, stream: int) -> np.ndarray:
    """The base of stream ``stream`` of ``seed`` in the distribution's counter-based stream."""
    base = entity_bases(stream_key(seed, stream), [0])
    base.flags.writeable = False  # shared by every caller of the cache
    return base


def counter_uniforms(seed: int, stream: int, start: int, n: int) -> np.ndarray:
    """Uniforms ``start, ..., start + n - 1`` of a counter-based stream, in [0, 1).

    The ``i``-th uniform of ``(seed, stream)`` is a function of ``i`` alone
    (:func:`hillmix._random.uniforms53`: 53 bits, so that propensities as
    small as a softmax's floor are drawn at their probability), so any
    split of the range into calls gives the same numbers.
    """
    return uniforms53(stream_base(seed, stream), np.arange(start, start + n, dtype=np.uint64))


def aligned_matmul(Wt: np.ndarray, Ft: np.ndarray, start: int) -> np.ndarray:
    """``Wt @ Ft`` of shape (m, n), in column blocks aligned on ``start``.

    Column ``c`` of ``Ft`` (shape (q, n)) is the decision ``start + c``: it
    is always computed in the same block of ``_ROW_BLOCK`` columns, at the
    same place, by a product of the same shape (see :func:`aligned_blocks`),
    so its value does not depend on the other decisions of the batch. The
    blocks go to BLAS as one stacked product.
    """
    blocks, offset = aligned_blocks(Ft.T, start)
    out = np.matmul(Wt, blocks)  # (n_blocks, m, block)
    out = out.transpose(1, 0, 2).reshape(Wt.shape[0], -1)
    return out[:, offset : offset + Ft.shape[1]]


def aligned_blocks(Y: np.ndarray, start: int) -> tuple[np.ndarray, int]:
    """Users' rows ``Y`` (shape (n, q)) as columns of blocks aligned on ``start``.

    Returns ``(blocks, offset)``: a view of shape (n_blocks, q, _ROW_BLOCK)
    in which user ``i`` (the decision ``start + i``) is column ``(offset + i)
    % _ROW_BLOCK`` of block ``(offset + i) // _ROW_BLOCK``, always at the same
    place of a block of the same shape, so that a stacked product over the
    blocks computes it the same way whatever the batch (see
    :func:`aligned_matmul`). Padding columns are zero.
    """
    n, q = Y.shape
    block = _ROW_BLOCK
    first = start // block
    n_blocks = (start + n - 1) // block - first + 1
    offset = start - first * block
    if offset or n != n_blocks * block:
        padded = np.zeros((n_blocks * block, q), Y.dtype)
        padded[offset : offset + n] = Y
        Y = padded
    return np.ascontiguousarray(Y).reshape(n_blocks, block, q).transpose(0, 2, 1), offset


# Scores stay below the largest finite number of their precision divided by
# this: sums of a few such terms, and their differences, stay finite.
SCORE_RANGE = 8.0


def linear_user_limit(WT: np.ndarray) -> float:
    """The largest entry of ``[1, standardised x]`` for which ``WT @ x_aug`` stays finite."""
    room = float(np.finfo(np.float64).max) / SCORE_RANGE
    total = max(1.0, float(np.abs(WT).sum(axis=1).max()))
    return room / total if np.isfinite(total) else np.inf  # no scaling helps a broken model


def unscale(scores: np.ndarray, exponents: np.ndarray | None) -> np.ndarray:
    """Scores of users scored divided by ``2**exponents`` (rows), multiplied back.

    They may overflow to infinity: the model's estimates for such users are
    beyond double precision.
    """
    if exponents is None:
        return scores
    with np.errstate(over="ignore"):
        return np.ldexp(scores, exponents.reshape(-1, *(1,) * (scores.ndim - 1)))


def _scaling_bounds(mean: np.ndarray, scale: np.ndarray) -> tuple[float, float]:
    """``max |mean|`` and ``min scale`` of a standardisation."""
    return float(np.max(np.abs(mean), initial=0.0)), float(np.min(scale, initial=np.inf))


# Largest feature, raw or standardised, in absolute value, that strategies
# learn from: squares summed over many users stay far from overflow.
_LEARNABLE_FEATURES = 1e100


# ------------------------------------------------------------ input checking
def _as_bank(actions, n_embedding_features: int | None = None):
    """``(action_ids, embeddings)`` of a bank, checked, as int64 and float64 arrays."""
    if isinstance(actions, tuple) and len(actions) == 2:
        ids, embeddings = actions
    elif hasattr(actions, "action_ids") and hasattr(actions, "embeddings"):
        ids, embeddings = actions.action_ids, actions.embeddings
    else:
        raise TypeError(
            "actions must be an action bank (an object with action_ids and embeddings, such "
            "as hillmix_sim.ActionBank) or a tuple (action_ids, embeddings); got "
            f"{type(actions).__name__}."
        )
    ids = _as_ids(ids, "actions.action_ids")
    if ids.size == 0:
        raise ValueError("actions is an empty bank: a strategy needs at least one action.")
    unique, counts = np.unique(ids, return_counts=True)
    if unique.size < ids.size:
        raise ValueError(
            f"actions.action_ids has duplicate ids {unique[counts > 1][:10].tolist()}; each "
            "action needs its own id."
        )
    try:
        embeddings = np.asarray(embeddings, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("actions.embeddings must be an array of numbers.") from None
    if embeddings.ndim != 2 or embeddings.shape[0] != ids.size:
        raise ValueError(
            f"actions.embeddings must have shape (n_actions, n_embedding_features) = "
            f"({ids.size}, d); got {embeddings.shape}."
        )
    if embeddings.shape[1] == 0:
        raise ValueError("actions.embeddings has no columns.")
    if not np.all(np.isfinite(embeddings)):
        raise ValueError("actions.embeddings contains NaN or infinite values.")
    if n_embedding_features is not None and embeddings.shape[1] != n_embedding_features:
        raise ValueError(
            f"actions.embeddings has {embeddings.shape[1]} features, but the strategy's "
            f"embeddings have {n_embedding_features} (n_embedding_features_, set by its first "
            "bank); embed every bank with the same model, or call fit to start afresh."
        )
    return ids, embeddings


def _as_ids(values, name: str) -> np.ndarray:
    ids = np.asarray(values)
    if ids.dtype == np.int64 and ids.ndim == 1:
        return ids
    if ids.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {ids.shape}.")
    if ids.dtype == bool or not (
        np.issubdtype(ids.dtype, np.integer) or np.issubdtype(ids.dtype, np.floating)
    ):
        raise TypeError(f"{name} must be integers, got dtype {ids.dtype}.")
    if np.issubdtype(ids.dtype, np.floating) and (
        not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids))
    ):
        raise TypeError(f"{name} must be integers, got non-integral values.")
    # Ids are stored as int64: larger ones (64-bit hashes, say) would wrap.
    if ids.size and (
        (ids.dtype.kind == "u" and ids.max() > np.iinfo(np.int64).max)
        or (ids.dtype.kind == "f" and not np.all((ids >= -(2.0**63)) & (ids < 2.0**63)))
    ):
        raise ValueError(
            f"{name} must fit in int64, in [-2**63, 2**63); got values up to {np.max(ids)} and "
            f"down to {np.min(ids)}. Map larger ids (such as unsigned 64-bit hashes) to "
            "smaller ones."
        )
    return ids.astype(np.int64)


def _check_rewards(rewards, n: int) -> np.ndarray:
    try:
        r = np.asarray(rewards, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("rewards must be numbers in [0, 1].") from None
    if r.ndim != 1 or r.size != n:
        raise ValueError(f"rewards must have shape ({n},), one per user; got {r.shape}.")
    if not np.all(np.isfinite(r)):
        raise ValueError("rewards contains NaN or infinite values.")
    if r.size and (r.min() < 0.0 or r.max() > 1.0):
        raise ValueError(
            f"rewards must lie in [0, 1] (clicks or click probabilities); got values in "
            f"[{r.min():.6g}, {r.max():.6g}]."
        )
    return r


def _read_log(observations, feature_columns):
    """User features, action ids, rewards and feature names of a log."""
    if not isinstance(observations, pd.DataFrame):
        raise TypeError(
            "observations must be a pandas DataFrame (a log with user feature columns, "
            f"action_id and reward); got {type(observations).__name__}."
        )
    missing = [c for c in ("action_id", "reward") if c not in observations.columns]
    if missing:
        raise ValueError(
            f"observations lacks the column(s) {missing}; a log needs action_id and reward "
            "besides the user features."
        )
    if feature_columns is None:
        reserved = set(_LOG_COLUMNS) | set(_BOOKKEEPING_COLUMNS)
        feature_columns = [c for c in observations.columns if c not in reserved]
    else:
        feature_columns = list(feature_columns)
        absent = [c for c in feature_columns if c not in observations.columns]
        if absent:
            raise ValueError(f"feature_columns names columns not in observations: {absent}.")
    if not feature_columns:
        raise ValueError("observations has no user feature columns.")
    if len(observations) == 0:
        raise ValueError("observations is empty: a log needs at least one row.")
    X = check_array(
        observations[feature_columns], dtype=np.float64, input_name="observations' features"
    )
    ids = _as_ids(observations["action_id"].to_numpy(), "observations['action_id']")
    try:
        rewards = _check_rewards(observations["reward"].to_numpy(), len(observations))
    except (TypeError, ValueError) as error:
        raise type(error)(f"observations['reward']: {error}") from None
    if "propensity" in observations.columns:
        p = np.asarray(observations["propensity"], dtype=np.float64)
        if not np.all((p > 0) & (p <= 1)):
            raise ValueError("observations['propensity'] must lie in (0, 1].")
    names = np.asarray([str(c) for c in feature_columns], dtype=object)
    return X, ids, rewards, names


# ---------------------------------------------------------------- base class
class _BaseStrategy(BaseEstimator):
    """Banks, users, memory and decisions; subclasses supply the model.

    A subclass implements ``_scores(X, start)`` (scores of shape (n, K) or
    (n, n_heads, K) for checked users ``X``, the ``start``-th decision
    first; it uses :func:`aligned_matmul` for matrix products),
    ``_expected(X, start)``, ``_learn(X, slots, rewards, start)`` and may
    extend
    ``_on_first_bank``, ``_on_users``, ``_on_bank`` and ``_memory_fields``.
    """

    _parameter_constraints: dict = {
        "random_state": ["random_state", np.random.Generator],
    }

    # ------------------------------------------------------------ public API
    @one_blas_thread
    def set_bank(self, actions):
        """Make ``actions`` the bank that decisions choose from.

        Actions are remembered by id: one seen before keeps what was learnt
        about it, and must come with the same embedding.

        Parameters
        ----------
        actions : ActionBank or tuple (action_ids, embeddings)
            Distinct integer ids of shape (n_actions,) and embeddings of
            shape (n_actions, n_embedding_features).

        Returns
        -------
        self : estimator
        """
        self._set_bank(actions)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    @one_blas_thread
    def fit(self, observations: pd.DataFrame, actions=None, *, feature_columns=None):
        """Start afresh and learn from a log of decisions (a warm start).

        Everything learnt before is forgotten: the memory of actions, the
        users' standardisation (learnt again from the log's users) and the
        decision counter; the seed is resolved again from ``random_state``.

        Parameters
        ----------
        observations : DataFrame of shape (n_observations, n_columns)
            The log: user features, ``action_id`` and ``reward`` in [0, 1];
            an optional ``propensity`` column is checked (in (0, 1]) and not
            otherwise used: a ridge regression of rewards on features is
            consistent under any logging policy when its model holds, so the
            strategies do not reweight.
        actions : ActionBank or tuple (action_ids, embeddings), default=None
            The bank to act with afterwards; it must contain every action of
            the log. None: the current bank.
        feature_columns : list of str, default=None
            The user feature columns. None: every column except
            ``action_id``, ``reward``, ``propensity`` and the bookkeeping
            columns of :class:`hillmix_sim.CompanySimulator` logs
            (``user_id``, ``iteration``, ``click_probability``). Features are
            used as they are: a simulator log holds the raw user columns,
            while the simulator decides on ``hillmix_sim.user_matrix`` of
            them.

        Returns
        -------
        self : estimator
        """
        X, ids, rewards, names = _read_log(observations, feature_columns)
        if actions is None:
            if not hasattr(self, "classes_"):
                raise ValueError(
                    "fit needs the actions of the log: pass actions=... (a bank containing "
                    "every action_id of observations) or call set_bank first."
                )
            actions = (self.classes_, self._emb[self._bank_slots])
        bank_ids, embeddings = _as_bank(actions)
        unknown = np.setdiff1d(ids, bank_ids)
        if unknown.size:
            raise ValueError(
                f"observations has action ids not in actions: {unknown[:10].tolist()}; the "
                "bank passed to fit must contain every action of the log."
            )
        self._check_learnable(X, "observations' features", fresh=True)
        self._reset()
        self._set_bank((bank_ids, embeddings))
        self._commit_users(X, names)
        self._record(X, self._slots_of(ids), rewards)
        return self

    @one_blas_thread
    def partial_fit(self, X_users: MatrixLike, action_ids: ArrayLike, rewards: ArrayLike):
        """Learn from the rewards of a batch of decisions.

        Parameters
        ----------
        X_users : {array-like, DataFrame} of shape (n_users, n_features)
            The users, finite.
        action_ids : array-like of int of shape (n_users,)
            The action each user got; any action the strategy has been
            given, in the current bank or an earlier one.
        rewards : array-like of shape (n_users,)
            In [0, 1]: clicks, or click probabilities.

        Returns
        -------
        self : estimator
        """
        self._check_bank("partial_fit")
        self._check_parameters()
        X, names = self._check_users(X_users)
        slots = self._slots_of(_as_ids(action_ids, "action_ids"), n=X.shape[0])
        rewards = _check_rewards(rewards, X.shape[0])
        self._check_learnable(X, "X_users", fresh=not getattr(self, "_scaling_learnt", False))
        if not hasattr(self, "n_features_in_"):
            self._commit_users(X, names)
        self._record(X, slots, rewards)
        return self

    @one_blas_thread
    def predict_proba(self, X_users: MatrixLike) -> np.ndarray:
        """The probability of each action of the bank for each user.

        These are the propensities the next :meth:`decide` on the same
        users draws from (it does not draw, nor advance the decision
        stream).

        Parameters
        ----------
        X_users : {array-like, DataFrame} of shape (n_users, n_features)

        Returns
        -------
        proba : ndarray of shape (n_users, n_actions)
            Columns in the order of ``classes_``; rows sum to one and every
            entry is positive.
        """
        X = self._decision_users(X_users)
        return self._propensities(X, self.n_decisions_)

    @one_blas_thread
    def decide(self, X_users: MatrixLike) -> tuple[np.ndarray, np.ndarray]:
        """Draw an action for each user, with the probability it had.

        The ``i``-th decision of the strategy (counting from its first, or
        from the last :meth:`fit`) uses the ``i``-th uniform of a
        counter-based stream of the seed, and its scores are computed in
        blocks aligned on ``i``: the same seed and state give the same
        decisions and propensities, bit for bit, however the users are
        split into batches.

        Parameters
        ----------
        X_users : {array-like, DataFrame} of shape (n_users, n_features)

        Returns
        -------
        action_ids : ndarray of int64 of shape (n_users,)
        propensities : ndarray of shape (n_users,)
            The probability the chosen action had, positive.
        """
        X = self._decision_users(X_users)
        start = self.n_decisions_
        uniforms = self._decision_uniforms(start, X.shape[0])
        chosen, propensities = self._draw(X, start, uniforms)
        self.n_decisions_ = start + X.shape[0]
        return self.classes_[chosen], propensities

    def predict(self, X_users: MatrixLike) -> np.ndarray:
        """Draw an action for each user: :meth:`decide` without the propensities.

        Like :meth:`decide`, it advances the decision stream.

        Parameters
        ----------
        X_users : {array-like, DataFrame} of shape (n_users, n_features)

        Returns
        -------
        action_ids : ndarray of int64 of shape (n_users,)
        """
        return self.decide(X_users)[0]

    @one_blas_thread
    def expected_reward(self, X_users: MatrixLike) -> np.ndarray:
        """The strategy's point estimate of each user's reward for each action.

        Parameters
        ----------
        X_users : {array-like, DataFrame} of shape (n_users, n_features)

        Returns
        -------
        reward : ndarray of shape (n_users, n_actions)
            Columns in the order of ``classes_``.
        """
        X = self._decision_users(X_users)
        return self._expected(X, self.n_decisions_)

    def action_stats(self) -> pd.DataFrame:
        """What the strategy remembers of every action it has been given.

        Returns
        -------
        stats : DataFrame
            One row per action id ever given: ``action_id``, ``in_bank``,
            ``n_observations`` and ``mean_reward`` (NaN when never
            observed).
        """
        self._check_bank("action_stats")
        n = self._n_slots
        counts = self._counts[:n]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counts > 0, self._reward_sums[:n] / np.maximum(counts, 1), np.nan)
        in_bank = np.zeros(n, dtype=bool)
        in_bank[self._bank_slots] = True
        return pd.DataFrame(
            {
                "action_id": self._ids[:n],
                "in_bank": in_bank,
                "n_observations": counts,
                "mean_reward": mean,
            }
        )

    # --------------------------------------------------------------- helpers
    def _parameter_values(self) -> list:
        return [getattr(self, name) for name in _parameter_names(type(self))]

    def _check_parameters(self):
        """Validate the parameters again if ``set_params`` changed any since the last check.

        Decision rules read ``policy``, ``epsilon``, ``temperature`` (and
        LinUCB its ``alpha``) at every call, so a value set between batches
        must be checked before it acts: an ``epsilon`` above 1 would log
        negative propensities. Identity, not equality, tells a change (NaN
        is not equal to itself).
        """
        values = self._parameter_values()
        checked = getattr(self, "_checked_parameters", None)  # None: pickled by an older hillmix
        if checked is None:
            self._validate_params()
        else:
            names = _parameter_names(type(self))
            changed = {
                name: new
                for name, new, old in zip(names, values, checked, strict=True)
                if new is not old
            }
            if not changed:
                return
            # Only the changed ones: all of them cost as much as a batch of
            # decisions, and a schedule may set epsilon before every batch.
            constraints = self._parameter_constraints
            validate_parameter_constraints(
                {name: constraints[name] for name in changed if name in constraints},
                changed,
                caller_name=type(self).__name__,
            )
        self._checked_parameters = values

    def _check_bank(self, method: str):
        if not hasattr(self, "classes_"):
            raise NotFittedError(
                f"This {type(self).__name__} has no action bank yet: call set_bank(actions) "
                f"or fit(observations, actions) before {method}."
            )

    def _reset(self):
        for name in list(vars(self)):
            if (name.endswith("_") or name.startswith("_")) and name != "_metadata_request":
                delattr(self, name)

    def _set_bank(self, actions, refit: bool = False):
        ids, embeddings = _as_bank(actions, getattr(self, "n_embedding_features_", None))
        first = not hasattr(self, "_seed")
        if not first:
            self._check_parameters()
            known = np.array([self._slot_of.get(int(a), -1) for a in ids])
            seen = known >= 0
            if np.any(seen):
                old = self._emb[known[seen]]
                changed = ~np.all(np.isclose(old, embeddings[seen], rtol=1e-6, atol=1e-9), axis=1)
                if np.any(changed):
                    raise ValueError(
                        f"actions: ids {ids[seen][changed][:10].tolist()} were given before with "
                        "other embeddings; an action id must keep its embedding (give a changed "
                        "action a new id)."
                    )
        if first:
            self._validate_params()
            self._checked_parameters = self._parameter_values()
            self._seed = resolve_seed(self.random_state)
            self.n_embedding_features_ = embeddings.shape[1]
            self.n_decisions_ = 0
            self.n_observations_ = 0
            self._init_memory(embeddings.shape[1])
            self._on_first_bank(embeddings)
        slots = np.array([self._slot_of.get(int(a), -1) for a in ids])
        new = slots < 0
        if np.any(new):
            slots[new] = self._add_slots(ids[new], embeddings[new])
        self.classes_ = ids
        self._bank_slots = slots
        if refit and not first:
            self._refit(embeddings)
        self._on_bank()

    def _init_memory(self, n_embedding_features: int):
        self._n_slots = 0
        self._slot_of: dict[int, int] = {}
        self._sorted_ids = np.empty(0, dtype=np.int64)
        self._sorted_slots = np.empty(0, dtype=np.int64)
        self._slot_table = None
        self._ids = np.empty(0, dtype=np.int64)
        self._emb = np.empty((0, n_embedding_features))
        self._counts = np.empty(0, dtype=np.int64)
        self._reward_sums = np.empty(0)
        self._memory_names = ["_ids", "_emb", "_counts", "_reward_sums"]

    def _add_memory(self, name: str, trailing_shape: tuple):
        """A zero-filled per-action array, grown with the memory."""
        setattr(self, name, np.zeros((len(self._ids), *trailing_shape)))
        self._memory_names.append(name)

    def _add_slots(self, ids: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        n_new, start = ids.size, self._n_slots
        capacity = len(self._ids)
        if start + n_new > capacity:
            grow = max(2 * capacity, start + n_new, 64) - capacity
            for name in self._memory_names:
                old = getattr(self, name)
                extra = np.zeros((grow, *old.shape[1:]), old.dtype)
                setattr(self, name, np.concatenate([old, extra]))
        slots = np.arange(start, start + n_new)
        self._ids[slots] = ids
        self._emb[slots] = embeddings
        self._n_slots = start + n_new
        self._slot_of.update(zip(ids.tolist(), slots.tolist(), strict=True))
        order = np.argsort(self._ids[: self._n_slots], kind="stable")
        self._sorted_ids = self._ids[order]
        self._sorted_slots = order
        # Ids that are small non-negative integers (the usual case) also get
        # a direct lookup table: one gather instead of a binary search.
        low, high = self._sorted_ids[0], self._sorted_ids[-1]
        if low >= 0 and high < _LOOKUP_TABLE_SIZE:
            table = np.full(high + 1, -1, dtype=np.int64)
            table[self._sorted_ids] = order
            self._slot_table = table
        else:
            self._slot_table = None
        self._on_new_slots(slots)
        return slots

    def _slots_of(self, ids: np.ndarray, n: int | None = None) -> np.ndarray:
        if n is not None and ids.size != n:
            raise ValueError(f"action_ids must have shape ({n},), one per user; got {ids.shape}.")
        table = self._slot_table
        if table is not None and ids.size and ids.min() >= 0 and ids.max() < table.size:
            slots = table[ids]
            if slots.min() >= 0:
                return slots
        pos = np.minimum(np.searchsorted(self._sorted_ids, ids), self._sorted_ids.size - 1)
        found = self._sorted_ids[pos] == ids
        if not np.all(found):
            unknown = np.unique(ids[~found])
            raise ValueError(
                f"action_ids contains ids the strategy was never given: {unknown[:10].tolist()}; "
                "ids must come from a bank passed to set_bank or fit."
            )
        return self._sorted_slots[pos]

    def _check_users(self, X):
        names, columns = None, None
        if isinstance(X, pd.DataFrame):
            # A frame of numbers (the simulator's batches) skips check_array,
            # whose overhead is that of a whole batch of decisions; its column
            # names are read once per set of columns.
            values = X.to_numpy()
            if values.dtype == np.float64 and values.ndim == 2 and values.size:
                names, columns = self._frame_feature_names(X), X.columns
                X = np.ascontiguousarray(values)
        if isinstance(X, np.ndarray) and X.dtype == np.float64 and X.ndim == 2 and X.size:
            with np.errstate(over="ignore", invalid="ignore"):  # huge features may sum to inf
                finite = np.isfinite(X.sum())
            if not finite and not np.all(np.isfinite(X)):
                raise ValueError(
                    "X_users contains NaN or infinite values; features must be finite."
                )
        else:
            names = _get_feature_names(X)
            X = check_array(X, dtype=np.float64, input_name="X_users")
        if hasattr(self, "n_features_in_"):
            if X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X_users has {X.shape[1]} features, but {type(self).__name__} has seen "
                    f"users with {self.n_features_in_}."
                )
            fitted = getattr(self, "feature_names_in_", None)
            if names is not None and fitted is not None and not np.array_equal(names, fitted):
                raise ValueError(
                    f"X_users has the columns {list(names)}, but {type(self).__name__} has "
                    f"seen users with the columns {list(fitted)}, in that order."
                )
        if columns is not None:
            self._last_columns = (columns, names)  # only once the users passed
        return X, names

    def _frame_feature_names(self, frame: pd.DataFrame):
        """``_get_feature_names(frame)``, reused for the columns last accepted."""
        last = getattr(self, "_last_columns", None)
        if last is not None and frame.columns.equals(last[0]):
            return last[1]
        return _get_feature_names(frame)

    def _commit_users(self, X: np.ndarray, names):
        """The first users seen fix the number (and names) of the features."""
        self.n_features_in_ = X.shape[1]
        if names is not None:
            self.feature_names_in_ = names
        self._set_scaling(np.zeros(X.shape[1]), np.ones(X.shape[1]))
        self._scaling_learnt = False
        self._on_users()

    def _learn_scaling(self, X: np.ndarray):
        """The first users learnt from fix the standardisation, once."""
        if self._scaling_learnt:
            return
        scale = X.std(axis=0)
        scale[~(scale > 0)] = 1.0
        self._set_scaling(X.mean(axis=0), scale)
        self._scaling_learnt = True

    def _set_scaling(self, mean: np.ndarray, scale: np.ndarray):
        """Standardise users by ``mean`` and ``scale``.

        Also keeps ``max |mean|`` and ``min scale``, which
        :meth:`_log2_user_bound` reads at every batch scored.
        """
        self.user_mean_ = mean
        self.user_scale_ = scale
        self._scaling_bounds = _scaling_bounds(mean, scale)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return (X - self.user_mean_) / self.user_scale_

    def _augmented_T(self, X: np.ndarray) -> np.ndarray:
        """``[1, standardised x]`` of each user, as columns: shape (n_features + 1, n)."""
        out = np.empty((X.shape[1] + 1, X.shape[0]))
        out[0] = 1.0
        self._standardise_into(X.T, out[1:])
        return out

    def _standardise_into(self, XT: np.ndarray, out: np.ndarray):
        """Write ``(x - user_mean_) / user_scale_`` of users as columns (..., p, n) to ``out``."""
        np.subtract(XT, self.user_mean_[:, None], out=out, casting="same_kind")
        np.divide(out, self.user_scale_[:, None], out=out, casting="same_kind")

    def _check_learnable(self, X: np.ndarray, name: str, fresh: bool):
        """Refuse users whose features, raw or standardised, are too large to learn from.

        Learning sums squares of the features (their variance, the ridge
        statistics) in double precision; features beyond
        ``_LEARNABLE_FEATURES`` in absolute value would overflow them and
        leave every later score NaN. ``fresh``: the standardisation is to be
        learnt from these users (then they are within it by construction).
        """
        largest = max(X.max(), -X.min())
        if largest > _LEARNABLE_FEATURES:
            raise ValueError(
                f"{name} has features up to {largest:.3g} in absolute value; strategies learn "
                f"from features up to {_LEARNABLE_FEATURES:.0e} (they sum their squares in "
                "double precision): rescale the features, or leave such users out of learning "
                "(decisions take them)."
            )
        bound = None if fresh else self._log2_user_bound(X, _LEARNABLE_FEATURES)
        if bound is not None and np.any(bound > np.log2(_LEARNABLE_FEATURES)):
            raise ValueError(
                f"{name} has features more than {_LEARNABLE_FEATURES:.0e} standard deviations "
                "(user_scale_) from the mean (user_mean_) of the users the strategy first learnt "
                "from; strategies learn from standardised features up to that (they sum their "
                "squares in double precision): rescale the features, or call fit to start afresh."
            )

    def _log2_user_bound(self, X: np.ndarray, limit: float) -> np.ndarray | None:
        """Per user, log2 of a bound on the entries of ``[1, standardised x]``.

        None when every user's entries are within ``limit`` (one comparison
        for the whole batch, the usual case). The bound is computed without
        forming the standardised features, which may overflow.
        """
        mean, scale = self.user_mean_, self.user_scale_
        # None: pickled by a hillmix that did not keep them.
        bounds = getattr(self, "_scaling_bounds", None)
        mean_max, scale_min = _scaling_bounds(mean, scale) if bounds is None else bounds
        with np.errstate(over="ignore"):
            if (max(X.max(), -X.min()) + mean_max) / scale_min <= limit:
                return None
        with np.errstate(divide="ignore"):
            # |x - m| / c <= 2 max(|x|, |m|) / c, as a power of two.
            bound = np.log2(np.maximum(np.abs(X), np.abs(mean))) + 1.0 - np.log2(scale)
        return np.maximum(bound.max(axis=1), 0.0)  # the intercept is 1

    def _scaled_augmented(self, X: np.ndarray, exponents: np.ndarray) -> np.ndarray:
        """``[1, standardised x] / 2**k`` of each user (rows), without overflow.

        Scores are positively homogeneous in ``[1, standardised x]``, so a
        user's scores scaled by a power of two rank its actions as the
        unscaled ones would; users too large for a precision are scored so.
        """
        k = -exponents.astype(np.int64)[:, None]
        out = np.empty((X.shape[0], X.shape[1] + 1))
        out[:, 0] = np.ldexp(1.0, k[:, 0])
        np.subtract(np.ldexp(X, k), np.ldexp(self.user_mean_, k), out=out[:, 1:])
        out[:, 1:] /= self.user_scale_
        return out

    def _scaled_augmented_T(self, X: np.ndarray, limit: float):
        """:meth:`_augmented_T`, with users beyond ``limit`` scaled into it.

        Returns ``(XaT, exponents)``: user ``i``'s column is ``[1,
        standardised x] / 2**exponents[i]``, within ``limit``; exponents is
        None when no user needed scaling. Each user's column depends on the
        user alone, so scores stay independent of batching.
        """
        bound = self._log2_user_bound(X, limit)
        far = np.empty(0, np.intp) if bound is None else np.flatnonzero(bound > np.log2(limit))
        if not far.size:
            return self._augmented_T(X), None
        exponents = np.zeros(X.shape[0], dtype=np.int64)
        exponents[far] = np.ceil(bound[far] - np.log2(limit))
        near = X.copy()
        near[far] = self.user_mean_  # placeholders, replaced below
        out = self._augmented_T(near)
        out[:, far] = self._scaled_augmented(X[far], exponents[far]).T
        return out, exponents

    def _linear_scores(self, WT: np.ndarray, X: np.ndarray, start: int):
        """``WT @ [1, standardised x]`` of each user, (n, m), by :func:`aligned_matmul`.

        Returns ``(products, exponents)``: users whose products would
        overflow double precision are scaled by a power of two (see
        :meth:`_scaled_augmented_T`); exponents is None when none was.
        """
        XaT, exponents = self._scaled_augmented_T(X, linear_user_limit(WT))
        return np.ascontiguousarray(aligned_matmul(WT, XaT, start).T), exponents

    def _decision_users(self, X_users) -> np.ndarray:
        self._check_bank("deciding")
        self._check_parameters()
        X, names = self._check_users(X_users)
        if not hasattr(self, "n_features_in_"):
            self._commit_users(X, names)
        return X

    def _propensities(self, X: np.ndarray, start: int) -> np.ndarray:
        scores, exponents = self._scaled_scores(X, start)
        return policy_propensities(scores, self.policy, self.epsilon, self.temperature, exponents)

    def _scaled_scores(self, X: np.ndarray, start: int):
        """Scores and, for users scored scaled, the power of two they were divided by.

        ``(scores, exponents)``: user ``i``'s scores are its scores divided by
        ``2**exponents[i]`` (exponents None: none is scaled). Models override
        it to score users whose features would overflow.
        """
        return self._scores(X, start), None

    def _decision_uniforms(self, start: int, n: int) -> np.ndarray:
        """Uniforms ``start, ..., start + n - 1`` of the decision stream."""
        return counter_uniforms(self._seed, DECISION_STREAM, start, n)

    def _draw(self, X, start, uniforms):
        """Chosen columns and their propensities, by inverse CDF."""
        proba = self._propensities(X, start)
        chosen = sample(proba, uniforms)
        return chosen, proba[np.arange(chosen.size), chosen]

    def _record(self, X: np.ndarray, slots: np.ndarray, rewards: np.ndarray):
        """Per-action counts, then the model's own statistics."""
        self._learn_scaling(X)
        size = len(self._counts)
        self._counts += np.bincount(slots, minlength=size)
        self._reward_sums += np.bincount(slots, weights=rewards, minlength=size)
        self._learn(X, slots, rewards, self.n_observations_)
        self.n_observations_ += X.shape[0]

    # Hooks: no-ops unless a model needs them.
    def _on_first_bank(self, embeddings: np.ndarray):
        pass

    def _on_new_slots(self, slots: np.ndarray):
        pass

    def _on_bank(self):
        pass

    def _on_users(self):
        pass

    def _refit(self, embeddings: np.ndarray):
        pass

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags

    def _expected_failed_checks(self) -> dict[str, str]:
        """scikit-learn checks this estimator fails by design, with the reason."""
        reason = (
            "fit takes a log of decisions (a DataFrame of user features with action_id and "
            "reward columns) and an action bank, not (X, y): the checks' arrays carry no "
            "actions or rewards to learn from"
        )
        return dict.fromkeys(LOG_CHECKS, reason)
