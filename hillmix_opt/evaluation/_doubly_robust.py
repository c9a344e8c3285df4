"""Doubly robust estimators: the direct method corrected by weighted residuals.

``V = mean_i [sum_a pi(a | x_i) f(x_i, a) + w_i (r_i - f(x_i, a_i))]``:
unbiased when either the weights (the logged propensities) or the reward
model ``f`` are right, and with less variance than IPW when ``f`` is
close, since the weights multiply residuals rather than rewards.
Switch-DR drops the correction of rows whose weight exceeds ``tau``.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import _BaseOffPolicyEstimator
from ._direct import REWARD_MODEL_CONSTRAINTS, _RewardModelMixin

__all__ = ["DREstimator", "SwitchDREstimator"]


class DREstimator(_RewardModelMixin, _BaseOffPolicyEstimator):
    """Doubly robust (DR): the direct method plus importance-weighted residuals.

    ``V = mean_i [sum_a pi(a | x_i) f(x_i, a) + w_i (r_i - f(x_i, a_i))]``
    with ``w_i = pi(a_i | x_i) / p_i`` and ``f`` a reward model fitted on
    the log, cross-fitted by default so that no row's residual comes from
    a model trained on it. Unbiased where the logger supports the target
    (whatever the model); on actions it does not support (new actions of
    another bank) the model alone values the target's probability, with an
    :class:`UnsupportedActionWarning`.

    Parameters
    ----------
    reward_model : reward model, default=None
        Any reward model of :mod:`hillmix_opt.rewards` (``fit`` on joined
        rows, ``predict_matrix``); ``LogisticRewardModel()`` when None.
        Cloned and fitted on the log in :meth:`fit` (the log's rewards
        must then be clicks, 0 or 1); wrap a fitted model in
        :class:`sklearn.frozen.FrozenEstimator` to use it as it is.
    n_folds : int, default=2
        Cross-fitting folds; 1 fits one model on the whole log (whose
        residuals on its own training rows are then too small).
    clip : float or None, default=None
        Clip the weights at this value; None weighs as they are.
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
    fitted_rewards_ : ndarray of shape (n_samples,)
        Each row's out-of-fold prediction for its logged action.
    n_samples_ : int

    See Also
    --------
    DMEstimator, IPWEstimator, SwitchDREstimator

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import BanditLog, DREstimator
    >>> rng = np.random.default_rng(0)
    >>> users, embeddings = rng.normal(size=(1000, 2)), np.eye(3)
    >>> actions = rng.integers(3, size=1000)  # uniformly at random
    >>> rewards = (rng.random(1000) < 0.2 + 0.1 * actions).astype(int)  # action 2: 0.4
    >>> log = BanditLog(actions=actions, rewards=rewards, propensities=np.full(1000, 1 / 3),
    ...                 users=users, action_embeddings=embeddings)
    >>> value = DREstimator(random_state=0).fit(log).estimate_policy_value(
    ...     np.tile([0.0, 0.0, 1.0], (1000, 1)))
    >>> value.ci_low < 0.4 < value.ci_high
    True
    """

    _label = "DR"
    _unsupported_consequence = "the reward model alone values that share"
    _parameter_constraints: dict = {
        **_BaseOffPolicyEstimator._parameter_constraints,
        **REWARD_MODEL_CONSTRAINTS,
        "clip": [Interval(numbers.Real, 0, None, closed="neither"), None],
    }

    def __init__(
        self,
        *,
        reward_model=None,
        n_folds: int = 2,
        clip=None,
        coverage: float = 0.95,
        n_bootstrap: int = 0,
        random_state=None,
    ):
        self.reward_model = reward_model
        self.n_folds = n_folds
        self.clip = clip
        self.coverage = coverage
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    def _check_log(self, log):
        self._check_model_log(log)

    def _fit(self, log):
        self._fit_reward_models(log)

    def _correction_weights(self, target) -> np.ndarray:
        return self._weights(target)

    def _terms(self, target):
        w = self._correction_weights(target)
        residual = self.log_.rewards - self.fitted_rewards_
        return self._direct(target) + w * residual, None, w


class SwitchDREstimator(DREstimator):
    """Switch doubly robust (Switch-DR): DR whose correction stops at large weights.

    ``V = mean_i [sum_a pi(a | x_i) f(x_i, a) + 1[w_i <= tau] w_i (r_i -
    f(x_i, a_i))]``: rows whose weight exceeds ``tau`` are left to the
    reward model (the direct method), which removes the variance of the
    largest weights at the price of the model's bias on them. ``tau =
    inf`` is DR; ``tau = 0`` is the direct method.

    Parameters
    ----------
    reward_model : reward model, default=None
        Any reward model of :mod:`hillmix_opt.rewards` (``fit`` on joined
        rows, ``predict_matrix``); ``LogisticRewardModel()`` when None.
        Cloned and fitted on the log in :meth:`fit` (the log's rewards
        must then be clicks, 0 or 1); wrap a fitted model in
        :class:`sklearn.frozen.FrozenEstimator` to use it as it is.
    n_folds : int, default=2
        Cross-fitting folds; 1 fits one model on the whole log.
    tau : float, default=100.0
        The largest weight whose row is corrected; ``inf`` corrects every
        row (DR).
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
    folds_ : ndarray of int of shape (n_samples,)
    fitted_rewards_ : ndarray of shape (n_samples,)
    n_samples_ : int

    See Also
    --------
    DREstimator

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import BanditLog, SwitchDREstimator
    >>> rng = np.random.default_rng(0)
    >>> users, embeddings = rng.normal(size=(1000, 2)), np.eye(3)
    >>> actions = rng.integers(3, size=1000)  # uniformly at random
    >>> rewards = (rng.random(1000) < 0.2 + 0.1 * actions).astype(int)  # action 2: 0.4
    >>> log = BanditLog(actions=actions, rewards=rewards, propensities=np.full(1000, 1 / 3),
    ...                 users=users, action_embeddings=embeddings)
    >>> switch = SwitchDREstimator(tau=2.0, random_state=0).fit(log)
    >>> switch.estimate_policy_value(np.tile([0.0, 0.0, 1.0], (1000, 1))).effective_sample_size
    0.0
    """

    _label = "Switch-DR"
    _parameter_constraints: dict = {
        **_BaseOffPolicyEstimator._parameter_constraints,
        **REWARD_MODEL_CONSTRAINTS,
        "tau": [Interval(numbers.Real, 0, None, closed="both")],
    }

    def __init__(
        self,
        *,
        reward_model=None,
        n_folds: int = 2,
        tau: float = 100.0,
        coverage: float = 0.95,
        n_bootstrap: int = 0,
        random_state=None,
    ):
        self.reward_model = reward_model
        self.n_folds = n_folds
        self.tau = tau
        self.coverage = coverage
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    def _correction_weights(self, target) -> np.ndarray:
        w = self._weights(target)
        return np.where(w <= self.tau, w, 0.0)
