"""FTTransformerRewardModel: user features as tokens through a transformer, fused with actions."""

from __future__ import annotations

from sklearn.utils._param_validation import StrOptions

from ._neural import NeuralRewardModel

__all__ = ["FTTransformerRewardModel"]


class FTTransformerRewardModel(NeuralRewardModel):
    """The FT-Transformer (Gorishniy et al. 2021) over user features, fused with the action.

    Each user feature becomes a token, a [CLS] token is prepended, and a
    pre-norm transformer encoder (torch's ``TransformerEncoder``) mixes
    them; the action's projected embedding goes through a small perceptron.
    ``fusion_type`` joins the two: ``"concat"`` feeds the [CLS] output and
    the action encoding to a perceptron head; ``"attention"`` lets the
    action attend to the user's tokens first. :meth:`predict_matrix` encodes
    each user and each action once and runs only the head on the pairs, in
    chunks of bounded size.

    Torch is optional: install ``hillmix[torch]``. The network's parameters
    are routed by double underscores: ``module__d_token`` (default 32),
    ``module__n_blocks`` (2), ``module__n_heads`` (4), ``module__dropout``
    (0.1), ``module__head_units`` (64); the optimizer's likewise.

    Parameters
    ----------
    fusion_type : {"concat", "attention"}, default="concat"
        How the action meets the user's encoding.
    lr, optimizer, batch_size, max_epochs, patience, validation_fraction, pca_components,
    action_features, device, random_state, progress, **kwargs
        As in :class:`NeuralRewardModel`.

    Attributes
    ----------
    module_, history_, n_epochs_, classes_, n_features_in_, feature_names_in_
        As in :class:`NeuralRewardModel`; ``module_`` is an ``FTTransformerNet``.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import FTTransformerRewardModel
    >>> rng = np.random.default_rng(0)
    >>> users, actions = rng.normal(size=(600, 3)), rng.normal(size=(10, 4))
    >>> a = rng.integers(10, size=600)
    >>> p = 1 / (1 + np.exp(-(2 * users[:, 0] * actions[a, 0] - 1)))
    >>> X, y = np.hstack([users, actions[a]]), (rng.random(600) < p).astype(int)
    >>> model = FTTransformerRewardModel(fusion_type="attention", max_epochs=2,
    ...                                  action_features=4, random_state=0).fit(X, y)
    >>> model.predict_matrix(users[:3], actions).shape
    (3, 10)
    """

    _parameter_constraints: dict = {
        **NeuralRewardModel._parameter_constraints,
        "fusion_type": [StrOptions({"concat", "attention"})],
    }
    _module_defaults = {
        "d_token": 32,
        "n_blocks": 2,
        "n_heads": 4,
        "dropout": 0.1,
        "head_units": 64,
    }

    def __init__(
        self,
        *,
        fusion_type: str = "concat",
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
        super().__init__(
            lr=lr,
            optimizer=optimizer,
            batch_size=batch_size,
            max_epochs=max_epochs,
            patience=patience,
            validation_fraction=validation_fraction,
            pca_components=pca_components,
            action_features=action_features,
            device=device,
            random_state=random_state,
            progress=progress,
            **kwargs,
        )
        self.fusion_type = fusion_type

    def _build_module(self, torch, n_user_features, n_action_features, **params):
        from ._networks import FTTransformerNet

        return FTTransformerNet(
            n_user_features, n_action_features, fusion_type=self.fusion_type, **params
        )
