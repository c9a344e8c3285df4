"""NeuralRewardModel: a two-tower network, user and action, whose dot product is the interaction."""

from __future__ import annotations

from ._torch import _TorchRewardModel

__all__ = ["NeuralRewardModel"]


class NeuralRewardModel(_TorchRewardModel):
    """A user tower and an action tower; their dot product models the user x action interaction.

    ``logit P(click | u, a) = f(u) . g(a) + b(u) + c(a) + bias``, with ``f``
    and ``g`` perceptrons over the standardised user features and the
    action's projected embedding. The towers learn any user-side and
    action-side nonlinearity, and every user still gets their own best
    action; :meth:`predict_matrix` is a matrix product of the towers'
    outputs.

    Torch is optional: install ``hillmix[torch]``. As in skorch, the network
    is built in ``fit`` and its constructor's parameters are routed by
    double underscores: ``module__hidden_units`` (default ``(64, 64)``),
    ``module__interaction_dim`` (16), ``module__dropout`` (0.2); the
    optimizer's likewise (``optimizer__weight_decay``, default 1e-4).

    Parameters
    ----------
    lr : float, default=1e-3
        Learning rate.
    optimizer : {"adamw", "adam", "sgd"}, default="adamw"
    batch_size : int, default=512
    max_epochs : int, default=50
    patience : int or None, default=5
        Epochs without improvement of the held-out log loss before
        stopping; the best epoch's weights are kept. None trains every
        epoch on every row.
    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping.
    pca_components : int or None, default=8
        Principal directions of the actions' embeddings kept.
    action_features : "auto", int or list of str, default="auto"
        Which columns of ``X`` are the action's embedding (see
        :class:`LogisticRewardModel`).
    device : str, default="cpu"
        Torch device to train on ("cuda" for a GPU); the fitted network
        predicts on the CPU.
    random_state : int, numpy.random.Generator or None, default=None
        Seeds the initial weights, the held-out split, the batches and the
        dropout; the same int gives the same predictions. Torch's global
        generator is left as it was.
    progress : bool, default=False
        A progress bar over epochs.
    **kwargs
        ``module__*`` and ``optimizer__*`` parameters.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (a ``TwoTowerNet``), on the CPU.
    history_ : list of float
        Held-out log loss after each epoch.
    n_epochs_ : int
    classes_, n_features_in_, feature_names_in_, n_user_features_, n_action_features_
        As in :class:`LogisticRewardModel`.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import NeuralRewardModel
    >>> rng = np.random.default_rng(0)
    >>> users, actions = rng.normal(size=(1000, 3)), rng.normal(size=(20, 4))
    >>> a = rng.integers(20, size=1000)
    >>> p = 1 / (1 + np.exp(-(2 * users[:, 0] * actions[a, 0] - 1)))
    >>> X, y = np.hstack([users, actions[a]]), (rng.random(1000) < p).astype(int)
    >>> model = NeuralRewardModel(max_epochs=5, action_features=4, random_state=0,
    ...                           module__hidden_units=(16,))
    >>> model.fit(X, y).predict_matrix(users[:3], actions).shape
    (3, 20)
    """

    _module_defaults = {
        "hidden_units": (64, 64),
        "action_hidden_units": (),
        "interaction_dim": 16,
        "dropout": 0.2,
        "input_dropout": 0.0,
        "action_input_dropout": 0.0,
    }

    def __init__(
        self,
        *,
        lr: float = 1e-3,
        optimizer: str = "adamw",
        batch_size: int = 512,
        max_epochs: int = 50,
        patience: int | None = 5,
        validation_fraction: float = 0.1,
        pca_components: int | None = 8,
        action_features="auto",
        device: str = "cpu",
        random_state=None,
        progress: bool = False,
        **kwargs,
    ):
        self.lr = lr
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.pca_components = pca_components
        self.action_features = action_features
        self.device = device
        self.random_state = random_state
        self.progress = progress
        self._store_routed(kwargs)

    def _build_module(self, torch, n_user_features, n_action_features, **params):
        from ._networks import TwoTowerNet

        return TwoTowerNet(n_user_features, n_action_features, **params)

    def _matrix_logits(self, U, A):
        torch = self._torch()
        with torch.no_grad():
            out = self.module_.matrix(torch.as_tensor(U), torch.as_tensor(A))
        return out.numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
