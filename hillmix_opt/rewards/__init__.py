"""Reward models: P(click | user, action), for actions never sent as well as those that were."""

from ._base import BaseRewardModel
from ._bayesian_neural import BayesianNeuralRewardModel
from ._lightgbm import LightGBMRewardModel
from ._logistic import LogisticRewardModel
from ._neural import NeuralRewardModel
from ._table import EMBEDDING_PREFIX, reward_table

__all__ = [
    "EMBEDDING_PREFIX",
    "BayesianNeuralRewardModel",
    "LightGBMRewardModel",
    "LogisticRewardModel",
    "NeuralRewardModel",
    "reward_table",
]
