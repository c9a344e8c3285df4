"""Off-policy evaluation: a policy's value from logs of another, before it meets users.

One concept a module: the log as the estimators read it (:mod:`._log`),
what every estimator shares and the unsupported-action warning
(:mod:`._base`), the result with its interval (:mod:`._result`), the
estimators: inverse propensity weighting (:mod:`._ipw`), the direct method
and its reward models (:mod:`._direct`), the doubly robust ones
(:mod:`._doubly_robust`) and the embedding-based one (:mod:`._marginal`);
their measurement against a simulated company's truth (:mod:`._evaluate`)
and the plot of several policies' values (:mod:`._plot`).
"""

from ._base import UnsupportedActionWarning
from ._direct import DMEstimator
from ._doubly_robust import DREstimator, SwitchDREstimator
from ._evaluate import evaluate_estimators
from ._ipw import IPWEstimator, SNIPWEstimator
from ._log import BanditLog
from ._marginal import MIPSEstimator
from ._plot import plot_policy_values
from ._result import PolicyValue

__all__ = [
    "BanditLog",
    "DMEstimator",
    "DREstimator",
    "IPWEstimator",
    "MIPSEstimator",
    "PolicyValue",
    "SNIPWEstimator",
    "SwitchDREstimator",
    "UnsupportedActionWarning",
    "evaluate_estimators",
    "plot_policy_values",
]
