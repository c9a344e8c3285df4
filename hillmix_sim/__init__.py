"""hillmix_sim: generators and simulators with a known truth.

May import :mod:`hillmix`; never imports :mod:`hillmix_opt`. One family a
folder: media-mix data (:mod:`._mmm_data`), the retailer
(:mod:`hillmix_sim.retail`) and the targeting company
(:mod:`hillmix_sim.targeting`); every public name is re-exported here.
"""

from ._mmm_data import MMMDataGenerator, make_mmm_data
from .retail import (
    SEARCH_SPACES,
    TRANSACTION_COLUMNS,
    RetailData,
    RetailSimulator,
    SimulatorCalibrator,
    make_retail_data,
    plot_calibration,
    simulate_transactions,
)
from .targeting import (
    USER_FEATURES,
    USER_SCORE_COLUMNS,
    ActionBank,
    ActionBankAlgorithm,
    ActionEmbedder,
    CompanySimulator,
    Embedder,
    FallbackWarning,
    GMMPreference,
    HashingEmbedder,
    LinearPreference,
    LLMActionGenerator,
    MixtureOfExpertsPreference,
    OpenAIEmbedder,
    OpenAIUnavailableError,
    SentenceTransformerEmbedder,
    SimulationData,
    SimulationResults,
    TargetingStrategy,
    TemplateActionGenerator,
    TextGenerator,
    UserGenerator,
    make_action_bank,
    make_ground_truth,
    user_matrix,
)

__all__ = [
    "SEARCH_SPACES",
    "TRANSACTION_COLUMNS",
    "USER_FEATURES",
    "USER_SCORE_COLUMNS",
    "ActionBank",
    "ActionBankAlgorithm",
    "ActionEmbedder",
    "CompanySimulator",
    "Embedder",
    "FallbackWarning",
    "GMMPreference",
    "HashingEmbedder",
    "LLMActionGenerator",
    "LinearPreference",
    "MMMDataGenerator",
    "MixtureOfExpertsPreference",
    "OpenAIEmbedder",
    "OpenAIUnavailableError",
    "RetailData",
    "RetailSimulator",
    "SentenceTransformerEmbedder",
    "SimulationData",
    "SimulationResults",
    "SimulatorCalibrator",
    "TargetingStrategy",
    "TemplateActionGenerator",
    "TextGenerator",
    "UserGenerator",
    "make_action_bank",
    "make_ground_truth",
    "make_mmm_data",
    "make_retail_data",
    "plot_calibration",
    "simulate_transactions",
    "user_matrix",
]
