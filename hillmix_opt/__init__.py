"""hillmix_opt: decisions on top of fitted models and simulators.

May import :mod:`hillmix` and :mod:`hillmix_sim`. One family a folder:
budget allocation (:mod:`hillmix_opt.allocation`), targeting strategies
(:mod:`hillmix_opt.targeting`), reward models of targeting logs
(:mod:`hillmix_opt.rewards`) and action-bank generation
(:mod:`hillmix_opt.banks`); every public name is re-exported here.
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
    "BayesianNeuralRewardModel",
    "BootstrapEnsembleStrategy",
    "BudgetAllocator",
    "CandidateGenerator",
    "DisjointLinUCBStrategy",
    "FTTransformerRewardModel",
    "GaussianProcessRewardModel",
    "HillCurveModel",
    "LightGBMRewardModel",
    "LinUCBStrategy",
    "LogisticRewardModel",
    "ModelWeight",
    "NeuralRewardModel",
    "RandomStrategy",
    "ResponseModel",
    "ZeroWeightWarning",
    "bank_value",
    "compare_reward_models",
    "greedy_bank",
    "make_reward_model",
    "make_strategy",
    "reward_model_scores",
    "reward_table",
]
