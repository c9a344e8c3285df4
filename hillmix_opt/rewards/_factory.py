"""Reward models by name, as the command line and configuration files give them."""

from __future__ import annotations

from hillmix.utils import estimator_from_name

from ._bayesian_neural import BayesianNeuralRewardModel
from ._ft_transformer import FTTransformerRewardModel
from ._gaussian_process import GaussianProcessRewardModel
from ._lightgbm import LightGBMRewardModel
from ._logistic import LogisticRewardModel
from ._neural import NeuralRewardModel

__all__ = ["REWARD_MODELS", "make_reward_model"]

#: Reward model names (the seed's ``--reward_model_type`` values, and
#: ``"logistic"`` for the baseline) and their classes.
REWARD_MODELS = {
    "logistic": LogisticRewardModel,
    "lightgbm": LightGBMRewardModel,
    "neural": NeuralRewardModel,
    "bayesian_neural": BayesianNeuralRewardModel,
    "gaussian_process": GaussianProcessRewardModel,
    "ft_transformer": FTTransformerRewardModel,
}


def make_reward_model(name: str, **params):
    """A reward model by name.

    Parameters
    ----------
    name : {"logistic", "lightgbm", "neural", "bayesian_neural", "gaussian_process", \
"ft_transformer"}
    **params
        Constructor parameters of that class (``module__*`` ones included
        for the torch models); parameters it does not have are an error.

    Returns
    -------
    model : estimator
        Unfitted.

    Examples
    --------
    >>> from hillmix_opt import make_reward_model
    >>> make_reward_model("lightgbm", num_leaves=15)
    LightGBMRewardModel(num_leaves=15)
    """
    cls = REWARD_MODELS.get(name)
    routed = {k: v for k, v in params.items() if k.startswith(("module__", "optimizer__"))}
    if routed and cls is not None and not hasattr(cls, "_module_defaults"):
        raise ValueError(f"{cls.__name__} has no network: it takes no {sorted(routed)}.")
    plain = {k: v for k, v in params.items() if k not in routed}
    return estimator_from_name(REWARD_MODELS, name, "reward model", **plain).set_params(**routed)
