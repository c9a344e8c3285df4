"""Reward models: P(click | user, action), for actions never sent as well as those that were.

One concept a module: the training table (:mod:`._table`), what every model
shares (:mod:`._base`), the models (:mod:`._logistic`, :mod:`._lightgbm`,
:mod:`._neural`, :mod:`._bayesian_neural`, :mod:`._gaussian_process`,
:mod:`._ft_transformer`), the torch models' common pattern
(:mod:`._torch`) and networks (:mod:`._networks`, :mod:`._sparse_gp`),
models by name (:mod:`._factory`) and their comparison against a
simulated truth (:mod:`._compare`).
"""

from ._bayesian_neural import BayesianNeuralRewardModel
from ._compare import compare_reward_models, reward_model_scores
from ._factory import REWARD_MODELS, make_reward_model
from ._ft_transformer import FTTransformerRewardModel
from ._gaussian_process import GaussianProcessRewardModel
from ._lightgbm import LightGBMRewardModel
from ._logistic import LogisticRewardModel
from ._neural import NeuralRewardModel
from ._table import EMBEDDING_PREFIX, reward_table

__all__ = [
    "EMBEDDING_PREFIX",
    "REWARD_MODELS",
    "BayesianNeuralRewardModel",
    "FTTransformerRewardModel",
    "GaussianProcessRewardModel",
    "LightGBMRewardModel",
    "LogisticRewardModel",
    "NeuralRewardModel",
    "compare_reward_models",
    "make_reward_model",
    "reward_model_scores",
    "reward_table",
]
