"""Budget allocation over one or several fitted response models.

One concept a module: the estimator (:mod:`._allocator`), the compiled
objective and its search (:mod:`._engine`, :mod:`._solver`), the utilities
over the posterior (:mod:`._utility`), the models and their weights
(:mod:`._models`), the response protocol models offer (:mod:`._protocol`),
the result (:mod:`._result`) and fixed Hill curves as a model
(:mod:`._curves`).
"""

from ._allocator import BudgetAllocator
from ._curves import HillCurveModel
from ._models import ModelWeight, ZeroWeightWarning
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
