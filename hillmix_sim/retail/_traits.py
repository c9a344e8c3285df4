"""Bounded trait distributions of simulated households: specification and sampling.

A trait distribution is a flat tuple ``(family, *parameters, lo, hi)``, so
it is one constructor parameter of :class:`~hillmix_sim.RetailSimulator`
that ``set_params`` replaces and a tuner searches number by number::

    ("beta", a, b, lo, hi)            lo + (hi - lo) * Beta(a, b)
    ("lognormal", mu, sigma, lo, hi)  exp(Normal(mu, sigma)) clipped to [lo, hi]
    ("normal", mu, sigma, lo, hi)     Normal(mu, sigma) clipped to [lo, hi]
    ("uniform", lo, hi)               Uniform(lo, hi)
    ("constant", value)               value for every household

Sampling goes through the inverse distribution function of a uniform, so a
household's trait depends only on its own uniform (and so on the seed and
its id), never on which other households are drawn with it.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy import special

__all__ = ["FAMILIES", "TraitSpec", "check_trait", "sample_trait", "trait_mean"]

#: The families and the parameters each takes before its bounds.
FAMILIES = {
    "beta": ("a", "b"),
    "lognormal": ("mu", "sigma"),
    "normal": ("mu", "sigma"),
    "uniform": (),
    "constant": (),
}


class TraitSpec(NamedTuple):
    """A validated trait distribution: family, parameters and bounds."""

    family: str
    params: tuple[float, ...]
    lo: float
    hi: float


def check_trait(name: str, spec) -> TraitSpec:
    """Validate a trait distribution tuple.

    Parameters
    ----------
    name : str
        The parameter's name, for error messages.
    spec : tuple
        ``(family, *parameters, lo, hi)``, or ``("constant", value)``.

    Returns
    -------
    spec : TraitSpec

    Raises
    ------
    ValueError
        For an unknown family, a wrong number of parameters, non-finite
        numbers, ``lo > hi``, Beta parameters that are not positive or a
        negative ``sigma``.

    Examples
    --------
    >>> from hillmix_sim.retail._traits import check_trait
    >>> check_trait("promo_responsiveness", ("beta", 3.0, 2.0, 0.5, 2.0))
    TraitSpec(family='beta', params=(3.0, 2.0), lo=0.5, hi=2.0)
    >>> check_trait("x", ("beta", 0.0, 2.0, 0.5, 2.0))
    Traceback (most recent call last):
    ...
    ValueError: x: Beta parameters must be > 0, got a=0.0, b=2.0.
    """
    if not isinstance(spec, tuple | list) or not spec or not isinstance(spec[0], str):
        raise ValueError(
            f"{name} must be a tuple (family, *parameters, lo, hi) with family in "
            f"{sorted(FAMILIES)}, got {spec!r}."
        )
    family, numbers = spec[0], spec[1:]
    if family not in FAMILIES:
        raise ValueError(f"{name}: unknown family {family!r}; expected one of {sorted(FAMILIES)}.")
    expected = 1 if family == "constant" else len(FAMILIES[family]) + 2
    if len(numbers) != expected:
        form = (
            "('constant', value)"
            if family == "constant"
            else f"({family!r}, {', '.join((*FAMILIES[family], 'lo', 'hi'))})"
        )
        raise ValueError(f"{name}: {family} takes {form}, got {spec!r}.")
    if not all(isinstance(v, Real) and not isinstance(v, bool) for v in numbers):
        raise ValueError(f"{name}: parameters and bounds must be real numbers, got {spec!r}.")
    values = tuple(float(v) for v in numbers)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name}: parameters and bounds must be finite, got {spec!r}.")
    if family == "constant":
        return TraitSpec(family, (), values[0], values[0])
    *params, lo, hi = values
    if lo > hi:
        raise ValueError(f"{name}: lower bound {lo} is above upper bound {hi}.")
    if family == "beta" and min(params) <= 0:
        raise ValueError(f"{name}: Beta parameters must be > 0, got a={params[0]}, b={params[1]}.")
    if family in ("lognormal", "normal") and params[1] < 0:
        raise ValueError(f"{name}: sigma must be >= 0, got {params[1]}.")
    return TraitSpec(family, tuple(params), lo, hi)


def sample_trait(spec: TraitSpec, u: np.ndarray) -> np.ndarray:
    """Trait values from uniforms, by the inverse distribution function.

    Parameters
    ----------
    spec : TraitSpec
    u : ndarray of float64
        Uniforms strictly inside (0, 1).

    Returns
    -------
    values : ndarray of float64, same shape as ``u``
        Within ``[spec.lo, spec.hi]``.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_sim.retail._traits import check_trait, sample_trait
    >>> spec = check_trait("t", ("beta", 2.0, 2.0, 1.0, 3.0))
    >>> sample_trait(spec, np.array([0.5])).tolist()
    [2.0]
    """
    family, params, lo, hi = spec
    if family == "constant":
        return np.full(np.shape(u), lo)
    if family == "uniform":
        return lo + (hi - lo) * u
    if family == "beta":
        return lo + (hi - lo) * special.betaincinv(params[0], params[1], u)
    values = params[0] + params[1] * special.ndtri(u)
    if family == "lognormal":
        values = np.exp(values)
    return np.clip(values, lo, hi)


def trait_mean(spec: TraitSpec, n_points: int = 4096) -> float:
    """Population mean of a trait (midpoint rule over its quantiles).

    Parameters
    ----------
    spec : TraitSpec
    n_points : int, default=4096

    Returns
    -------
    mean : float

    Examples
    --------
    >>> from hillmix_sim.retail._traits import check_trait, trait_mean
    >>> round(trait_mean(check_trait("t", ("beta", 3.0, 2.0, 0.0, 1.0))), 4)
    0.6
    """
    u = (np.arange(n_points) + 0.5) / n_points
    return float(sample_trait(spec, u).mean())
