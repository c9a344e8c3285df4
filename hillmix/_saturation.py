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
    return _curves(_as_inexact(x), kappa, n)[0]


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
    x = _as_inexact(x)[..., None]
    curves = hill(x, jnp.asarray(kappa), jnp.asarray(n))
    return jnp.sum(jnp.asarray(weights) * jnp.asarray(amplitude) * curves, axis=-1)


def _as_inexact(x):
    """``x`` as a JAX array, floating precision kept (samplers pass single), else float."""
    x = jnp.asarray(x)
    return x.astype(jnp.result_type(x.dtype, float))


@jax.custom_jvp
def summed_hill_curves(x, scale, kappa, n):
    """``sum_k scale[k] * hill(x; kappa[k], n[k])``, components on the first axis.

    The samplers' form of :func:`hill_mixture`, with its derivative written
    out: one pass over the curves gives everything a gradient needs, where
    differentiating :func:`hill` leaves XLA several passes and layout
    copies, about a third more time per gradient for eight channels over
    160 periods. The rule is forward-mode and linear in the tangents, so
    JAX transposes it for gradients and forward-mode still works.

    Parameters
    ----------
    x : array of shape (...)
        Non-negative input (adstocked spend).
    scale, kappa, n : arrays of one more axis than ``x``, the first
        Weighted amplitude, half-saturation point and exponent of each
        component, components on the first axis; the others broadcast
        against ``x`` (shape ``(n_components, n_channels, 1)`` for ``x`` of
        shape ``(n_channels, n_periods)``). Floating point.

    Returns
    -------
    response : array of the shape of ``x``
    """
    return jnp.sum(scale * _curves(x, kappa, n)[0], axis=0)


def _curves(x, kappa, n):
    """Hill curves (zero where ``x == 0``), ``log(x / kappa)`` and a safe ``x``."""
    positive = x > 0
    # A safe log keeps the gradient finite where x == 0 (where the value is 0).
    safe_x = jnp.where(positive, x, 1.0)
    log_ratio = jnp.log(safe_x) - jnp.log(kappa)
    return jnp.where(positive, jax.nn.sigmoid(n * log_ratio), 0.0), log_ratio, safe_x


@summed_hill_curves.defjvp
def _summed_hill_curves_jvp(primals, tangents):
    x, scale, kappa, n = primals
    d_x, d_scale, d_kappa, d_n = tangents
    curves, log_ratio, safe_x = _curves(x, kappa, n)
    # d/du sigmoid(u) = s (1 - s), zero where x == 0 as the curve is.
    slope = scale * curves * (1 - curves)
    d_u = d_n * log_ratio + n * (d_x / safe_x - d_kappa / kappa)
    return jnp.sum(scale * curves, axis=0), jnp.sum(d_scale * curves + slope * d_u, axis=0)
