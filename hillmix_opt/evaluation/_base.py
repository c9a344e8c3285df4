"""What every off-policy estimator shares: parameters, the log, the target, the warning.

An estimator is fitted on a log (:class:`BanditLog`): the model-based ones
fit their reward models there, once, so several target policies are then
valued from the same log at the cost of a prediction each. The target
policy comes as its probability of each action for each of the log's
users, on the log's actions or on another bank matched to them by id.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, validate_parameter_constraints

from hillmix.utils import resolve_seed

from ._log import BanditLog, check_proba
from ._result import PolicyValue, policy_value
from ._threads import one_thread

__all__ = ["UnsupportedActionWarning", "_BaseOffPolicyEstimator", "_Target"]

# Target probability below this, on unsupported actions, is rounding.
_UNSUPPORTED_TOL = 1e-12


class UnsupportedActionWarning(UserWarning):
    """The target policy puts probability where the logging policy had none.

    No logged row can tell what those actions earn: weighting estimators
    leave that share of the value out (biased down by up to that share of
    the reward), and model-based ones rely on their reward model alone
    there.
    """


@dataclass(frozen=True)
class _Target:
    """A target policy resolved against the log.

    ``proba`` (n, K_t) over the target's actions; ``columns`` (K_t,) the
    position of each target action among the log's (-1 for an action the
    log's policy does not have); ``logged`` (n,) the target's probability
    of each row's logged action; ``embeddings`` (K_t, d) or None;
    ``unsupported`` (n, K_t) where the logging policy had no probability.
    """

    proba: np.ndarray
    columns: np.ndarray
    logged: np.ndarray
    embeddings: np.ndarray | None
    unsupported: np.ndarray

    @property
    def unsupported_share(self) -> float:
        return float(np.sum(self.proba * self.unsupported) / self.proba.shape[0])


def _bank_arrays(bank):
    if isinstance(bank, tuple) and len(bank) == 2:
        ids, embeddings = bank
    elif hasattr(bank, "action_ids") and hasattr(bank, "embeddings"):
        ids, embeddings = bank.action_ids, bank.embeddings
    else:
        raise TypeError(
            "bank must be an ActionBank (an object with action_ids and embeddings) or a tuple "
            f"(action_ids, embeddings); got {type(bank).__name__}."
        )
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer):
        raise TypeError("bank's action_ids must be a 1-D array of integer ids.")
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"bank's action_ids has duplicates: {unique[counts > 1][:10].tolist()}.")
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2 or len(embeddings) != len(ids) or not np.isfinite(embeddings).all():
        raise ValueError(
            "bank's embeddings must be finite, of shape (n_actions, embedding_dim) with one row "
            f"per id; got shape {embeddings.shape} for {len(ids)} ids."
        )
    return ids.astype(np.int64), embeddings


class _BaseOffPolicyEstimator:
    """Parameters, fit on a log, and the estimate; subclasses supply ``_terms``.

    A subclass sets ``_label`` and ``_parameter_constraints``, may extend
    ``_fit`` (after the log is stored and the seed resolved), and implements
    ``_terms(target)`` returning the numerator, the denominator (or None)
    and the importance weights (or None) of :func:`policy_value`.
    """

    _label = ""
    # Whether the estimator weighs rows by the target's probability of the
    # logged action, and so cannot value unsupported actions.
    _weights_rows = True

    _parameter_constraints: dict = {
        "coverage": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_bootstrap": [Interval(numbers.Integral, 0, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
    }

    # ------------------------------------------------------------ parameters
    @classmethod
    def _param_names(cls) -> list[str]:
        return sorted(cls._parameter_constraints)

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's parameters (so that ``sklearn.base.clone`` copies the estimator).

        Parameters
        ----------
        deep : bool, default=True
            Also the parameters of a reward model, as ``reward_model__C``.

        Returns
        -------
        params : dict
        """
        params = {name: getattr(self, name) for name in self._param_names()}
        if deep:
            for name, value in list(params.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    params.update(
                        {f"{name}__{k}": v for k, v in value.get_params(deep=True).items()}
                    )
        return params

    def set_params(self, **params):
        """Set constructor parameters by name (``reward_model__C`` reaches into the model).

        Returns
        -------
        self
        """
        nested: dict[str, dict] = {}
        for name, value in params.items():
            head, _, rest = name.partition("__")
            if head not in self._parameter_constraints:
                raise ValueError(f"Invalid parameter {head!r} for {type(self).__name__}.")
            if rest:
                nested.setdefault(head, {})[rest] = value
            else:
                setattr(self, name, value)
        for head, values in nested.items():
            getattr(self, head).set_params(**values)
        return self

    def __repr__(self) -> str:
        defaults = type(self)().get_params(deep=False)
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params(deep=False).items()
            if not _same_default(value, defaults[name])
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    @property
    def label(self) -> str:
        """The estimator's short name, as the results and tables give it."""
        return self._label

    # ------------------------------------------------------------------- fit
    def fit(self, log: BanditLog):
        """Learn what the estimator needs from a log (a reward model, clusters).

        Parameters
        ----------
        log : BanditLog

        Returns
        -------
        self
        """
        validate_parameter_constraints(
            self._parameter_constraints, self.get_params(deep=False), type(self).__name__
        )
        if not isinstance(log, BanditLog):
            raise TypeError(
                f"log must be a BanditLog (see BanditLog.from_observations), got "
                f"{type(log).__name__}."
            )
        self._check_log(log)
        # A fit that fails leaves the estimator unfitted, not half-fitted on
        # this log with what an earlier one left.
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("__")]:
            delattr(self, name)
        seeds = np.random.SeedSequence(resolve_seed(self.random_state)).generate_state(4)
        # One seed per use: folds, models, bootstrap, clusters.
        self._seeds = [int(s) for s in seeds]
        with one_thread():
            self._fit(log)
        self.n_samples_ = log.n_samples
        self.log_ = log
        return self

    def _check_log(self, log: BanditLog) -> None:
        pass

    def _fit(self, log: BanditLog) -> None:
        pass

    # -------------------------------------------------------------- estimate
    def estimate_policy_value(self, target_proba, *, bank=None) -> PolicyValue:
        """The value of a target policy, from the log.

        Parameters
        ----------
        target_proba : array-like of shape (n_samples, n_target_actions)
            The target policy's probability of each of its actions for each
            of the log's users (rows in the log's order, summing to one).
        bank : ActionBank or tuple (action_ids, embeddings), default=None
            The target's actions, when they are not the log's: matched to
            the log's actions by id (the log needs ``action_ids``); an
            action the log's policy does not have carries no logged data.
            None: the columns of ``target_proba`` are the log's actions.

        Returns
        -------
        value : PolicyValue

        Warns
        -----
        UnsupportedActionWarning
            When the target puts probability where the logging policy had
            none (estimators that weigh logged rows), naming the share.
        """
        if not hasattr(self, "log_"):
            raise NotFittedError(
                f"This {type(self).__name__} has no log yet: call fit(log) before "
                "estimate_policy_value."
            )
        target = self._target(target_proba, bank)
        share = self._unsupported_share(target)
        if self._weights_rows and share > _UNSUPPORTED_TOL:
            warnings.warn(
                f"{self.label}: the target policy puts {share:.2%} of its probability (mean "
                f"over the log's users) on {self._unsupported_what}; no logged row can value "
                f"them, so {self._unsupported_consequence}.",
                UnsupportedActionWarning,
                stacklevel=2,
            )
        with one_thread():
            numerator, denominator, weights = self._terms(target)
        return policy_value(
            self.label,
            numerator,
            denominator=denominator,
            weights=weights,
            coverage=self.coverage,
            n_bootstrap=self.n_bootstrap,
            seed=self._seeds[2],
            unsupported_share=share,
        )

    _unsupported_what = "actions the logging policy never takes for those users"
    _unsupported_consequence = "the estimate leaves that share of the value out"

    def _unsupported_share(self, target: _Target) -> float:
        return target.unsupported_share

    def _target(self, target_proba, bank) -> _Target:
        log = self.log_
        n = log.n_samples
        if bank is None:
            n_actions = log.n_actions
            P = check_proba(target_proba, "target_proba", n, n_actions)
            if n_actions is None and log.actions.max() >= P.shape[1]:
                raise ValueError(
                    f"target_proba has {P.shape[1]} columns, but the log has actions at "
                    f"position {log.actions.max()}: its columns must be the log's actions."
                )
            columns = np.arange(P.shape[1])
            embeddings = log.action_embeddings
        else:
            if log.action_ids is None:
                raise ValueError(
                    "bank matches the target's actions to the log's by id, but the log has no "
                    "action_ids (make it with BanditLog.from_observations, or pass action_ids)."
                )
            ids, embeddings = _bank_arrays(bank)
            P = check_proba(target_proba, "target_proba", n, len(ids))
            lookup = dict(zip(log.action_ids.tolist(), range(len(log.action_ids)), strict=True))
            columns = np.array([lookup.get(a, -1) for a in ids.tolist()], dtype=np.int64)
        # The target column of each of the log's actions (-1 where the target lacks it).
        width = max(int(log.actions.max()) + 1, log.n_actions or 0, int(columns.max()) + 1)
        target_column = np.full(width, -1, dtype=np.int64)
        known = columns >= 0
        target_column[columns[known]] = np.flatnonzero(known)
        at = target_column[log.actions]
        rows = np.arange(n)
        logged = np.where(at >= 0, P[rows, np.maximum(at, 0)], 0.0)
        unsupported = np.broadcast_to(~known, P.shape).copy()
        if log.logging_proba is not None:
            unsupported[:, known] = log.logging_proba[:, columns[known]] == 0
        return _Target(
            proba=P,
            columns=columns,
            logged=logged,
            embeddings=embeddings,
            unsupported=unsupported,
        )

    def _weights(self, target: _Target) -> np.ndarray:
        """``target(logged action) / propensity``, clipped at ``clip`` when set."""
        w = target.logged / self.log_.propensities
        clip = getattr(self, "clip", None)
        return w if clip is None else np.minimum(w, clip)

    def _terms(self, target: _Target):
        raise NotImplementedError


def _same_default(value, default) -> bool:
    if value is default:
        return True
    if hasattr(value, "get_params") or hasattr(default, "get_params"):
        return False
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False
