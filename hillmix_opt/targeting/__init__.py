"""Targeting strategies: contextual bandits that decide for whole batches of users.

One concept a module: what every strategy shares (:mod:`._base`), the
decision rules and their propensities (:mod:`._policies`), the ridge model
over users crossed with actions (:mod:`._crossed`), the strategies
(:mod:`._linucb`, :mod:`._disjoint`, :mod:`._ensemble`, :mod:`._random`) and
the strategies by name (:mod:`._factory`).
"""

from ._disjoint import DisjointLinUCBStrategy
from ._ensemble import BootstrapEnsembleStrategy
from ._factory import STRATEGIES, make_strategy
from ._linucb import LinUCBStrategy
from ._random import RandomStrategy

__all__ = [
    "STRATEGIES",
    "BootstrapEnsembleStrategy",
    "DisjointLinUCBStrategy",
    "LinUCBStrategy",
    "RandomStrategy",
    "make_strategy",
]
