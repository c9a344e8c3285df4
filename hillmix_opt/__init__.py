"""hillmix_opt: decisions on top of fitted models and simulators.

May import :mod:`hillmix` and :mod:`hillmix_sim`. One family a folder:
budget allocation (:mod:`hillmix_opt.allocation`) and targeting strategies
(:mod:`hillmix_opt.targeting`); every public name is re-exported here.
"""

from .allocation import (
    AllocationResult,
    BudgetAllocator,
    HillCurveModel,
    ModelWeight,
    ResponseModel,
    ZeroWeightWarning,
)
from .targeting import (
    STRATEGIES,
    BootstrapEnsembleStrategy,
    LinUCBStrategy,
    RandomStrategy,
    make_strategy,
)

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
