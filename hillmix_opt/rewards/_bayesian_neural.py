"""BayesianNeuralRewardModel: the two-tower network with Monte Carlo dropout for uncertainty."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval

from ._base import _sigmoid
from ._neural import NeuralRewardModel

__all__ = ["BayesianNeuralRewardModel"]

# Users per chunk of the interval computation: every draw of a chunk is held.
_INTERVAL_PAIRS = 2**20


class BayesianNeuralRewardModel(NeuralRewardModel):
    """Two towers trained with dropout, predicting with Monte Carlo dropout (Gal, Ghahramani 2016).

    The network of :class:`NeuralRewardModel`, trained with dropout
    (``module__dropout``, default 0.2). A prediction averages
    ``n_mc_samples`` sampled networks, each with its own dropout masks; the
    spread of their click probabilities is the predictive standard
    deviation, and their quantiles give intervals for the true P(click).
    Each sampled network is one set of masks shared by every user and action
    (drawn from the fitted seed), so a prediction does not depend on the
    other rows it is made with, and every one is a matrix product.

    Parameters
    ----------
    n_mc_samples : int, default=30
        Sampled networks per prediction.
    lr, optimizer, batch_size, max_epochs, patience, validation_fraction, pca_components,
    action_features, device, random_state, progress, **kwargs
        As in :class:`NeuralRewardModel`.

    Attributes
    ----------
    module_, history_, n_epochs_, classes_, n_features_in_, feature_names_in_
        As in :class:`NeuralRewardModel`.

    Examples
    --------
    >>> import numpy as np
    >>> from hillmix_opt import BayesianNeuralRewardModel
    >>> rng = np.random.default_rng(0)
    >>> users, actions = rng.normal(size=(1000, 3)), rng.normal(size=(20, 4))
    >>> a = rng.integers(20, size=1000)
    >>> p = 1 / (1 + np.exp(-(2 * users[:, 0] * actions[a, 0] - 1)))
    >>> X, y = np.hstack([users, actions[a]]), (rng.random(1000) < p).astype(int)
    >>> model = BayesianNeuralRewardModel(n_mc_samples=10, max_epochs=5, action_features=4,
    ...                                   random_state=0).fit(X, y)
    >>> mean, std = model.predict_matrix(users[:3], actions, return_std=True)
    >>> mean.shape, bool((std > 0).all())
    ((3, 20), True)
    """

    _parameter_constraints: dict = {
        **NeuralRewardModel._parameter_constraints,
        "n_mc_samples": [Interval(numbers.Integral, 2, None, closed="left")],
    }
    _has_uncertainty = True

    def __init__(
        self,
        *,
        n_mc_samples: int = 30,
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
        self.n_mc_samples = n_mc_samples

    def _masks(self, torch):
        """The sampled networks' dropout masks: a function of the fitted seed alone."""
        generator = torch.Generator().manual_seed(int(self.seed_) + 1)
        return [self.module_.draw_masks(generator) for _ in range(self.n_mc_samples)]

    def _draws(self, method, U, A):
        """Each sampled network's click probabilities (a generator of arrays)."""
        torch = self._torch()
        Ut, At = torch.as_tensor(U), torch.as_tensor(A)
        with torch.no_grad():
            for masks in self._masks(torch):
                yield _sigmoid(getattr(self.module_, method)(Ut, At, masks).numpy())

    def _mean_std(self, method, U, A):
        total = square = None
        for p in self._draws(method, U, A):
            total = p.copy() if total is None else total + p
            square = p * p if square is None else square + p * p
        n = self.n_mc_samples
        mean = total / n
        var = np.maximum(square / n - mean * mean, 0.0) * n / (n - 1)
        return mean, np.sqrt(var)

    def _row_logits(self, U, A):
        return _logit(self._mean_std("forward", U, A)[0])

    def _matrix_logits(self, U, A):
        return _logit(self._matrix_mean_std(U, A)[0])

    def _matrix_mean_std(self, U, A):
        return self._mean_std("matrix", U, A)

    def _matrix_interval(self, U, A, coverage):
        tail = (1.0 - coverage) / 2.0
        lower, upper = np.empty((len(U), len(A))), np.empty((len(U), len(A)))
        step = max(1, _INTERVAL_PAIRS // (len(A) * self.n_mc_samples))
        for start in range(0, len(U), step):
            part = slice(start, start + step)
            draws = np.stack(list(self._draws("matrix", U[part], A)))
            lower[part] = np.quantile(draws, tail, axis=0)
            upper[part] = np.quantile(draws, 1.0 - tail, axis=0)
        return lower, upper


def _logit(p):
    """The log-odds of the mean probability (``predict_proba`` gives the mean back)."""
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)
