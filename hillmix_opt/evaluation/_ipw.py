"""Inverse propensity weighting: plain and self-normalised.

Each logged reward is weighted by ``w_i = pi(a_i | x_i) / pi_0(a_i | x_i)``,
the target's probability of the logged action over the logger's. Unbiased
wherever the logger covers the target; the variance grows with the
weights, which clipping (``clip``) trades for a downward bias.
"""

from __future__ import annotations

import numbers

from sklearn.utils._param_validation import Interval

from ._base import _BaseOffPolicyEstimator

__all__ = ["IPWEstimator", "SNIPWEstimator"]

_CLIP = {"clip": [Interval(numbers.Real, 0, None, closed="neither"), None]}


class IPWEstimator(_BaseOffPolicyEstimator):
    """Inverse propensity weighting (IPW): the mean of weighted rewards.

    ``V = mean_i w_i r_i`` with ``w_i = pi(a_i | x_i) / p_i``, ``p_i`` the
    logged propensity. Unbiased when the logger gives every action the
    target may take a positive probability; the target's probability on
    other actions is left out, with an :class:`UnsupportedActionWarning`.

    Parameters
    ----------
    clip : float or None, default=None
        Clip the weights at this value (``min(w, clip)``); None weighs as
        they are.
    coverage : float, default=0.95
        Mass of the interval.
    n_bootstrap : int, default=0
        0 gives the normal interval of the estimate's influence function;
        a positive number, a percentile bootstrap over that many resamples
        of the log's rows.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the bootstrap; resolved in :meth:`fit`.

    Attributes
    ----------
    log_ : BanditLog
    n_samples_ : int

    See Also
    --------
    SNIPWEstimator, DREstimator

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import BanditLog, IPWEstimator
    >>> log = BanditLog(actions=[0, 0, 0, 1], rewards=[1, 0, 1, 1], propensities=[0.5] * 4)
    >>> target = np.tile([0.8, 0.2], (4, 1))
    >>> IPWEstimator().fit(log).estimate_policy_value(target).estimate
    0.9
    """

    _label = "IPW"
    _parameter_constraints: dict = {
        **_BaseOffPolicyEstimator._parameter_constraints,
        **_CLIP,
    }

    def __init__(
        self, *, clip=None, coverage: float = 0.95, n_bootstrap: int = 0, random_state=None
    ):
        self.clip = clip
        self.coverage = coverage
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    def _terms(self, target):
        w = self._weights(target)
        return w * self.log_.rewards, None, w


class SNIPWEstimator(IPWEstimator):
    """Self-normalised inverse propensity weighting (SNIPW).

    ``V = sum_i w_i r_i / sum_i w_i``: the weights, which average one in
    expectation, are normalised by their actual mean. Biased in small logs
    (of order 1 / n) but with less variance than IPW when weights are
    large, and its estimate always lies within the rewards' range. Its
    interval is the delta method's (influence ``w_i (r_i - V) / mean(w)``).

    Parameters
    ----------
    clip : float or None, default=None
        Clip the weights at this value (``min(w, clip)``); None weighs as
        they are.
    coverage : float, default=0.95
        Mass of the interval.
    n_bootstrap : int, default=0
        0 gives the normal interval of the estimate's influence function;
        a positive number, a percentile bootstrap over that many resamples
        of the log's rows.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the bootstrap; resolved in :meth:`fit`.

    Attributes
    ----------
    log_ : BanditLog
    n_samples_ : int

    See Also
    --------
    IPWEstimator

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import BanditLog, SNIPWEstimator
    >>> log = BanditLog(actions=[0, 0, 0, 1], rewards=[1, 0, 1, 1], propensities=[0.5] * 4)
    >>> target = np.tile([0.8, 0.2], (4, 1))
    >>> round(SNIPWEstimator().fit(log).estimate_policy_value(target).estimate, 4)
    0.6923
    """

    _label = "SNIPW"

    def _terms(self, target):
        w = self._weights(target)
        return w * self.log_.rewards, w, w
