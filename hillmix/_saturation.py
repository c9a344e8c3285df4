"""Hill saturation curves and their mixtures."""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["hill", "hill_mixture"]


def hill(x, kappa, n):
    """Hill curve ``x**n / (x**n + kappa**n)``, in [0, 1).

    Computed as ``sigmoid(n * (log x - log kappa))``, which stays finite for
    large exponents and has well-defined gradients at ``x = 0``.

    Parameters
    ----------
    x : array-like
        Non-negative input (adstocked spend).
    kappa : array-like
        Half-saturation point, positive; broadcasts against ``x``.
    n : array-like
        Hill exponent (shape), positive; ``n > 1`` gives an S-shaped curve.

    Returns
    -------
    response : jax.Array
        Broadcast shape of the inputs.

    Examples
    --------
    >>> from hillmix import hill
    >>> float(hill(2.0, kappa=2.0, n=3.0))
    0.5
    """
    x = jnp.asarray(x, dtype=float)
    positive = x > 0
    # A safe log keeps the gradient finite where x == 0 (where the value is 0).
    log_x = jnp.log(jnp.where(positive, x, 1.0))
    value = jax.nn.sigmoid(n * (log_x - jnp.log(kappa)))
    return jnp.where(positive, value, 0.0)


def hill_mixture(x, weights, amplitude, kappa, n):
    """Weighted sum of Hill curves, one per component.

    ``f(x) = sum_k weights[k] * amplitude[k] * hill(x; kappa[k], n[k])``.

    Parameters
    ----------
    x : array-like of shape (...,)
        Non-negative input (adstocked spend).
    weights : array-like of shape (..., n_components)
        Mixture weights (each row on the simplex).
    amplitude : array-like of shape (..., n_components)
        Saturation level of each component.
    kappa : array-like of shape (..., n_components)
        Half-saturation point of each component.
    n : array-like of shape (..., n_components)
        Hill exponent of each component.

    Returns
    -------
    response : jax.Array of shape (...,)

    Examples
    --------
    >>> from hillmix import hill_mixture
    >>> round(float(hill_mixture(1.0, [0.5, 0.5], [2.0, 2.0], [1.0, 1.0], [1.0, 2.0])), 6)
    1.0
    """
    x = jnp.asarray(x, dtype=float)[..., None]
    curves = hill(x, jnp.asarray(kappa), jnp.asarray(n))
    return jnp.sum(jnp.asarray(weights) * jnp.asarray(amplitude) * curves, axis=-1)
