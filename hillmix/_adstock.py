"""Geometric adstock: how spend in one period keeps working in later ones."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["geometric_adstock", "geometric_adstock_weights", "lag_stack"]


def geometric_adstock_weights(alpha, max_lag: int, normalize: bool = True):
    """Geometric lag weights ``alpha**l``, from lag 0 to ``max_lag - 1``.

    Parameters
    ----------
    alpha : array-like of shape (...,)
        Retention rate(s) in [0, 1). Leading dimensions broadcast.
    max_lag : int
        Number of lags, the current period included.
    normalize : bool, default=True
        Scale the weights to sum to one, so that a constant spend ``s``
        has a steady-state adstock of ``s`` and response curves stay on the
        spend scale.

    Returns
    -------
    weights : jax.Array of shape (max_lag, ...)
        Lag weights, lag first.

    Examples
    --------
    >>> from hillmix import geometric_adstock_weights
    >>> geometric_adstock_weights(0.5, 3, normalize=False).tolist()
    [1.0, 0.5, 0.25]
    """
    # Any floating precision is kept: samplers pass single precision.
    alpha = jnp.asarray(alpha)
    alpha = alpha.astype(jnp.result_type(alpha.dtype, float))
    lags = jnp.arange(max_lag, dtype=alpha.dtype).reshape(-1, *[1] * alpha.ndim)
    # Powers as exponentials of one logarithm: ``alpha**lags`` calls the
    # C library's scalar ``pow`` for every weight and its gradient, and a
    # running product becomes a scan in the gradient; both cost a sampler
    # more than the vectorised exponential. Zero retention, where the
    # logarithm fails, is written out with its derivatives (1 at lag 1, 0
    # after); NaN and invalid negative retention give NaN.
    zero = alpha == 0
    powers = jnp.exp(lags * jnp.log(jnp.where(zero, 1.0, alpha)))
    at_zero = jnp.where(lags == 0, 1.0, jnp.where(lags == 1, alpha, 0.0))
    weights = jnp.where(zero, at_zero, powers)
    if normalize:
        weights = weights / weights.sum(axis=0)
    return weights


def lag_stack(X, max_lag: int) -> np.ndarray:
    """Stack lagged copies of ``X``, zero before the first period.

    Adstock is then a single contraction of this stack with the lag
    weights, which keeps the model's log density free of loops and the
    lag tensor out of the sampler's hot path.

    Parameters
    ----------
    X : array-like of shape (n_periods, n_channels)
        Spend per period and channel, in time order.
    max_lag : int
        Number of lags, the current period included.

    Returns
    -------
    stack : ndarray of shape (max_lag, n_periods, n_channels)
        ``stack[l, t] = X[t - l]``, or zero where ``t - l < 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix import lag_stack
    >>> lag_stack(np.array([[1.0], [2.0], [3.0]]), 2)[:, :, 0].tolist()
    [[1.0, 2.0, 3.0], [0.0, 1.0, 2.0]]
    """
    X = np.asarray(X, dtype=float)
    n_periods = X.shape[0]
    stack = np.zeros((max_lag, *X.shape), dtype=X.dtype)
    for lag in range(min(max_lag, n_periods)):
        stack[lag, lag:] = X[: n_periods - lag]
    return stack


def geometric_adstock(X, alpha, max_lag: int, normalize: bool = True):
    """Geometric adstock of spend, one retention rate per channel.

    ``x~[t, c] = sum_l w[l, c] * X[t - l, c]`` with ``w[l, c]`` proportional
    to ``alpha[c] ** l``. Pure JAX: it can be jitted and differentiated with
    respect to both the spend and the retention rates.

    Parameters
    ----------
    X : array-like of shape (n_periods, n_channels)
        Spend per period and channel, in time order.
    alpha : array-like of shape (n_channels,)
        Retention rate per channel, in [0, 1).
    max_lag : int
        Number of lags, the current period included.
    normalize : bool, default=True
        Normalise the lag weights to sum to one.

    Returns
    -------
    adstocked : jax.Array of shape (n_periods, n_channels)

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix import geometric_adstock
    >>> x = np.array([[1.0], [0.0], [0.0]])
    >>> geometric_adstock(x, np.array([0.5]), 3, normalize=False)[:, 0].tolist()
    [1.0, 0.5, 0.25]
    """
    weights = geometric_adstock_weights(alpha, max_lag, normalize)
    return jnp.einsum("ltc,lc->tc", lag_windows(X, max_lag), weights)


def lag_windows(X, max_lag: int):
    """JAX twin of :func:`lag_stack`: traceable in the spend, for gradients."""
    X = jnp.asarray(X)
    n_periods = X.shape[0]
    padded = jnp.concatenate([jnp.zeros((max_lag - 1, *X.shape[1:]), X.dtype), X])
    # Rows are the lagged series; one einsum with the weights replaces a
    # loop over time.
    return jnp.stack(
        [padded[max_lag - 1 - lag : max_lag - 1 - lag + n_periods] for lag in range(max_lag)]
    )
