"""hillmix_opt: decisions on top of fitted models and simulators.

May import :mod:`hillmix` and :mod:`hillmix_sim`. One family a folder:
budget allocation (:mod:`hillmix_opt.allocation`), targeting strategies
(:mod:`hillmix_opt.targeting`), reward models of targeting logs
(:mod:`hillmix_opt.rewards`), action-bank generation
(:mod:`hillmix_opt.banks`) and off-policy evaluation of policies from
logs (:mod:`hillmix_opt.evaluation`); every public name is re-exported
here.
"""

from .allocation import (
    AllocationResult,
    BudgetAllocator,
    HillCurveModel,
    ModelWeight,
    ResponseModel,
    ZeroWeightWarning,
)
from .banks import ActionBankOptimizer, CandidateGenerator, bank_value, greedy_bank
from .evaluation import (
    BanditLog,
    DMEstimator,
    DREstimator,
    IPWEstimator,
    MIPSEstimator,
    PolicyValue,
    SNIPWEstimator,
    SwitchDREstimator,
    UnsupportedActionWarning,
    evaluate_estimators,
    plot_policy_values,
)
from .rewards import (
    EMBEDDING_PREFIX,
    REWARD_MODELS,
    BayesianNeuralRewardModel,
    FTTransformerRewardModel,
    GaussianProcessRewardModel,
    LightGBMRewardModel,
    LogisticRewardModel,
    NeuralRewardModel,
    compare_reward_models,
    make_reward_model,
    reward_model_scores,
    reward_table,
)
from .targeting import (
    STRATEGIES,
    BootstrapEnsembleStrategy,
    DisjointLinUCBStrategy,
    LinUCBStrategy,
    RandomStrategy,
    make_strategy,
)

__all__ = [
    "EMBEDDING_PREFIX",
    "REWARD_MODELS",
    "STRATEGIES",
    "ActionBankOptimizer",
    "AllocationResult",
    "BanditLog",
    "BayesianNeuralRewardModel",
    "BootstrapEnsembleStrategy",
    "BudgetAllocator",
    "CandidateGenerator",
    "DMEstimator",
    "DREstimator",
    "DisjointLinUCBStrategy",
    "FTTransformerRewardModel",
    "GaussianProcessRewardModel",
    "HillCurveModel",
    "IPWEstimator",
    "LightGBMRewardModel",
    "LinUCBStrategy",
    "LogisticRewardModel",
    "MIPSEstimator",
    "ModelWeight",
    "NeuralRewardModel",
    "PolicyValue",
    "RandomStrategy",
    "ResponseModel",
    "SNIPWEstimator",
    "SwitchDREstimator",
    "UnsupportedActionWarning",
    "ZeroWeightWarning",
    "bank_value",
    "compare_reward_models",
    "evaluate_estimators",
    "greedy_bank",
    "make_reward_model",
    "make_strategy",
    "plot_policy_values",
    "reward_model_scores",
    "reward_table",
]
