"""hillmix_opt: decisions on top of fitted models and simulators.

May import :mod:`hillmix` and :mod:`hillmix_sim`.
"""

from ._allocator import BudgetAllocator
from ._curves import HillCurveModel
from ._exceptions import ZeroWeightWarning
from ._models import ModelWeight
from ._protocol import ResponseModel
from ._result import AllocationResult

__all__ = [
    "AllocationResult",
    "BudgetAllocator",
    "HillCurveModel",
    "ModelWeight",
    "ResponseModel",
    "ZeroWeightWarning",
]
