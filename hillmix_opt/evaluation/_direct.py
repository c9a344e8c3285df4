"""The direct method, and the reward models it shares with the doubly robust estimators.

A reward model of P(click | user, action) (any of :mod:`hillmix_opt.rewards`)
is fitted on the log's rows, joined to their actions' embeddings, and
predicts every user's reward for every action of the target, including
actions never logged. With ``n_folds > 1`` the models are cross-fitted:
the log's rows are split into folds, and each row's predictions come from
the model fitted on the other folds, so a model never scores a row it was
trained on (the correction terms of the doubly robust estimators then stay
centred even for flexible models). A model that should not be refitted is
passed wrapped in :class:`sklearn.frozen.FrozenEstimator`.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold
from sklearn.utils._param_validation import HasMethods, Interval

from hillmix.utils import seeded_copy

from ..rewards import LogisticRewardModel
from ..rewards._table import embedding_columns
from ._base import _BaseOffPolicyEstimator

__all__ = ["DMEstimator", "_RewardModelMixin"]

REWARD_MODEL_CONSTRAINTS: dict = {
    "reward_model": [HasMethods(["fit", "predict_matrix"]), None],
    "n_folds": [Interval(numbers.Integral, 1, None, closed="left")],
}


class _RewardModelMixin:
    """Fits ``reward_model`` on the log (cross-fitted over ``n_folds``) and predicts from it."""

    def _check_model_log(self, log) -> None:
        missing = [name for name in ("users", "action_embeddings") if getattr(log, name) is None]
        if missing:
            raise ValueError(
                f"{type(self).__name__} fits a reward model of the log's users and actions, "
                f"but the log has no {' and no '.join(missing)} (BanditLog.from_observations "
                "with the bank gives both)."
            )
        if self.n_folds > log.n_samples:
            raise ValueError(
                f"n_folds={self.n_folds} is more folds than the log has rows ({log.n_samples})."
            )

    def _fit_reward_models(self, log, model_default=LogisticRewardModel) -> None:
        model = self.reward_model if self.reward_model is not None else model_default()
        users = log.user_frame()
        E = log.action_embeddings
        X = pd.concat(
            [users, pd.DataFrame(E[log.actions], columns=embedding_columns(E.shape[1]))], axis=1
        )
        rewards = log.rewards
        y = rewards.astype(np.int64) if np.isin(rewards, (0.0, 1.0)).all() else rewards
        n = log.n_samples
        folds = np.zeros(n, dtype=np.int64)
        if self.n_folds > 1:
            splitter = KFold(n_splits=self.n_folds, shuffle=True, random_state=self._seeds[0])
            for k, (_, rows) in enumerate(splitter.split(X)):
                folds[rows] = k
        seeds = np.random.SeedSequence(self._seeds[1]).generate_state(self.n_folds)
        models = []
        for k in range(self.n_folds):
            train = folds != k if self.n_folds > 1 else slice(None)
            models.append(seeded_copy(model, int(seeds[k])).fit(X[train], y[train]))
        self.reward_models_ = models
        self.folds_ = folds
        self._users = users
        self._log_rewards = self._predict(E)
        self.fitted_rewards_ = self._log_rewards[np.arange(n), log.actions]

    def _predict(self, embeddings: np.ndarray) -> np.ndarray:
        """Each user's predicted reward for each action (out of fold when cross-fitted)."""
        out = np.empty((len(self._users), len(embeddings)))
        for k, model in enumerate(self.reward_models_):
            rows = self.folds_ == k
            out[rows] = model.predict_matrix(self._users[rows], embeddings)
        return out

    def _expected_rewards(self, target) -> np.ndarray:
        if target.embeddings is None:
            raise ValueError(
                "the target's actions have no embeddings: pass bank=... with embeddings, or "
                "a log with action_embeddings."
            )
        if target.embeddings is self.log_.action_embeddings:
            return self._log_rewards
        return self._predict(target.embeddings)

    def _direct(self, target) -> np.ndarray:
        """Each user's expected reward under the target, by the model."""
        return np.sum(target.proba * self._expected_rewards(target), axis=1)


class DMEstimator(_RewardModelMixin, _BaseOffPolicyEstimator):
    """The direct method (DM): the reward model's value of the target.

    ``V = mean_i sum_a pi(a | x_i) f(x_i, a)``, with ``f`` a reward model
    fitted on the log. No weights, so no variance from them and no need
    for the logger's support: it values actions never logged (new banks)
    through their embeddings. But it is as biased as the model, and its
    interval reflects only the users' variation (the model is taken as
    fixed), so it covers the truth only when the model is right.

    Parameters
    ----------
    reward_model : reward model, default=None
        Any reward model of :mod:`hillmix_opt.rewards` (``fit`` on joined
        rows, ``predict_matrix``); ``LogisticRewardModel()`` when None.
        Cloned and fitted on the log in :meth:`fit` (the log's rewards
        must then be clicks, 0 or 1); wrap a fitted model in
        :class:`sklearn.frozen.FrozenEstimator` to use it as it is.
    n_folds : int, default=1
        1 fits one model on the whole log; more cross-fits (each row's
        predictions from the model fitted on the other folds).
    coverage : float, default=0.95
        Mass of the interval.
    n_bootstrap : int, default=0
        0 gives the normal interval of the estimate's influence function;
        a positive number, a percentile bootstrap over that many resamples
        of the log's rows (the reward models are not refitted).
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the folds, the bootstrap, and every reward model whose own
        ``random_state`` is None; resolved in :meth:`fit`.

    Attributes
    ----------
    log_ : BanditLog
    reward_models_ : list of reward models
        One per fold.
    folds_ : ndarray of int of shape (n_samples,)
        Each row's fold.
    fitted_rewards_ : ndarray of shape (n_samples,)
        The model's prediction for each row's logged action.
    n_samples_ : int

    See Also
    --------
    DREstimator

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import BanditLog, DMEstimator
    >>> rng = np.random.default_rng(0)
    >>> users, embeddings = rng.normal(size=(1000, 2)), np.eye(3)
    >>> actions = rng.integers(3, size=1000)  # uniformly at random
    >>> rewards = (rng.random(1000) < 0.2 + 0.1 * actions).astype(int)  # action 2: 0.4
    >>> log = BanditLog(actions=actions, rewards=rewards, propensities=np.full(1000, 1 / 3),
    ...                 users=users, action_embeddings=embeddings)
    >>> dm = DMEstimator(random_state=0).fit(log)
    >>> value = dm.estimate_policy_value(np.tile([0.0, 0.0, 1.0], (1000, 1)))
    >>> round(value.estimate, 2)
    0.42
    """

    _label = "DM"
    _weights_rows = False
    _parameter_constraints: dict = {
        **_BaseOffPolicyEstimator._parameter_constraints,
        **REWARD_MODEL_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        reward_model=None,
        n_folds: int = 1,
        coverage: float = 0.95,
        n_bootstrap: int = 0,
        random_state=None,
    ):
        self.reward_model = reward_model
        self.n_folds = n_folds
        self.coverage = coverage
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    def _check_log(self, log):
        self._check_model_log(log)

    def _fit(self, log):
        self._fit_reward_models(log)

    def _terms(self, target):
        return self._direct(target), None, None
