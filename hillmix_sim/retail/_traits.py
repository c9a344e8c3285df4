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

A trait may declare its :class:`Domain`, the values that mean something
(a probability in [0, 1], a rate above 0); :func:`check_trait` then refuses
a distribution that can produce values outside it.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy import special

__all__ = [
    "FAMILIES",
    "Domain",
    "TraitSpec",
    "check_trait",
    "sample_trait",
    "trait_mean",
    "trait_support",
]

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


class Domain(NamedTuple):
    """An interval of real numbers, each end open or closed.

    Examples
    --------
    >>> from hillmix_sim.retail._traits import Domain
    >>> probability = Domain(0.0, 1.0)
    >>> str(probability), str(Domain(0.0, math.inf, low_closed=False))
    ('[0, 1]', '(0, inf)')
    >>> probability.holds(Domain(0.2, 0.9)), probability.holds(Domain(2.0, 5.0))
    (True, False)
    """

    low: float
    high: float
    low_closed: bool = True
    high_closed: bool = True

    def holds(self, other: Domain) -> bool:
        """Whether every value of ``other`` lies in this interval."""
        low_ok = other.low > self.low or (
            other.low == self.low and (self.low_closed or not other.low_closed)
        )
        high_ok = other.high < self.high or (
            other.high == self.high and (self.high_closed or not other.high_closed)
        )
        return low_ok and high_ok

    def __str__(self) -> str:
        left = "[" if self.low_closed and math.isfinite(self.low) else "("
        right = "]" if self.high_closed and math.isfinite(self.high) else ")"
        return f"{left}{self.low:g}, {self.high:g}{right}"


def trait_support(spec: TraitSpec) -> Domain:
    """The values a trait distribution can produce.

    Beta, uniform and clipped normal draws can reach both bounds; a
    lognormal draw is positive whatever its lower bound, and clipped to its
    upper one; a constant is one value.

    Parameters
    ----------
    spec : TraitSpec

    Returns
    -------
    support : Domain

    Examples
    --------
    >>> from hillmix_sim.retail._traits import check_trait, trait_support
    >>> str(trait_support(check_trait("t", ("lognormal", 0.0, 1.0, -1.0, 5.0))))
    '(0, 5]'
    >>> str(trait_support(check_trait("t", ("constant", 2.0))))
    '[2, 2]'
    """
    family, params, lo, hi = spec
    if family in ("normal", "lognormal") and params[1] == 0:
        # No spread: every draw is the (clipped) centre.
        with np.errstate(over="ignore"):
            centre = float(np.exp(params[0])) if family == "lognormal" else params[0]
        point = min(max(centre, lo), hi)
        return Domain(point, point)
    if family == "lognormal" and lo <= 0:
        if hi <= 0:
            return Domain(hi, hi)
        return Domain(0.0, hi, low_closed=False)
    return Domain(lo, hi)


def check_trait(name: str, spec, domain: Domain | None = None) -> TraitSpec:
    """Validate a trait distribution tuple.

    Parameters
    ----------
    name : str
        The parameter's name, for error messages.
    spec : tuple
        ``(family, *parameters, lo, hi)``, or ``("constant", value)``.
    domain : Domain, optional
        The values the trait may take; the distribution's support
        (:func:`trait_support`) must lie within it.

    Returns
    -------
    spec : TraitSpec

    Raises
    ------
    ValueError
        For an unknown family, a wrong number of parameters, non-finite
        numbers, ``lo > hi``, Beta parameters that are not positive, a
        negative ``sigma``, or values outside ``domain``.

    Examples
    --------
    >>> from hillmix_sim.retail._traits import check_trait
    >>> check_trait("promo_responsiveness", ("beta", 3.0, 2.0, 0.5, 2.0))
    TraitSpec(family='beta', params=(3.0, 2.0), lo=0.5, hi=2.0)
    >>> check_trait("x", ("beta", 0.0, 2.0, 0.5, 2.0))
    Traceback (most recent call last):
    ...
    ValueError: x: Beta parameters must be > 0, got a=0.0, b=2.0.
    >>> check_trait("online_share", ("constant", -1.0), Domain(0.0, 1.0))
    Traceback (most recent call last):
    ...
    ValueError: online_share must lie in [0, 1]; ('constant', -1.0) gives -1.
    """
    checked = _check_spec(name, spec)
    if domain is not None:
        support = trait_support(checked)
        if not domain.holds(support):
            gives = (
                f"gives {support.low:g}"
                if support.low == support.high
                else f"can give values in {support}"
            )
            raise ValueError(f"{name} must lie in {domain}; {spec!r} {gives}.")
    return checked


def _check_spec(name: str, spec) -> TraitSpec:
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
