"""Utilities over posterior draws: how an allocation's uncertain response is scored.

Each utility maps the per-draw combined response of an allocation, a JAX
array of shape (n_draws,), to the scalar the allocator maximises. They are
pure JAX functions, so the objective can be jitted and differentiated.
"""

from __future__ import annotations

import functools
import math

import jax.numpy as jnp

__all__ = ["UTILITIES", "cvar", "mean", "mean_std", "quantile", "resolve_utility"]

UTILITIES = ("mean", "quantile", "cvar", "mean_std")
"""Names accepted by :class:`~hillmix_opt.BudgetAllocator`'s ``utility``."""


def mean(response):
    """Posterior mean of the response: the risk-neutral choice.

    Parameters
    ----------
    response : jax.Array of shape (n_draws,)
        Combined response per posterior draw.

    Returns
    -------
    utility : jax.Array of shape ()

    Examples
    --------
    >>> from hillmix_opt.allocation._utility import mean
    >>> float(mean(jnp.array([1.0, 2.0, 6.0])))
    3.0
    """
    return jnp.mean(response)


def quantile(response, level):
    """The ``level`` quantile of the response (a value at risk).

    Maximising a low quantile asks for the allocation whose bad case is best.

    Parameters
    ----------
    response : jax.Array of shape (n_draws,)
    level : float
        In (0, 1); linear interpolation between order statistics.

    Returns
    -------
    utility : jax.Array of shape ()

    Examples
    --------
    >>> from hillmix_opt.allocation._utility import quantile
    >>> float(quantile(jnp.arange(11.0), 0.1))
    1.0
    """
    return jnp.quantile(response, level)


def cvar(response, level):
    """Mean of the worst ``level`` fraction of draws (conditional value at risk).

    The lowest ``level * n_draws`` draws count fully and the next one with the
    fractional remainder, so the value moves continuously with ``level``.

    Parameters
    ----------
    response : jax.Array of shape (n_draws,)
    level : float
        Tail probability in (0, 1).

    Returns
    -------
    utility : jax.Array of shape ()

    Examples
    --------
    >>> from hillmix_opt.allocation._utility import cvar
    >>> float(cvar(jnp.array([4.0, 1.0, 3.0, 2.0]), 0.5))
    1.5
    """
    n = response.shape[0]
    k = level * n
    full = math.floor(k)
    weights = jnp.where(jnp.arange(n) < full, 1.0, 0.0)
    if full < n:
        weights = weights.at[full].set(k - full)
    return jnp.sum(jnp.sort(response) * weights) / k


def mean_std(response, risk_aversion):
    """Mean minus ``risk_aversion`` times the standard deviation of the response.

    Parameters
    ----------
    response : jax.Array of shape (n_draws,)
    risk_aversion : float
        Non-negative; 0 is the mean.

    Returns
    -------
    utility : jax.Array of shape ()

    Examples
    --------
    >>> from hillmix_opt.allocation._utility import mean_std
    >>> float(mean_std(jnp.array([1.0, 3.0]), 0.5))
    1.5
    """
    centred = response - jnp.mean(response)
    var = jnp.mean(centred**2)
    # sqrt has an infinite slope at 0 (a single draw, or a constant response):
    # the standard deviation's gradient is taken as 0 there.
    positive = var > 0
    std = jnp.where(positive, jnp.sqrt(jnp.where(positive, var, 1.0)), 0.0)
    return jnp.mean(response) - risk_aversion * std


@functools.cache
def _named(name, level, risk_aversion):
    # One function object per setting, so jitted solvers that take the
    # utility as a static argument compile once per setting.
    if name == "mean":
        return mean
    if name == "quantile":
        return functools.partial(quantile, level=level)
    if name == "cvar":
        return functools.partial(cvar, level=level)
    return functools.partial(mean_std, risk_aversion=risk_aversion)


def resolve_utility(utility, level: float, risk_aversion: float):
    """The utility function an allocator maximises.

    Parameters
    ----------
    utility : {"mean", "quantile", "cvar", "mean_std"} or callable
        A name, or a JAX-traceable function of the per-draw combined response
        (shape ``(n_draws,)``) returning a scalar.
    level : float
        Quantile or tail probability for ``"quantile"`` and ``"cvar"``.
    risk_aversion : float
        Weight of the standard deviation for ``"mean_std"``.

    Returns
    -------
    function : callable
        ``response -> scalar``.

    Examples
    --------
    >>> from hillmix_opt.allocation._utility import resolve_utility
    >>> float(resolve_utility("cvar", 0.5, 1.0)(jnp.array([4.0, 1.0, 3.0, 2.0])))
    1.5
    """
    if callable(utility):
        return utility
    if utility not in UTILITIES:
        raise ValueError(f"utility must be one of {UTILITIES} or a callable, got {utility!r}.")
    if utility in ("mean", "mean_std"):
        level = None
    if utility != "mean_std":
        risk_aversion = None
    return _named(utility, level, risk_aversion)
