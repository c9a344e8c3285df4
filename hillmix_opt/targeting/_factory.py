"""Strategies by name, as the command line and configuration files give them."""

from __future__ import annotations

from hillmix.utils import estimator_from_name

from ._disjoint import DisjointLinUCBStrategy
from ._ensemble import BootstrapEnsembleStrategy
from ._linucb import LinUCBStrategy
from ._random import RandomStrategy

__all__ = ["STRATEGIES", "make_strategy"]

#: Strategy names (the seed's ``--company_strategy`` values) and their classes.
STRATEGIES = {
    "linucb": LinUCBStrategy,
    "disjoint_linucb": DisjointLinUCBStrategy,
    "bootstrapped_dqn": BootstrapEnsembleStrategy,
    "bootstrap_ensemble": BootstrapEnsembleStrategy,
    "random": RandomStrategy,
}


def make_strategy(name: str, **params):
    """A targeting strategy by name.

    Parameters
    ----------
    name : {"linucb", "disjoint_linucb", "bootstrapped_dqn", "bootstrap_ensemble", "random"}
        ``"bootstrapped_dqn"`` is the seed's name for the bootstrapped
        ensemble; ``"disjoint_linucb"`` is LinUCB with one model per action.
    **params
        Constructor parameters of that class; parameters it does not have
        are an error, not silently dropped.

    Returns
    -------
    strategy : estimator
        Unfitted.

    Examples
    --------
    >>> from hillmix_opt import make_strategy
    >>> make_strategy("linucb", alpha=0.5)
    LinUCBStrategy(alpha=0.5)
    """
    return estimator_from_name(STRATEGIES, name, "strategy", **params)
