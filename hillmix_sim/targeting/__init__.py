"""A personalised-targeting company with a known truth: users, actions, preferences.

One concept a module: the users (:mod:`._users`), their true preferences
(:mod:`._preferences`), the action bank (:mod:`._action_bank`), the
generators of action texts (:mod:`._templates`, :mod:`._llm`) and their
checks (:mod:`._texts`), the embedders (:mod:`._embedding`) and the OpenAI
client they share (:mod:`._openai`), the company's loop
(:mod:`._company`), what it asks of its components (:mod:`._protocols`)
and what a run leaves (:mod:`._results`).
"""

from ._action_bank import ActionBank, make_action_bank
from ._company import CompanySimulator
from ._embedding import (
    ActionEmbedder,
    HashingEmbedder,
    OpenAIEmbedder,
    SentenceTransformerEmbedder,
)
from ._llm import LLMActionGenerator
from ._openai import FallbackWarning, OpenAIUnavailableError
from ._preferences import (
    GMMPreference,
    LinearPreference,
    MixtureOfExpertsPreference,
    make_ground_truth,
)
from ._protocols import ActionBankAlgorithm, Embedder, TargetingStrategy, TextGenerator
from ._results import SimulationData, SimulationResults
from ._templates import TemplateActionGenerator
from ._users import USER_FEATURES, USER_SCORE_COLUMNS, UserGenerator, user_matrix

__all__ = [
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
    "MixtureOfExpertsPreference",
    "OpenAIEmbedder",
    "OpenAIUnavailableError",
    "SentenceTransformerEmbedder",
    "SimulationData",
    "SimulationResults",
    "TargetingStrategy",
    "TemplateActionGenerator",
    "TextGenerator",
    "UserGenerator",
    "make_action_bank",
    "make_ground_truth",
    "user_matrix",
]
