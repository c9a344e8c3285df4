"""The calibration's search spaces: which numbers of a RetailSimulator are searched, and where.

A search space maps names to Optuna distributions. A name is a simulator
parameter that is a number (``"promo_frequency"``), or one number of a
trait distribution, ``"<trait>__<number>"``, the numbers named after the
family (:data:`~hillmix_sim.retail._traits.FAMILIES`) and the bounds:
``"visit_rate__mu"``, ``"store_loyalty__a"``, ``"basket_size__hi"``.
Numbers a space does not search keep the estimator's values.

Three tiers nest, as in the heterogeneity-tuning proposal:

* ``"tier1"``, base rates: where visit rates, basket sizes, quantities and
  prices sit and how much households spread around them.
* ``"tier2"``, tier 1 and promotions and marketing: how often and how
  deep reductions are, displays and mailers, households' responsiveness to
  them, store loyalty and online share.
* ``"tier3"``, tier 2 and every trait distribution in full: shape,
  location, scale and both bounds, plus the remaining settings.

Every range stays inside its trait's domain: a probability's bounds inside
[0, 1], a rate or a price above 0, a mean count (lines, units) at least 1.
A space fixes each searched trait's family (given in :data:`TRAIT_FAMILIES`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from optuna.distributions import BaseDistribution, FloatDistribution

from ._traits import FAMILIES

__all__ = [
    "SEARCH_SPACES",
    "TRAIT_FAMILIES",
    "decode_params",
    "encode_params",
    "resolve_search_space",
]


def _f(low: float, high: float, log: bool = False) -> FloatDistribution:
    return FloatDistribution(low, high, log=log)


#: The family of each searched trait, and the range of each of its numbers.
_TRAITS: dict[str, tuple[str, dict[str, FloatDistribution]]] = {
    "visit_rate": ("lognormal", {"mu": _f(math.log(0.2), math.log(4.0)), "sigma": _f(0.05, 1.5),
                                 "lo": _f(0.01, 0.3), "hi": _f(2.0, 15.0)}),
    "basket_size": ("lognormal", {"mu": _f(math.log(2.0), math.log(30.0)), "sigma": _f(0.05, 1.5),
                                  "lo": _f(1.0, 3.0), "hi": _f(15.0, 150.0)}),
    "quantity": ("lognormal", {"mu": _f(0.0, math.log(2.5)), "sigma": _f(0.01, 1.0),
                               "lo": _f(1.0, 1.2), "hi": _f(1.5, 6.0)}),
    "base_price": ("lognormal", {"mu": _f(math.log(0.8), math.log(8.0)), "sigma": _f(0.1, 1.2),
                                 "lo": _f(0.1, 1.0), "hi": _f(10.0, 100.0)}),
    "price_sensitivity": ("lognormal", {"mu": _f(-1.0, 1.5), "sigma": _f(0.05, 1.0),
                                        "lo": _f(0.05, 0.5), "hi": _f(2.0, 8.0)}),
    "promo_responsiveness": ("beta", {"a": _f(0.5, 8.0), "b": _f(0.5, 8.0),
                                      "lo": _f(0.0, 1.0), "hi": _f(1.2, 4.0)}),
    "display_sensitivity": ("beta", {"a": _f(0.5, 8.0), "b": _f(0.5, 8.0),
                                     "lo": _f(0.0, 0.5), "hi": _f(0.6, 3.0)}),
    "mailer_sensitivity": ("beta", {"a": _f(0.5, 8.0), "b": _f(0.5, 8.0),
                                    "lo": _f(0.0, 0.5), "hi": _f(0.6, 3.0)}),
    "coupon_usage": ("beta", {"a": _f(0.3, 8.0), "b": _f(0.3, 8.0),
                              "lo": _f(0.0, 0.3), "hi": _f(0.5, 1.0)}),
    "store_loyalty": ("beta", {"a": _f(0.3, 12.0), "b": _f(0.3, 12.0),
                               "lo": _f(0.0, 0.6), "hi": _f(0.8, 1.0)}),
    "online_share": ("beta", {"a": _f(0.1, 3.0), "b": _f(1.0, 40.0),
                              "lo": _f(0.0, 0.05), "hi": _f(0.05, 1.0)}),
    "tpr_depth": ("beta", {"a": _f(0.5, 8.0), "b": _f(0.5, 8.0),
                           "lo": _f(0.01, 0.2), "hi": _f(0.3, 0.95)}),
    "media_responsiveness": ("lognormal", {"mu": _f(math.log(0.01), math.log(0.5)),
                                           "sigma": _f(0.05, 1.0),
                                           "lo": _f(0.0, 0.05), "hi": _f(0.3, 2.0)}),
}

#: The family each search space gives a trait it searches.
TRAIT_FAMILIES = {name: family for name, (family, _) in _TRAITS.items()}

_SCALARS: dict[str, FloatDistribution] = {
    "price_volatility": _f(0.0, 0.2),
    "promo_frequency": _f(0.01, 0.7),
    "display_share": _f(0.0, 1.0),
    "mailer_share": _f(0.0, 1.0),
    "promo_visit_effect": _f(0.0, 1.0),
    "promo_quantity_lift": _f(0.0, 3.0),
    "seasonality": _f(0.0, 0.3),
}


def _trait_numbers(trait: str, numbers) -> dict[str, BaseDistribution]:
    return {f"{trait}__{n}": _TRAITS[trait][1][n] for n in numbers}


def _tier1() -> dict[str, BaseDistribution]:
    space = {}
    for trait in ("visit_rate", "basket_size", "quantity", "base_price"):
        space.update(_trait_numbers(trait, ("mu", "sigma")))
    space["price_volatility"] = _SCALARS["price_volatility"]
    return space


def _tier2() -> dict[str, BaseDistribution]:
    space = _tier1()
    for name in ("promo_frequency", "display_share", "mailer_share", "promo_quantity_lift"):
        space[name] = _SCALARS[name]
    for trait in ("tpr_depth", "promo_responsiveness", "display_sensitivity",
                  "mailer_sensitivity", "store_loyalty", "online_share", "coupon_usage"):
        space.update(_trait_numbers(trait, FAMILIES[_TRAITS[trait][0]]))
    return space


def _tier3() -> dict[str, BaseDistribution]:
    space = dict(_SCALARS)
    for trait, (family, _) in _TRAITS.items():
        space.update(_trait_numbers(trait, (*FAMILIES[family], "lo", "hi")))
    return space


#: The named search spaces.
SEARCH_SPACES = {"tier1": _tier1, "tier2": _tier2, "tier3": _tier3}


def resolve_search_space(search_space, estimator) -> dict[str, BaseDistribution]:
    """The search space as Optuna distributions, checked against the estimator.

    Parameters
    ----------
    search_space : str or mapping of str to optuna distribution
        A name in :data:`SEARCH_SPACES`, or a space of one's own.
    estimator : RetailSimulator

    Returns
    -------
    space : dict of str to BaseDistribution

    Raises
    ------
    ValueError
        For an unknown space name, a name that is no parameter of the
        estimator, or a number its trait's family does not have.
    TypeError
        For a value that is not an Optuna distribution.
    """
    if isinstance(search_space, str):
        if search_space not in SEARCH_SPACES:
            raise ValueError(
                f"Unknown search_space {search_space!r}; expected one of {sorted(SEARCH_SPACES)} "
                "or a dict of optuna distributions."
            )
        space = SEARCH_SPACES[search_space]()
    elif isinstance(search_space, Mapping):
        if not search_space:
            raise ValueError("search_space is an empty dict: nothing to search.")
        space = dict(search_space)
        for name, dist in space.items():
            if not isinstance(dist, BaseDistribution):
                raise TypeError(
                    f"search_space[{name!r}] must be an optuna distribution "
                    f"(e.g. optuna.distributions.FloatDistribution), got {dist!r}."
                )
    else:
        raise TypeError(
            f"search_space must be a name in {sorted(SEARCH_SPACES)} or a dict of optuna "
            f"distributions, got {type(search_space).__name__}."
        )
    params = estimator.get_params(deep=False)
    for name in space:
        trait, _, number = name.partition("__")
        if trait not in params:
            raise ValueError(
                f"search_space names {name!r}, but {type(estimator).__name__} has no "
                f"parameter {trait!r}."
            )
        if number:
            family = _family(trait, params[trait], search_space)
            if number not in (*FAMILIES.get(family, ()), "lo", "hi"):
                raise ValueError(
                    f"search_space names {name!r}, but a {family} trait has the numbers "
                    f"{[*FAMILIES.get(family, ()), 'lo', 'hi']}."
                )
        elif isinstance(params[trait], tuple | list | str) or params[trait] is None:
            raise ValueError(
                f"search_space names {name!r}, which is not a number; search a trait's numbers "
                f"as '{name}__<number>'."
            )
    return space


def _family(trait, value, search_space) -> str:
    # Named spaces set the family; one's own space keeps the estimator's.
    if isinstance(search_space, str) and trait in TRAIT_FAMILIES:
        return TRAIT_FAMILIES[trait]
    if not isinstance(value, tuple | list) or not value or not isinstance(value[0], str):
        raise ValueError(f"{trait} is not a trait distribution tuple, got {value!r}.")
    return value[0]


def decode_params(values: Mapping[str, float], estimator, search_space) -> dict:
    """Simulator parameters from a trial's numbers.

    Numbers of a trait are written into its tuple; those not searched keep
    the estimator's value (when its family is the space's) or the middle of
    the space's range (when not). A lower bound drawn above the upper one is
    lowered to it.

    Parameters
    ----------
    values : mapping of str to float
        A trial's numbers, by search-space name.
    estimator : RetailSimulator
    search_space : str or mapping
        As given to :func:`resolve_search_space`.

    Returns
    -------
    params : dict
        For ``estimator.set_params``.
    """
    params = estimator.get_params(deep=False)
    out: dict = {}
    traits: dict[str, dict[str, float]] = {}
    for name, value in values.items():
        trait, _, number = name.partition("__")
        if number:
            traits.setdefault(trait, {})[number] = float(value)
        else:
            out[name] = float(value)
    for trait, numbers in traits.items():
        current = params[trait]
        family = _family(trait, current, search_space)
        names = (*FAMILIES[family], "lo", "hi")
        if isinstance(current, tuple | list) and current and current[0] == family:
            base = dict(zip(names, current[1:], strict=True))
        else:
            base = {n: _middle(_TRAITS[trait][1][n]) for n in names}
        base.update(numbers)
        base["lo"] = min(base["lo"], base["hi"])
        out[trait] = (family, *(float(base[n]) for n in names))
    return out


def _middle(dist: FloatDistribution) -> float:
    return (dist.low + dist.high) / 2


def encode_params(estimator, space: Mapping[str, BaseDistribution], search_space) -> dict:
    """The estimator's own numbers as a trial of the space (clipped into its ranges).

    Numbers of a trait whose family is not the space's are left out (the
    sampler draws them).

    Returns
    -------
    values : dict of str to float
    """
    params = estimator.get_params(deep=False)
    values = {}
    for name, dist in space.items():
        trait, _, number = name.partition("__")
        current = params[trait]
        if number:
            family = _family(trait, current, search_space)
            if not (isinstance(current, tuple | list) and current and current[0] == family):
                continue
            names = (*FAMILIES[family], "lo", "hi")
            value = dict(zip(names, current[1:], strict=False)).get(number)
        else:
            value = current
        if isinstance(dist, FloatDistribution) and value is not None:
            values[name] = float(min(max(float(value), dist.low), dist.high))
    return values
