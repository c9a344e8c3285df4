"""hillmix_opt: decisions on top of fitted models and simulators.

May import :mod:`hillmix` and :mod:`hillmix_sim`.
"""

from ._allocator import BudgetAllocator
from ._curves import HillCurveModel
from ._ensemble import BootstrapEnsembleStrategy
from ._exceptions import ZeroWeightWarning
from ._linucb import LinUCBStrategy
from ._models import ModelWeight
from ._protocol import ResponseModel
from ._random_strategy import RandomStrategy
from ._result import AllocationResult
from ._strategy_factory import STRATEGIES, make_strategy

__all__ = [
    "STRATEGIES",
    "AllocationResult",
    "BootstrapEnsembleStrategy",
    "BudgetAllocator",
    "HillCurveModel",
    "LinUCBStrategy",
    "ModelWeight",
    "RandomStrategy",
    "ResponseModel",
    "ZeroWeightWarning",
    "make_strategy",
]
