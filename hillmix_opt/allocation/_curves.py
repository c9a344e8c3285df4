"""HillCurveModel: known Hill-mixture response curves, as a response model."""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from hillmix import geometric_adstock, hill_mixture
from hillmix._jax_setup import double_precision, traced

__all__ = ["HillCurveModel"]


class HillCurveModel(BaseEstimator):
    """Media response from known Hill-mixture curves, as a response model.

    The reference implementation of the response protocol
    (:class:`~hillmix_opt.ResponseModel`): no target is fitted, the curves
    are given. Use it for curves that come from elsewhere (a study, a
    vendor, the truth of a simulation) and to test allocators against
    problems whose optimum is known. Channel ``c``'s response per period is::

        f_c(x) = sum_k w[c, k] * A[c, k] * x**n[c, k] / (x**n[c, k] + kappa[c, k]**n[c, k])

    (``w`` the ``weights``, ``A`` the ``amplitude``) of the geometric adstock
    ``x`` of its spend (no carryover with the default ``adstock_max_lag=1``).
    Every curve parameter is a scalar (shared by all channels), an array of
    shape (n_channels,), (n_channels, n_components), or (n_draws, n_channels,
    n_components) for a posterior with draws.

    Parameters
    ----------
    amplitude : float or array-like, default=1.0
        Saturation level of each curve, in target units per period.
    kappa : float or array-like, default=1.0
        Half-saturation spend per period, positive.
    n : float or array-like, default=1.0
        Hill exponents, positive; ``n > 1`` gives S-shaped curves.
    weights : array-like, default=None
        Mixture weights of the components (rows sum to one); equal when None.
    adstock_alpha : float or array-like, default=0.0
        Geometric retention per channel in [0, 1): a scalar, shape
        (n_channels,) or (n_draws, n_channels).
    adstock_max_lag : int, default=1
        Periods over which spend keeps working, the current one included.

    Attributes
    ----------
    curves_ : dict of str to ndarray
        ``"amplitude"``, ``"kappa"``, ``"n"``, ``"weights"`` of shape
        (n_draws, n_channels, n_components) and ``"adstock_alpha"`` of shape
        (n_draws, n_channels).
    n_draws_ : int
        Number of posterior draws.
    channel_names_ : ndarray of str
        The columns of ``X`` at fit (``x0``, ``x1``, ... for arrays).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` had string column names.

    See Also
    --------
    hillmix_opt.BudgetAllocator : Allocates budgets over such models.

    Examples
    --------
    >>> import pandas as pd
    >>> from hillmix_opt import HillCurveModel
    >>> spend = pd.DataFrame({"tv": [100.0, 120.0], "search": [40.0, 60.0]})
    >>> model = HillCurveModel(amplitude=[500.0, 300.0], kappa=[150.0, 50.0],
    ...                        n=[2.0, 1.0]).fit(spend)
    >>> model.channel_names_.tolist()
    ['tv', 'search']
    >>> response = model.media_response([[150.0, 50.0]])
    >>> response.shape, [round(float(v), 6) for v in response[0, 0]]
    ((1, 1, 2), [250.0, 150.0])
    """

    _parameter_constraints: dict = {
        "amplitude": ["array-like", Interval(numbers.Real, 0, None, closed="left")],
        "kappa": ["array-like", Interval(numbers.Real, 0, None, closed="neither")],
        "n": ["array-like", Interval(numbers.Real, 0, None, closed="neither")],
        "weights": ["array-like", None],
        "adstock_alpha": ["array-like", Interval(numbers.Real, 0, 1, closed="left")],
        "adstock_max_lag": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        amplitude=1.0,
        kappa=1.0,
        n=1.0,
        weights=None,
        adstock_alpha=0.0,
        adstock_max_lag: int = 1,
    ):
        self.amplitude = amplitude
        self.kappa = kappa
        self.n = n
        self.weights = weights
        self.adstock_alpha = adstock_alpha
        self.adstock_max_lag = adstock_max_lag

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Bind the curves to the channels, the columns of ``X``.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_periods, n_channels)
            Spend, non-negative; only its columns matter.
        y : None
            Ignored.

        Returns
        -------
        self : HillCurveModel
        """
        X = validate_data(self, X, dtype=np.float64)
        if np.any(X < 0):
            raise ValueError("Negative values in data: X (spend) must be non-negative.")
        n_channels = X.shape[1]
        raw = {
            name: _as_curve_array(getattr(self, name), name, n_channels)
            for name in ("amplitude", "kappa", "n")
        }
        if self.weights is not None:
            raw["weights"] = _as_curve_array(self.weights, "weights", n_channels)
        try:
            shape = np.broadcast_shapes(*(v.shape for v in raw.values()))
        except ValueError:
            shapes = {k: v.shape for k, v in raw.items()}
            raise ValueError(
                f"The curve parameters have shapes that do not broadcast: {shapes} (as "
                "(n_draws, n_channels, n_components))."
            ) from None
        curves = {k: np.broadcast_to(v, shape).astype(float) for k, v in raw.items()}
        if self.weights is None:
            curves["weights"] = np.full(shape, 1.0 / shape[-1])
        _check_curves(curves)
        n_draws = shape[0]
        alpha = np.asarray(self.adstock_alpha, dtype=float)
        if alpha.ndim > 2 or (alpha.ndim >= 1 and alpha.shape[-1] not in (1, n_channels)):
            raise ValueError(
                f"adstock_alpha must be a scalar or of shape (n_channels,) or (n_draws, "
                f"n_channels) with n_channels={n_channels}; got shape {alpha.shape}."
            )
        alpha = alpha.reshape((1,) * (2 - alpha.ndim) + alpha.shape)
        n_draws = max(n_draws, alpha.shape[0])
        if alpha.shape[0] not in (1, n_draws):
            raise ValueError(
                f"adstock_alpha has {alpha.shape[0]} draws but the curves have {n_draws}."
            )
        if np.any((alpha < 0) | (alpha >= 1)) or not np.all(np.isfinite(alpha)):
            raise ValueError("adstock_alpha must lie in [0, 1).")
        curves = {k: np.broadcast_to(v, (n_draws, *shape[1:])).copy() for k, v in curves.items()}
        curves["adstock_alpha"] = np.broadcast_to(alpha, (n_draws, n_channels)).copy()

        self.curves_ = curves
        self.n_draws_ = int(n_draws)
        names = getattr(self, "feature_names_in_", None)
        self.channel_names_ = np.asarray(
            [str(c) for c in names] if names is not None else [f"x{i}" for i in range(n_channels)],
            dtype=object,
        )
        return self

    def media_response(self, spend_plan, n_draws: int | None = None):
        """Each channel's response per period to a spend plan (JAX-traceable).

        Called on an array it computes in double precision; traced, in the
        precision of the trace (see :meth:`hillmix.HillMixtureMMM.media_response`).

        Parameters
        ----------
        spend_plan : array of shape (n_periods, n_channels)
            Spend per period, channels in the order of ``channel_names_``; no
            spend before the first row.
        n_draws : int, default=None
            Use this many evenly spaced draws (all when None).

        Returns
        -------
        response : jax.Array of shape (n_draws, n_periods, n_channels)
        """
        check_is_fitted(self)
        if traced(spend_plan):  # in the caller's precision, as its trace is
            return self._media_response(spend_plan, n_draws)
        with double_precision():
            return self._media_response(spend_plan, n_draws)

    def _media_response(self, spend_plan, n_draws):
        idx = np.arange(self.n_draws_)
        if n_draws is not None:
            idx = np.linspace(0, self.n_draws_ - 1, min(n_draws, self.n_draws_)).astype(int)
        c = {k: jnp.asarray(v[idx]) for k, v in self.curves_.items()}
        plan = jnp.asarray(spend_plan, dtype=float)
        lag = self.adstock_max_lag

        def one(alpha, weights, amplitude, kappa, n):
            adstocked = plan if lag == 1 else geometric_adstock(plan, alpha, lag)
            return hill_mixture(adstocked, weights, amplitude, kappa, n)

        return jax.vmap(one)(c["adstock_alpha"], c["weights"], c["amplitude"], c["kappa"], c["n"])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.target_tags.required = False
        return tags


def _as_curve_array(value, name, n_channels):
    """A curve parameter as (n_draws, n_channels, n_components) or broadcastable."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return a.reshape(1, 1, 1)
    if a.ndim == 1:
        a = a.reshape(1, -1, 1)
    elif a.ndim == 2:
        a = a[None]
    elif a.ndim > 3:
        raise ValueError(
            f"{name} has {a.ndim} dimensions; at most 3 (n_draws, n_channels, n_components)."
        )
    if a.shape[1] not in (1, n_channels):
        raise ValueError(
            f"{name} is given for {a.shape[1]} channels, but X has {n_channels} columns."
        )
    return a


def _check_curves(curves):
    for name, lowest, closed in (("amplitude", 0, True), ("kappa", 0, False), ("n", 0, False)):
        v = curves[name]
        if not np.all(np.isfinite(v)) or np.any(v < lowest if closed else v <= lowest):
            bound = ">= 0" if closed else "> 0"
            raise ValueError(f"{name} must be finite and {bound}.")
    w = curves["weights"]
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.allclose(w.sum(-1), 1.0):
        raise ValueError("weights must be non-negative and sum to one over the components.")
