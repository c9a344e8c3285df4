"""hillmix_sim: generators and simulators with a known truth.

May import :mod:`hillmix`; never imports :mod:`hillmix_opt`.
"""

from ._actions import ActionBank, LLMActionGenerator, TemplateActionGenerator, make_action_bank
from ._company import (
    USER_SCORE_COLUMNS,
    ActionBankAlgorithm,
    CompanySimulator,
    SimulationData,
    SimulationResults,
)
from ._embedding import ActionEmbedder, HashingEmbedder, SentenceTransformerEmbedder
from ._exceptions import FallbackWarning, OpenAIUnavailableError
from ._mmm_data import MMMDataGenerator, make_mmm_data
from ._preferences import (
    GMMPreference,
    LinearPreference,
    MixtureOfExpertsPreference,
    make_ground_truth,
)
from ._retail import TRANSACTION_COLUMNS, RetailData, RetailSimulator, make_retail_data
from ._users import USER_FEATURES, UserGenerator, user_matrix

__all__ = [
    "TRANSACTION_COLUMNS",
    "USER_FEATURES",
    "USER_SCORE_COLUMNS",
    "ActionBank",
    "ActionBankAlgorithm",
    "ActionEmbedder",
    "CompanySimulator",
    "FallbackWarning",
    "GMMPreference",
    "HashingEmbedder",
    "LLMActionGenerator",
    "LinearPreference",
    "MMMDataGenerator",
    "MixtureOfExpertsPreference",
    "OpenAIUnavailableError",
    "RetailData",
    "RetailSimulator",
    "SentenceTransformerEmbedder",
    "SimulationData",
    "SimulationResults",
    "TemplateActionGenerator",
    "UserGenerator",
    "make_action_bank",
    "make_ground_truth",
    "make_mmm_data",
    "make_retail_data",
    "user_matrix",
]
